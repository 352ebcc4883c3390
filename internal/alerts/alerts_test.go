package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/alerts"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// sink records each JSON body posted to it and answers with status.
type sink struct {
	mu     sync.Mutex
	status int
	bodies []map[string]any
	srv    *httptest.Server
}

func newSink(t *testing.T, status int) *sink {
	s := &sink{status: status}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
		w.WriteHeader(s.status)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) got() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.bodies...)
}

type mailbox struct{ sent []email.Message }

func (m *mailbox) Name() string { return "test" }
func (m *mailbox) Send(_ context.Context, msg email.Message) (email.SendResult, error) {
	m.sent = append(m.sent, msg)
	return email.SendResult{ID: "m1"}, nil
}

// sends inserts n sends of a status created at.
func sends(t *testing.T, db *pgxpool.Pool, status string, n int, at time.Time) {
	t.Helper()
	_, err := db.Exec(context.Background(), `INSERT INTO email_sends (from_email, to_email, subject, status, created_at)
		SELECT 'a@x.io', 'r' || g || '@x.io', 's', $1, $3 FROM generate_series(1, $2) g`, status, n, at)
	require.NoError(t, err)
}

func rule(t *testing.T, db *pgxpool.Pool, r store.AlertRule) store.AlertRule {
	t.Helper()
	if r.CooldownMinutes == 0 {
		r.CooldownMinutes = 60
	}
	out, err := store.InsertAlertRule(context.Background(), db, r)
	require.NoError(t, err)
	return out
}

func history(t *testing.T, db *pgxpool.Pool, ruleID string) []store.AlertHistoryEntry {
	t.Helper()
	h, _, err := store.ListAlertHistory(context.Background(), db, ruleID, nil, nil, 100, 0)
	require.NoError(t, err)
	return h
}

// Platform §18 17, and each rule type's math, window and minimum volume.
func TestEachRuleTypeFiresOnItsMetric(t *testing.T) {
	t.Parallel()
	db, _ := schematest.TestDB(t)
	ctx := context.Background()
	now := time.Now()
	hook, slack := newSink(t, http.StatusOK), newSink(t, http.StatusOK)
	mail := &mailbox{}
	c := &alerts.Checker{DB: db, Mail: mail, From: "alerts@x.io", Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}

	// Last hour: 10 sends, 2 bounced, 1 complained, 5 delivered (2 of them opened since).
	sends(t, db, "bounced", 2, now.Add(-10*time.Minute))
	sends(t, db, "complained", 1, now.Add(-10*time.Minute))
	sends(t, db, "delivered", 3, now.Add(-10*time.Minute))
	sends(t, db, "opened", 2, now.Add(-10*time.Minute))
	sends(t, db, "sent", 2, now.Add(-10*time.Minute))
	sends(t, db, "bounced", 50, now.Add(-2*time.Hour)) // outside the default window
	_, err := db.Exec(ctx, `INSERT INTO journey_states (user_id, user_email, journey_id, status, created_at)
		SELECT 'u' || g, 'u@x.io', 'j', 'failed', $1 FROM generate_series(1, 5) g`, now.Add(-5*time.Minute))
	require.NoError(t, err)

	bounce := rule(t, db, store.AlertRule{Name: "Bounces", Type: alerts.BounceRate, Threshold: map[string]float64{"rate": 0.05},
		Channel: alerts.Webhook, ChannelConfig: map[string]string{"url": hook.srv.URL}})
	complaints := rule(t, db, store.AlertRule{Name: "Complaints", Type: alerts.ComplaintRate, Threshold: map[string]float64{"rate": 0.2},
		Channel: alerts.Webhook, ChannelConfig: map[string]string{"url": hook.srv.URL}}) // 0.1 is not above 0.2
	delivery := rule(t, db, store.AlertRule{Name: "Delivery", Type: alerts.DeliveryIssue, Threshold: map[string]float64{"minDeliveryRate": 0.9},
		Channel: alerts.Slack, ChannelConfig: map[string]string{"webhookUrl": slack.srv.URL, "channel": "#ops"}})
	journeys := rule(t, db, store.AlertRule{Name: "Journeys", Type: alerts.JourneyFail, Threshold: map[string]float64{"count": 5, "windowMinutes": 30},
		Channel: alerts.Email, ChannelConfig: map[string]string{"to": "ops@x.io"}})
	wide := rule(t, db, store.AlertRule{Name: "Wide", Type: alerts.BounceRate, Threshold: map[string]float64{"rate": 0.5, "windowMinutes": 180},
		Channel: alerts.Webhook, ChannelConfig: map[string]string{"url": hook.srv.URL}}) // 52/60 over three hours

	res, err := c.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, res.Evaluated)
	require.Equal(t, 4, res.Fired)

	got := hook.got()
	require.Len(t, got, 2)
	require.Contains(t, got, map[string]any{"rule": "Bounces", "type": "bounce_rate_exceeded", "bounced": float64(2), "total": float64(10),
		"rate": 0.2, "threshold": 0.05})
	require.Contains(t, got, map[string]any{"rule": "Wide", "type": "bounce_rate_exceeded", "bounced": float64(52), "total": float64(60),
		"rate": 0.8667, "threshold": 0.5})
	require.Equal(t, []map[string]any{{"text": `[Hogsend Alert] Delivery: delivery_issue triggered — {"delivered":5,"deliveryRate":0.5,"threshold":0.9,"total":10}`}},
		slack.got())
	require.Len(t, mail.sent, 1)
	require.Equal(t, []string{"ops@x.io"}, mail.sent[0].To)
	require.Equal(t, "alerts@x.io", mail.sent[0].From)
	require.Equal(t, "[Hogsend Alert] Journeys", mail.sent[0].Subject)
	require.Contains(t, mail.sent[0].HTML, "journey_failure_spike triggered")
	require.Contains(t, mail.sent[0].Text, `"failures": 5`)

	require.Empty(t, history(t, db, complaints.ID))
	for _, id := range []string{bounce.ID, delivery.ID, journeys.ID, wide.ID} {
		h := history(t, db, id)
		require.Len(t, h, 1)
		require.Equal(t, "sent", h[0].Status)
		r, err := store.AlertRuleByID(ctx, db, id)
		require.NoError(t, err)
		require.WithinDuration(t, now, *r.LastFiredAt, time.Millisecond)
	}

	// Inside the cooldown nothing fires again; after it, a rule fires anew.
	res, err = c.Check(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Fired)
	require.Len(t, hook.got(), 2)
	now = now.Add(61 * time.Minute)
	sends(t, db, "bounced", 10, now.Add(-time.Minute))
	res, err = c.Check(ctx)
	require.NoError(t, err)
	require.Len(t, history(t, db, bounce.ID), 2)
}

func TestTooFewSendsNeverFire(t *testing.T) {
	t.Parallel()
	db, _ := schematest.TestDB(t)
	hook := newSink(t, http.StatusOK)
	c := &alerts.Checker{DB: db, Logger: slog.New(slog.DiscardHandler)}
	sends(t, db, "bounced", 9, time.Now().Add(-time.Minute))
	rule(t, db, store.AlertRule{Name: "Bounces", Type: alerts.BounceRate, Threshold: map[string]float64{},
		Channel: alerts.Webhook, ChannelConfig: map[string]string{"url": hook.srv.URL}})
	rule(t, db, store.AlertRule{Name: "Delivery", Type: alerts.DeliveryIssue, Threshold: map[string]float64{},
		Channel: alerts.Webhook, ChannelConfig: map[string]string{"url": hook.srv.URL}})
	res, err := c.Check(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, res.Evaluated)
	require.Zero(t, res.Fired, "9 sends are below the minimum of 10")
	require.Empty(t, hook.got())
}

// A notification that fails is recorded as failed and still starts the cooldown.
func TestAFailedNotificationIsRecordedAndCoolsDown(t *testing.T) {
	t.Parallel()
	db, _ := schematest.TestDB(t)
	ctx := context.Background()
	down := newSink(t, http.StatusBadGateway)
	c := &alerts.Checker{DB: db, Logger: slog.New(slog.DiscardHandler)}
	sends(t, db, "bounced", 10, time.Now().Add(-time.Minute))
	failing := rule(t, db, store.AlertRule{Name: "Down", Type: alerts.BounceRate, Threshold: map[string]float64{"rate": 0.1},
		Channel: alerts.Webhook, ChannelConfig: map[string]string{"url": down.srv.URL}})
	noURL := rule(t, db, store.AlertRule{Name: "No URL", Type: alerts.BounceRate, Threshold: map[string]float64{"rate": 0.1},
		Channel: alerts.Slack, ChannelConfig: map[string]string{}})
	noMail := rule(t, db, store.AlertRule{Name: "No mail", Type: alerts.BounceRate, Threshold: map[string]float64{"rate": 0.1},
		Channel: alerts.Email, ChannelConfig: map[string]string{"to": "ops@x.io"}})

	res, err := c.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, res.Fired)
	for id, want := range map[string]string{failing.ID: "HTTP 502: Bad Gateway", noURL.ID: "channel URL is missing",
		noMail.ID: "no email provider is configured"} {
		h := history(t, db, id)
		require.Len(t, h, 1)
		require.Equal(t, "failed", h[0].Status)
		require.Equal(t, want, *h[0].Error)
	}
	res, err = c.Check(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Fired, "the cooldown started although delivery failed")
	require.Len(t, down.got(), 1)
}

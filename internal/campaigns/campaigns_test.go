package campaigns_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/bucket"
	c "github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/campaigns"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// provider records what it accepts; while err is set it refuses everything.
type provider struct {
	mu   sync.Mutex
	err  error
	sent []email.Message
}

func (p *provider) Name() string { return "recording" }
func (p *provider) Send(_ context.Context, m email.Message) (email.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return email.SendResult{}, p.err
	}
	p.sent = append(p.sent, m)
	return email.SendResult{ID: m.MessageID}, nil
}

func (p *provider) to() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.sent {
		out = append(out, m.To...)
	}
	sort.Strings(out)
	return out
}

type rig struct {
	pool *pgxpool.Pool
	svc  *campaigns.Service
	p    *provider
	tok  mailer.Tokens
}

func newRig(t *testing.T, settings campaigns.SendSettings) *rig {
	t.Helper()
	pool, _ := schematest.TestDB(t)
	lists, err := email.NewLists(nil,
		email.MustDefineList(email.ListDef{ID: "news", Name: "News"}),
		email.MustDefineList(email.ListDef{ID: "everyone", Name: "Everyone", DefaultOptIn: true}))
	require.NoError(t, err)
	templates := email.NewRegistry().MustRegister(email.TemplateDef{Key: "launch", DefaultSubject: "We launched",
		HTML: email.MustParseHTML("launch", `{{define "content"}}{{template "paragraph" (print "Hello " .product)}}<a href="https://x.example/launch">Read</a>{{end}}`)})
	reg, err := bucket.NewRegistry([]*bucket.Bucket{bucket.MustDefine(bucket.Meta{ID: "vip", Name: "VIP", Enabled: true,
		Criteria: c.Prop("tier").Eq("vip")})}, nil)
	require.NoError(t, err)
	r := &rig{pool: pool, p: &provider{}, tok: mailer.Tokens{Secret: []byte("s3cret")}}
	m := mailer.New(mailer.Config{DB: pool, Templates: templates, Lists: lists, Provider: r.p, From: "news@example.com",
		PublicURL: "https://api.example.com", Tokens: r.tok})
	t.Cleanup(m.Close)
	r.svc = &campaigns.Service{DB: pool, Mailer: m, Buckets: reg, Send: settings}
	return r
}

func (r *rig) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	_, err := r.pool.Exec(context.Background(), q, args...)
	require.NoError(t, err)
}

// run does what the send workflow does: begin, send until the pages say stop, complete.
func (r *rig) run(t *testing.T, id string) contract.CampaignProgress {
	t.Helper()
	ctx := context.Background()
	st, err := r.svc.Begin(ctx, contract.BeginCampaignInput{CampaignID: id, AsOf: time.Now(), Revive: true})
	require.NoError(t, err)
	if st.Status != store.CampaignSending {
		return contract.CampaignProgress{Status: st.Status}
	}
	for {
		p, err := r.svc.SendPages(ctx, contract.SendPagesInput{CampaignID: id})
		require.NoError(t, err)
		if p.Done && p.Status == store.CampaignSending {
			require.NoError(t, r.svc.Complete(ctx, id))
			return p
		}
		if p.Status != store.CampaignSending {
			return p
		}
	}
}

func (r *rig) campaign(t *testing.T, id string) store.Campaign {
	t.Helper()
	camp, err := r.svc.Get(context.Background(), id)
	require.NoError(t, err)
	return camp
}

func TestAnOptInListCampaignReachesItsSubscribersOnceEach(t *testing.T) {
	t.Parallel()
	r := newRig(t, campaigns.SendSettings{PageSize: 2})
	ctx := context.Background()
	r.exec(t, `INSERT INTO email_preferences (user_id, email, categories, unsubscribed_all, suppressed) VALUES
		('a', 'a@x.com', '{"news": true}', false, false),
		('c', 'c@x.com', '{"news": true}', true, false),
		('d', 'd@x.com', '{"news": true}', false, true),
		('e', 'E@X.com', '{"news": true}', false, false),
		('f1', 'f@x.com', '{"news": true}', false, false),
		('f2', 'f@x.com', '{"news": true}', false, false),
		('g', 'g@x.com', '{"news": false}', false, false),
		('h1', 'h@x.com', '{"news": true}', false, false),
		('h2', 'H@x.com', '{"news": false}', false, false)`)
	r.exec(t, `INSERT INTO contacts (external_id, email) VALUES ('b', 'b@x.com')`) // never opted in

	camp, err := r.svc.Create(ctx, campaigns.Request{List: "news", Template: "launch", Props: map[string]any{"product": "Rockets"}})
	require.NoError(t, err)
	require.Equal(t, store.CampaignQueued, camp.Status)
	require.Equal(t, "Campaign to list news", camp.Name)
	var starts int
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE kind = 'temporal.start'
		AND payload->>'workflowId' = $1`, contract.CampaignWorkflowID(camp.ID)).Scan(&starts))
	require.Equal(t, 1, starts, "the run's start commits with the row")

	require.True(t, r.run(t, camp.ID).Done)
	require.Equal(t, []string{"a@x.com", "e@x.com", "f@x.com"}, r.p.to())
	got := r.campaign(t, camp.ID)
	require.Equal(t, store.CampaignSent, got.Status)
	require.Equal(t, store.CampaignCounts{Total: 3, Sent: 3}, got.CampaignCounts)
	require.NotNil(t, got.StartedAt)
	require.NotNil(t, got.CompletedAt)

	// Each message is personal: its own unsubscribe token (out of this list only), its own
	// tracked links, its own Message-ID; the copy is the campaign's.
	seen := map[string]bool{}
	for _, m := range r.p.sent {
		require.Equal(t, "We launched", m.Subject)
		require.Contains(t, m.HTML, "Hello Rockets")
		require.NotContains(t, m.HTML, "HOGSENDUNSUBSCRIBETOKEN")
		header := strings.Trim(m.Headers["List-Unsubscribe"], "<>")
		_, token, ok := strings.Cut(header, "token=")
		require.True(t, ok, header)
		require.Contains(t, m.HTML, token, "the body's unsubscribe link is the header's")
		payload, err := r.tok.Verify(strings.ReplaceAll(token, "%3D", "="))
		require.NoError(t, err)
		require.Equal(t, []string{m.To[0], "news"}, []string{payload.Email, payload.Category})
		require.NotContains(t, m.HTML, "https://x.example/launch", "links are tracked")
		require.False(t, seen[m.MessageID])
		seen[m.MessageID] = true
	}
	var keyed int
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT count(*) FROM email_sends WHERE idempotency_key = 'campaign:' || $1 || ':' || to_email
		AND status = 'sent' AND category = 'news'`, camp.ID).Scan(&keyed))
	require.Equal(t, 3, keyed)

	// Run again from the start (the reference's re-run): nobody gets a second message.
	r.exec(t, `UPDATE campaigns SET status = 'queued', resume_cursor = NULL WHERE id = $1`, camp.ID)
	require.True(t, r.run(t, camp.ID).Done)
	require.Len(t, r.p.sent, 3)
	require.Equal(t, store.CampaignCounts{Total: 3, Sent: 3}, r.campaign(t, camp.ID).CampaignCounts)
}

func TestOptOutListAndBucketAudiences(t *testing.T) {
	t.Parallel()
	r := newRig(t, campaigns.SendSettings{PageSize: 2})
	ctx := context.Background()
	r.exec(t, `INSERT INTO contacts (external_id, email, deleted_at) VALUES
		('o1', 'o1@x.com', NULL), ('o2', 'o2@x.com', NULL), ('o3', 'o3@x.com', NULL), ('o4', 'o4@x.com', NULL),
		('o5', 'o5@x.com', now()), ('o6', NULL, NULL)`)
	r.exec(t, `INSERT INTO contacts (email) VALUES ('anon@x.com')`)
	r.exec(t, `INSERT INTO email_preferences (user_id, email, categories, unsubscribed_all) VALUES
		('o2', 'o2@x.com', '{"everyone": false}', false), ('o3', 'o3@x.com', '{}', true)`)
	camp, err := r.svc.Create(ctx, campaigns.Request{List: "everyone", Template: "launch"})
	require.NoError(t, err)
	r.run(t, camp.ID)
	require.Equal(t, []string{"anon@x.com", "o1@x.com", "o4@x.com"}, r.p.to())
	require.Equal(t, store.CampaignCounts{Total: 3, Sent: 3}, r.campaign(t, camp.ID).CampaignCounts)

	// A bucket campaign: active members of live contacts, no category forced.
	r.p.sent = nil
	r.exec(t, `INSERT INTO bucket_memberships (user_id, bucket_id, status, user_email) VALUES
		('o1', 'vip', 'active', NULL), ('o4', 'vip', 'left', NULL), ('o5', 'vip', 'active', NULL), ('o3', 'vip', 'active', NULL)`)
	camp, err = r.svc.Create(ctx, campaigns.Request{Bucket: "vip", Template: "launch", Subject: ptrTo("Just for you")})
	require.NoError(t, err)
	r.run(t, camp.ID)
	require.Equal(t, []string{"o1@x.com"}, r.p.to(), "not the left member, the deleted contact or the unsubscribed one")
	require.Equal(t, "Just for you", r.p.sent[0].Subject)
	var category *string
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT category FROM email_sends WHERE idempotency_key = $1`, "campaign:"+camp.ID+":o1@x.com").Scan(&category))
	require.Nil(t, category)
}

func TestACampaignPausesItselfAfterFailuresAndResumesWhereItStopped(t *testing.T) {
	t.Parallel()
	r := newRig(t, campaigns.SendSettings{PageSize: 2, PauseAfterFailures: 3})
	ctx := context.Background()
	for _, u := range []string{"p1", "p2", "p3", "p4", "p5", "p6"} {
		r.exec(t, `INSERT INTO contacts (external_id, email) VALUES ($1, $1 || '@x.com')`, u)
	}
	r.p.err = &email.SendError{Err: errors.New("550 relay denied")}
	camp, err := r.svc.Create(ctx, campaigns.Request{List: "everyone", Template: "launch"})
	require.NoError(t, err)
	p := r.run(t, camp.ID)
	require.Equal(t, store.CampaignPaused, p.Status)
	got := r.campaign(t, camp.ID)
	require.Equal(t, campaigns.ReasonFailures, *got.PausedReason)
	require.Equal(t, store.CampaignCounts{Total: 4, Failed: 4}, got.CampaignCounts, "two pages, then the pause")

	_, err = r.svc.Pause(ctx, camp.ID)
	require.Equal(t, "Campaign is paused", err.Error())
	r.p.err = nil
	resumed, err := r.svc.Resume(ctx, camp.ID)
	require.NoError(t, err)
	require.Equal(t, store.CampaignSending, resumed.Status)
	require.Nil(t, resumed.PausedReason)
	require.True(t, r.run(t, camp.ID).Done)
	var failedToo int
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT count(*) FROM email_sends f JOIN email_sends s ON s.to_email = f.to_email
		WHERE f.status = 'failed' AND s.status = 'sent'`).Scan(&failedToo))
	require.Len(t, r.p.sent, 2)
	require.Zero(t, failedToo, "the failed ones are counted, not retried")
	require.Equal(t, store.CampaignCounts{Total: 6, Sent: 2, Failed: 4}, r.campaign(t, camp.ID).CampaignCounts)

	_, err = r.svc.Cancel(ctx, camp.ID)
	var state *campaigns.StateError
	require.ErrorAs(t, err, &state)
	require.Equal(t, "Campaign is already sent", err.Error())
}

func TestCreateRefusesBadAudiencesAndHonoursItsKey(t *testing.T) {
	t.Parallel()
	r := newRig(t, campaigns.SendSettings{})
	ctx := context.Background()
	for _, req := range []campaigns.Request{
		{Template: "launch"}, {List: "news", Bucket: "vip", Template: "launch"},
	} {
		_, err := r.svc.Create(ctx, req)
		require.ErrorIs(t, err, campaigns.ErrAudience)
	}
	for req, msg := range map[*campaigns.Request]string{
		{List: "news", Template: "nope"}:     "Unknown template: nope",
		{List: "nope", Template: "launch"}:   "Unknown list: nope",
		{Bucket: "nope", Template: "launch"}: "Unknown bucket: nope",
	} {
		_, err := r.svc.Create(ctx, *req)
		require.EqualError(t, err, msg)
	}
	key := ptrTo("launch-2026")
	first, err := r.svc.Create(ctx, campaigns.Request{List: "news", Template: "launch", IdempotencyKey: key})
	require.NoError(t, err)
	again, err := r.svc.Create(ctx, campaigns.Request{Bucket: "vip", Template: "launch", IdempotencyKey: key})
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "a retry with the key is the first campaign, whatever its body")
	_, err = r.svc.Get(ctx, "not-a-uuid")
	require.ErrorIs(t, err, campaigns.ErrNotFound)

	// A scheduled campaign waits for its time, on the run's clock.
	at := time.Now().Add(time.Hour)
	later, err := r.svc.Create(ctx, campaigns.Request{List: "news", Template: "launch", ScheduledAt: &at})
	require.NoError(t, err)
	require.Equal(t, store.CampaignScheduled, later.Status)
	st, err := r.svc.Begin(ctx, contract.BeginCampaignInput{CampaignID: later.ID, AsOf: time.Now()})
	require.NoError(t, err)
	require.Equal(t, store.CampaignScheduled, st.Status)
	st, err = r.svc.Begin(ctx, contract.BeginCampaignInput{CampaignID: later.ID, AsOf: at})
	require.NoError(t, err)
	require.Equal(t, store.CampaignSending, st.Status)
}

func TestTheReaperRedrivesStaleCampaignsAndGivesUpOnDeadOnes(t *testing.T) {
	t.Parallel()
	r := newRig(t, campaigns.SendSettings{})
	ctx := context.Background()
	ids := map[string]string{}
	for _, name := range []string{"fresh", "stale", "dead", "paused"} {
		camp, err := r.svc.Create(ctx, campaigns.Request{Name: name, List: "news", Template: "launch"})
		require.NoError(t, err)
		ids[name] = camp.ID
	}
	r.exec(t, `UPDATE campaigns SET status = 'sending', updated_at = now() - interval '20 minutes' WHERE id = $1`, ids["stale"])
	r.exec(t, `UPDATE campaigns SET status = 'sending', updated_at = now() - interval '7 hours' WHERE id = $1`, ids["dead"])
	r.exec(t, `UPDATE campaigns SET status = 'paused', updated_at = now() - interval '7 hours' WHERE id = $1`, ids["paused"])
	res, err := r.svc.Reap(ctx, campaigns.ReapSettings{StaleAfter: 15 * time.Minute, GiveUpAfter: 6 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, contract.ReapResult{Failed: 1, Redriven: 1}, res)
	require.Equal(t, store.CampaignFailed, r.campaign(t, ids["dead"]).Status)
	require.Equal(t, store.CampaignPaused, r.campaign(t, ids["paused"]).Status)
	var redrives, told int
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE kind = 'temporal.start' AND dedupe_key IS NULL
		AND payload->>'workflowId' = $1`, contract.CampaignWorkflowID(ids["stale"])).Scan(&redrives))
	require.Equal(t, 1, redrives)
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE kind = 'temporal.signal'
		AND payload->>'workflowId' = $1`, contract.CampaignWorkflowID(ids["dead"])).Scan(&told))
	require.Equal(t, 1, told, "the given-up campaign's open run is told, and ends")
	again, err := r.svc.Reap(ctx, campaigns.ReapSettings{StaleAfter: 15 * time.Minute, GiveUpAfter: 6 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, contract.ReapResult{}, again, "the bump keeps the next tick off the same rows")
}

func ptrTo[T any](v T) *T { return &v }

func TestALocalTimeCampaignReachesEachZoneAtItsOwnNineOClock(t *testing.T) {
	t.Parallel()
	r := newRig(t, campaigns.SendSettings{PageSize: 2})
	r.svc.DefaultTimezone = "UTC"
	ctx := context.Background()
	for user, zone := range map[string]any{"tokyo": "Asia/Tokyo", "berlin": "Europe/Berlin", "ny": "America/New_York",
		"nozone": nil, "badzone": "Not/AZone"} {
		r.exec(t, `INSERT INTO contacts (external_id, email, timezone) VALUES ($1, $1 || '@x.com', $2)`, user, zone)
	}
	// The evening before the United States move their clocks (2026-03-08, 02:00 local).
	start := time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC)
	nine := "09:00"
	camp, err := r.svc.Create(ctx, campaigns.Request{List: "everyone", Template: "launch", LocalTime: &nine, ScheduledAt: &start})
	require.NoError(t, err)
	require.Equal(t, store.CampaignScheduled, camp.Status)
	waves, err := r.svc.PlanWaves(ctx, contract.PlanWavesInput{CampaignID: camp.ID, AsOf: start.Add(-time.Hour)})
	require.NoError(t, err)
	at := func(h int) time.Time { return time.Date(2026, 3, 8, h, 0, 0, 0, time.UTC) }
	require.Equal(t, []contract.CampaignWave{
		{At: at(0), Zones: []string{"Asia/Tokyo"}},
		{At: at(8), Zones: []string{"Europe/Berlin"}},
		{At: at(9), Zones: []string{"", "Not/AZone"}},                 // no zone, or an invalid one: the default
		{At: at(13), Zones: []string{"America/New_York"}, Rest: true}, // 09:00 EDT, the clocks already moved
	}, waves)

	// Each wave reaches its zones; the last also whoever arrived in a zone nobody planned.
	_, err = r.svc.Begin(ctx, contract.BeginCampaignInput{CampaignID: camp.ID, AsOf: start, Revive: true})
	require.NoError(t, err)
	r.exec(t, `INSERT INTO contacts (external_id, email, timezone) VALUES ('sydney', 'sydney@x.com', 'Australia/Sydney')`)
	var planned []string
	for _, w := range waves {
		planned = append(planned, w.Zones...)
	}
	var got [][]string
	for i := range waves {
		r.p.sent = nil
		p, err := r.svc.SendPages(ctx, contract.SendPagesInput{CampaignID: camp.ID, Wave: &waves[i], WaveIndex: i, Planned: planned})
		require.NoError(t, err)
		require.True(t, p.Done)
		got = append(got, r.p.to())
	}
	require.Equal(t, [][]string{{"tokyo@x.com"}, {"berlin@x.com"}, {"badzone@x.com", "nozone@x.com"}, {"ny@x.com", "sydney@x.com"}}, got)
	require.Equal(t, store.CampaignCounts{Total: 6, Sent: 6}, r.campaign(t, camp.ID).CampaignCounts, "the counts add up over the waves")
}

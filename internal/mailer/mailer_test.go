package mailer_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/hogsend/hogsend/activities"
	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// flakyProvider fails with err until it is cleared, then accepts. attempts is every message it
// was handed, sent the ones it answered with an acceptance.
type flakyProvider struct {
	mu             sync.Mutex
	err            error
	attempts, sent []email.Message
}

func (p *flakyProvider) Name() string { return "flaky" }
func (p *flakyProvider) Send(_ context.Context, m email.Message) (email.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts = append(p.attempts, m)
	if p.err != nil {
		return email.SendResult{}, p.err
	}
	p.sent = append(p.sent, m)
	return email.SendResult{ID: "prov-" + m.Headers["X-Hogsend-Email-Send-Id"]}, nil
}

func registry() *email.Registry {
	return email.NewRegistry().MustRegister(email.TemplateDef{Key: "hello", DefaultSubject: "Hello", Category: email.CategoryTransactional,
		HTML: email.MustParseHTML("hello", `{{define "content"}}{{template "paragraph" (print "Hi " (default "there" .name))}}<a href="https://x.example/a?b=1&amp;c=2">go</a>{{end}}`)})
}

func newMailer(t *testing.T, p email.Provider) (*mailer.Mailer, func(query string, args ...any) string) {
	t.Helper()
	m, _, value := newMailerOn(t, p)
	return m, value
}

// newMailerOn is newMailer with its database.
func newMailerOn(t *testing.T, p email.Provider, configure ...func(*mailer.Config)) (*mailer.Mailer, store.DBTX, func(query string, args ...any) string) {
	t.Helper()
	pool, _ := schematest.TestDB(t)
	cfg := mailer.Config{DB: pool, Templates: registry(), Provider: p, From: "noreply@example.com",
		PublicURL: "https://api.example.com", Tokens: mailer.Tokens{Secret: []byte("s3cret")}}
	for _, c := range configure {
		c(&cfg)
	}
	m := mailer.New(cfg)
	value := func(query string, args ...any) string {
		var v *string
		require.NoError(t, pool.QueryRow(context.Background(), query, args...).Scan(&v))
		if v == nil {
			return "<null>"
		}
		return *v
	}
	return m, pool, value
}

func TestAProviderFailureReleasesTheKeyAndARetrySends(t *testing.T) {
	t.Parallel()
	p := &flakyProvider{err: &email.SendError{Retryable: true, Err: errors.New("421 try later")}}
	m, value := newMailer(t, p)
	ctx := context.Background()
	opts := mailer.SendOptions{Template: "hello", To: "Ada@Example.com", IdempotencyKey: "k-1"}

	res, err := m.Send(ctx, opts)
	require.Error(t, err)
	require.NotEmpty(t, res.EmailSendID)
	require.Equal(t, "failed", value(`SELECT status::text FROM email_sends WHERE id = $1`, res.EmailSendID))
	require.Equal(t, "provider_error", value(`SELECT status_reason FROM email_sends WHERE id = $1`, res.EmailSendID))
	require.Equal(t, "<null>", value(`SELECT idempotency_key FROM email_sends WHERE id = $1`, res.EmailSendID))

	p.err = nil
	again, err := m.Send(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, mailer.StatusSent, again.Status)
	require.NotEqual(t, res.EmailSendID, again.EmailSendID)
	require.Len(t, p.sent, 1)
	require.Equal(t, []string{"ada@example.com"}, p.sent[0].To)
	require.Equal(t, "hogsend-"+again.EmailSendID, p.sent[0].IdempotencyKey)

	// The key now belongs to the sent row: a replay sends nothing.
	replay, err := m.Send(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, mailer.Result{EmailSendID: again.EmailSendID, Status: mailer.StatusSent}, replay)
	require.Len(t, p.sent, 1)
}

func TestAnAmbiguousOutcomeKeepsTheKeyAndTheRetryIsTheSameMessage(t *testing.T) {
	t.Parallel()
	// The provider took the message but the answer was lost (a timeout after the request).
	p := &flakyProvider{err: &email.SendError{Retryable: true, Ambiguous: true, Err: errors.New("read: i/o timeout")}}
	m, value := newMailer(t, p)
	ctx := context.Background()
	opts := mailer.SendOptions{Template: "hello", To: "ada@example.com", IdempotencyKey: "k-lost"}

	first, err := m.Send(ctx, opts)
	require.True(t, email.Ambiguous(err), "%v", err)
	row := `SELECT status::text || '/' || coalesce(status_reason, '') || '/' || coalesce(idempotency_key, '') FROM email_sends WHERE id = $1`
	require.Equal(t, "queued/outcome_unknown/k-lost", value(row, first.EmailSendID))

	// Two retries race: exactly one claims the send and delivers it again; the other answers
	// with the same send, queued or sent.
	p.err = nil
	var wg sync.WaitGroup
	results := make([]mailer.Result, 2)
	for i := range results {
		wg.Go(func() {
			var err error
			results[i], err = m.Send(ctx, opts)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Len(t, p.attempts, 2, "one retry reached the provider")
	require.Equal(t, first.EmailSendID, results[0].EmailSendID)
	require.Equal(t, first.EmailSendID, results[1].EmailSendID)
	require.Contains(t, []string{results[0].Status, results[1].Status}, mailer.StatusSent)
	a, b := p.attempts[0], p.attempts[1]
	require.Equal(t, "hogsend-"+first.EmailSendID, a.IdempotencyKey)
	require.Equal(t, a.IdempotencyKey, b.IdempotencyKey)
	require.Equal(t, "hogsend-"+first.EmailSendID+"@example.com", a.MessageID)
	require.Equal(t, a.MessageID, b.MessageID)
	require.Equal(t, a.Headers["X-Hogsend-Email-Send-Id"], b.Headers["X-Hogsend-Email-Send-Id"])
	require.NotEmpty(t, b.Headers["List-Unsubscribe"])
	require.Equal(t, "1", value(`SELECT count(*)::text FROM email_sends`))
	require.Equal(t, "1", value(`SELECT count(*)::text FROM tracked_links`), "the retry links to the same tracked rows")
	require.Contains(t, b.HTML, "/v1/t/c/"+value(`SELECT id::text FROM tracked_links`))

	// Settled: a third call replays.
	replay, err := m.Send(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, mailer.StatusSent, replay.Status)
	require.Len(t, p.attempts, 2)
}

func TestARefusalAfterAnAmbiguousOutcomeReleasesTheKey(t *testing.T) {
	t.Parallel()
	p := &flakyProvider{err: &email.SendError{Retryable: true, Ambiguous: true, Err: errors.New("connection lost after DATA")}}
	m, value := newMailer(t, p)
	ctx := context.Background()
	opts := mailer.SendOptions{Template: "hello", To: "ada@example.com", IdempotencyKey: "k-then-550"}
	first, err := m.Send(ctx, opts)
	require.Error(t, err)

	p.err = &email.SendError{StatusCode: 550, Err: errors.New("550 mailbox unavailable")}
	_, err = m.Send(ctx, opts)
	require.Error(t, err)
	require.Len(t, p.attempts, 2)
	require.Equal(t, "failed/provider_error/", value(`SELECT status::text || '/' || coalesce(status_reason, '') || '/' || coalesce(idempotency_key, '') FROM email_sends WHERE id = $1`, first.EmailSendID))

	// A refusal is known to be before acceptance: the key is free and the next call sends anew.
	p.err = nil
	fresh, err := m.Send(ctx, opts)
	require.NoError(t, err)
	require.NotEqual(t, first.EmailSendID, fresh.EmailSendID)
	require.Len(t, p.sent, 1)
}

func TestASendLeftQueuedIsWaitedForThenResumedAsTheSameMessage(t *testing.T) {
	t.Parallel()
	// A process that died between the provider call and recording it leaves a queued row.
	p := &flakyProvider{}
	m, value := newMailer(t, p)
	ctx := context.Background()
	opts := mailer.SendOptions{Template: "hello", To: "a@example.com", IdempotencyKey: "k-crash"}
	first, err := m.Send(ctx, opts)
	require.NoError(t, err)
	value(`UPDATE email_sends SET status = 'queued' WHERE id = $1 RETURNING id::text`, first.EmailSendID)

	// Within the in-flight bound it may still be sending: a retry waits for it, and gives up
	// with its own deadline without sending anything.
	short, cancel := context.WithTimeout(ctx, 2*time.Second) // room for a loaded machine's first lookup
	defer cancel()
	res, err := m.Send(short, opts)
	require.ErrorIs(t, err, mailer.ErrInFlight)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, mailer.Result{EmailSendID: first.EmailSendID, Status: mailer.StatusQueued}, res)
	require.Len(t, p.attempts, 1)

	// Past the bound its sender is gone: the retry resumes it as an outcome unknown — the same
	// row, provider key and Message-ID, so a provider or mailbox can tell it is a repeat.
	value(`UPDATE email_sends SET updated_at = now() - interval '2 minutes' WHERE id = $1 RETURNING id::text`, first.EmailSendID)
	res, err = m.Send(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, first.EmailSendID, res.EmailSendID)
	require.Equal(t, mailer.StatusSent, res.Status)
	require.Len(t, p.attempts, 2)
	require.Equal(t, p.attempts[0].MessageID, p.attempts[1].MessageID)
	require.Equal(t, p.attempts[0].IdempotencyKey, p.attempts[1].IdempotencyKey)
	require.Equal(t, "sent", value(`SELECT status::text FROM email_sends WHERE id = $1`, first.EmailSendID))
	require.Equal(t, "1", value(`SELECT count(*)::text FROM email_sends`))
}

func TestConcurrentSendsWithOneKeySendOnce(t *testing.T) {
	t.Parallel()
	p := &flakyProvider{}
	m, value := newMailer(t, p)
	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range ids {
		wg.Go(func() {
			res, err := m.Send(context.Background(), mailer.SendOptions{Template: "hello", To: "same@example.com", IdempotencyKey: "k-race"})
			require.NoError(t, err)
			ids[i] = res.EmailSendID
		})
	}
	wg.Wait()
	require.Len(t, p.sent, 1)
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	require.Equal(t, "1", value(`SELECT count(*)::text FROM email_sends`))
	require.Equal(t, "1", value(`SELECT count(*)::text FROM tracked_links`)) // the footer's unsubscribe link is not tracked
}

func TestJourneySendErrorsAreClassifiedForTemporal(t *testing.T) {
	t.Parallel()
	p := &flakyProvider{err: &email.SendError{Retryable: false, StatusCode: 550, Err: errors.New("550 no such user")}}
	m, _ := newMailer(t, p)
	sender := activities.MailerJourneySender{Mailer: m}
	ctx := context.Background()
	in := contract.JourneySend{IdempotencyKey: "journey:s:email:1", UserID: "u1", To: "u1@example.com", Template: "hello", JourneyID: "j"}

	_, err := sender.SendJourneyEmail(ctx, in)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, contract.ErrSendPermanentType, app.Type())
	require.True(t, app.NonRetryable())

	p.err = &email.SendError{Retryable: true, Err: errors.New("connection reset")}
	_, err = sender.SendJourneyEmail(ctx, in)
	require.Error(t, err)
	require.False(t, errors.As(err, &app), "a retryable failure is left to the retry policy")

	missing := in
	missing.Template = "nope"
	_, err = sender.SendJourneyEmail(ctx, missing)
	require.ErrorAs(t, err, &app)
	require.Equal(t, contract.ErrTemplateNotFoundType, app.Type())

	noEmail := in
	noEmail.To = ""
	_, err = sender.SendJourneyEmail(ctx, noEmail)
	require.ErrorAs(t, err, &app)
	require.True(t, app.NonRetryable())

	p.err = nil
	res, err := sender.SendJourneyEmail(ctx, in)
	require.NoError(t, err)
	require.Equal(t, "sent", res.Status)
	msg := p.sent[0]
	require.True(t, strings.HasPrefix(msg.Headers["List-Unsubscribe"], "<https://api.example.com/v1/email/unsubscribe?token="))
	require.Contains(t, msg.HTML, "Hi u1") // no firstName or name: the address's local part
}

func TestAResendRowExistsAtOnceAndItsRetriesReuseIt(t *testing.T) {
	t.Parallel()
	p := &flakyProvider{}
	m, db, value := newMailerOn(t, p)
	ctx := context.Background()
	source, err := m.Send(ctx, mailer.SendOptions{Template: "hello", To: "ada@example.com"})
	require.NoError(t, err)
	value(`UPDATE email_sends SET status = 'bounced' WHERE id = $1 RETURNING id::text`, source.EmailSendID)

	newID, err := m.Resend(ctx, source.EmailSendID)
	require.NoError(t, err)
	row := `SELECT status::text || '/' || coalesce(status_reason, '') FROM email_sends WHERE id = $1`
	require.Equal(t, "queued/pending", value(row, newID), "the id the API returns is readable at once")

	d := &outbox.Dispatcher{DB: db, Logger: slog.New(slog.DiscardHandler)}
	m.Register(d)
	dispatch := func() {
		t.Helper()
		value(`UPDATE outbox SET next_attempt_at = now() WHERE dispatched_at IS NULL RETURNING 'due'`)
		n, err := d.DispatchOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}

	// A refusal fails the attempt; the intent's retry sends the same row again.
	p.err = &email.SendError{Retryable: true, StatusCode: 421, Err: errors.New("421 try later")}
	dispatch()
	require.Equal(t, "failed/provider_error", value(row, newID))
	p.err = nil
	dispatch()
	require.Equal(t, "sent/", value(row, newID))
	require.Len(t, p.sent, 2) // the source and the resend
	require.Equal(t, "hogsend-"+newID, p.sent[1].IdempotencyKey)
	require.Equal(t, "2", value(`SELECT count(*)::text FROM email_sends`))
	require.Equal(t, "<null>", value(`SELECT string_agg(id::text, ',') FROM outbox WHERE dispatched_at IS NULL`))
}

func TestOnlyFirstOpensAndClicksBecomeEventsAndTheyOutliveACrash(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var ingested []mailer.EngineEvent
	m, db, value := newMailerOn(t, &flakyProvider{}, func(c *mailer.Config) {
		c.Events = func(_ context.Context, ev mailer.EngineEvent) error {
			mu.Lock()
			defer mu.Unlock()
			ingested = append(ingested, ev)
			return nil
		}
	})
	schematest.Subscribe(t, db, "https://hooks.example/engagement", outbound.EmailOpened, outbound.EmailClicked)
	ctx := context.Background()
	sent, err := m.Send(ctx, mailer.SendOptions{Template: "hello", To: "ada@example.com", UserID: "u-ada"})
	require.NoError(t, err)
	link := value(`SELECT id::text FROM tracked_links WHERE email_send_id = $1`, sent.EmailSendID)

	// A flood of hits: each is stamped or counted, only the first of each becomes an intent,
	// written with the stamp (no dispatcher runs yet, as after a crash right after the hit).
	for range 5 {
		_, err := m.RecordOpen(ctx, sent.EmailSendID)
		require.NoError(t, err)
		c, err := m.RecordClick(ctx, link, nil, nil)
		require.NoError(t, err)
		require.Equal(t, "https://x.example/a?b=1&c=2", c.URL)
	}
	require.Equal(t, "5", value(`SELECT click_count::text FROM tracked_links WHERE id = $1`, link))
	require.Equal(t, "email.link_clicked,email.opened", value(
		`SELECT string_agg(payload->>'name', ',' ORDER BY payload->>'name') FROM outbox WHERE kind = $1`, mailer.KindTrackedEvent))
	require.Equal(t, "email.clicked,email.opened", value(`SELECT string_agg(event_type, ',' ORDER BY event_type) FROM webhook_deliveries`),
		"first open, first click")

	d := &outbox.Dispatcher{DB: db, Logger: slog.New(slog.DiscardHandler)}
	m.Register(d)
	_, err = d.DispatchOnce(ctx)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, ingested, 2)
	names := map[string]mailer.EngineEvent{}
	for _, ev := range ingested {
		names[ev.Name] = ev
	}
	open, click := names[mailer.EventEmailOpened], names[mailer.EventEmailLinkClicked]
	require.Equal(t, "u-ada", open.UserID)
	require.Equal(t, "hogsend:email.opened:"+sent.EmailSendID, open.IdempotencyKey)
	require.Equal(t, "hogsend:email.link_clicked:"+link, click.IdempotencyKey)
	require.Equal(t, link, click.Props["linkId"])
	require.False(t, open.OccurredAt.IsZero())
}

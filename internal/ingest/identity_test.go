package ingest_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

type bundle struct {
	pool *pgxpool.Pool
	svc  *ingest.Service
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool, _ := schematest.TestDB(t)
	return &bundle{pool: pool, svc: &ingest.Service{DB: pool}}
}

func (b *bundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

func (b *bundle) one(t *testing.T, sql string, args ...any) any {
	t.Helper()
	var v any
	require.NoError(t, b.pool.QueryRow(context.Background(), sql, args...).Scan(&v))
	return v
}

func (b *bundle) upsert(t *testing.T, in contacts.Identity) contacts.Resolution {
	t.Helper()
	r, err := b.svc.Upsert(context.Background(), in)
	require.NoError(t, err)
	return r
}

func (b *bundle) ingest(t *testing.T, ev ingest.Event) ingest.Result {
	t.Helper()
	r, err := b.svc.Ingest(context.Background(), ev)
	require.NoError(t, err)
	return r
}

// state inserts a journey state for a user key.
func (b *bundle) state(t *testing.T, userKey, journey, status, workflowID string) string {
	t.Helper()
	var id string
	require.NoError(t, b.pool.QueryRow(context.Background(), `INSERT INTO journey_states (user_id, user_email, journey_id, status, workflow_id)
		VALUES ($1, '', $2, $3, nullif($4, '')) RETURNING id::text`, userKey, journey, status, workflowID).Scan(&id))
	return id
}

func TestWorkedExamplesCreateLinkAndIgnoreMismatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c1 := b.upsert(t, contacts.Identity{UserID: "u1"})
	require.True(t, c1.Created)
	require.Equal(t, "u1", c1.Contact.Key())

	// Email-only contact: keyed by its uuid until it gets an external id.
	c2 := b.upsert(t, contacts.Identity{Email: "Ada@X.com"})
	require.Equal(t, c2.Contact.ID, c2.Contact.Key())
	b.ingest(t, ingest.Event{Name: "e", Email: "ada@x.com"})
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM user_events WHERE user_id = $1`, c2.Contact.ID))

	linked := b.upsert(t, contacts.Identity{Email: "ada@x.com", UserID: "u2"})
	require.Equal(t, c2.Contact.ID, linked.Contact.ID)
	require.True(t, linked.Linked)
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM user_events WHERE user_id = 'u2'`))
	require.EqualValues(t, "promote", b.one(t, `SELECT reason FROM contact_aliases WHERE alias_kind = 'external' AND alias_value = 'u2'`))

	// Mismatch: u9 is ignored, the event lands under u1, and u9 gets no alias.
	b.upsert(t, contacts.Identity{UserID: "u1", Email: "a@x.com"})
	r := b.ingest(t, ingest.Event{Name: "m", UserID: "u9", Email: "a@x.com"})
	require.Equal(t, "u1", r.Contact.Key())
	require.EqualValues(t, 0, b.one(t, `SELECT count(*) FROM contact_aliases WHERE alias_value = 'u9'`))
	later := b.upsert(t, contacts.Identity{UserID: "u9"})
	require.True(t, later.Created)
}

func TestMergeFoldsEveryHistoryTable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.upsert(t, contacts.Identity{UserID: "uA", Email: "a@x.com", Patch: map[string]any{"plan": "pro"}}).Contact
	bb := b.upsert(t, contacts.Identity{Email: "b@x.com", Patch: map[string]any{"plan": "free", "onlyB": 1}}).Contact
	loser := bb.ID

	// Journeys: a terminal collision (both completed J1) and a live collision (both active J2).
	b.state(t, "uA", "J1", "completed", "")
	lostCompleted := b.state(t, loser, "J1", "completed", "")
	b.state(t, "uA", "J2", "active", "wf-a")
	b.state(t, loser, "J2", "active", "wf-loser")
	b.state(t, loser, "J3", "waiting", "wf-j3")
	// A live collision in two live statuses (one live run per journey, whatever its status).
	b.state(t, "uA", "J4", "waiting", "wf-a4")
	b.state(t, loser, "J4", "active", "wf-loser4")
	// A live collision where the survivor exited the journey before: finished runs may be many.
	b.state(t, "uA", "J5", "exited", "")
	b.state(t, "uA", "J5", "active", "wf-a5")
	b.state(t, loser, "J5", "active", "wf-loser5")
	// A send pointing at the completed state that will be folded away.
	b.exec(t, `INSERT INTO email_sends (journey_state_id, user_id, from_email, to_email, subject) VALUES ($1, $2, 'f@x.com', 'b@x.com', 's')`, lostCompleted, loser)
	// Buckets: both in bucket B1; the loser also in B2.
	b.exec(t, `INSERT INTO bucket_memberships (user_id, bucket_id) VALUES ('uA', 'B1'), ($1, 'B1'), ($1, 'B2')`, loser)
	// Preferences: the loser unsubscribed b@x from news; the survivor has a row for b@x too.
	b.exec(t, `INSERT INTO email_preferences (user_id, email, categories, bounce_count) VALUES ('uA', 'b@x.com', '{"news": true, "tips": true}', 1)`)
	b.exec(t, `INSERT INTO email_preferences (user_id, email, categories, unsubscribed_all, bounce_count) VALUES ($1, 'b@x.com', '{"news": false}', true, 2)`, loser)

	r := b.ingest(t, ingest.Event{Name: "merge", UserID: "uA", Email: "b@x.com"})
	require.True(t, r.Stored)
	require.Equal(t, a.ID, r.Contact.ID)
	require.Equal(t, map[string]any{"plan": "pro", "onlyB": float64(1)}, r.Contact.Properties)
	require.Equal(t, "a@x.com", *r.Contact.Email)
	require.NotNil(t, b.one(t, `SELECT deleted_at FROM contacts WHERE id = $1`, loser))
	require.EqualValues(t, "merge", b.one(t, `SELECT reason FROM contact_aliases WHERE alias_kind = 'email' AND alias_value = 'b@x.com'`))

	// Journeys: one completed J1; the loser's live J2 became exited; J3 moved as is.
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM journey_states WHERE user_id = 'uA' AND journey_id = 'J1'`))
	require.EqualValues(t, "exited", b.one(t, `SELECT status::text FROM journey_states WHERE workflow_id = 'wf-loser'`))
	require.EqualValues(t, "uA", b.one(t, `SELECT user_id FROM journey_states WHERE workflow_id = 'wf-j3'`))
	require.EqualValues(t, "exited", b.one(t, `SELECT status::text FROM journey_states WHERE workflow_id = 'wf-loser4'`))
	require.EqualValues(t, "waiting", b.one(t, `SELECT status::text FROM journey_states WHERE workflow_id = 'wf-a4'`))
	require.EqualValues(t, 2, b.one(t, `SELECT count(*) FROM journey_states WHERE user_id = 'uA' AND journey_id = 'J5' AND status = 'exited'`))
	require.EqualValues(t, 0, b.one(t, `SELECT count(*) FROM journey_states WHERE user_id = $1`, loser))
	require.EqualValues(t, 0, b.one(t, `SELECT count(*) FROM email_sends WHERE journey_state_id IS NULL OR user_id <> 'uA'`),
		"the send follows the kept state and the survivor's key")
	// The exited run's workflow is cancelled after commit, through the outbox.
	rows, err := b.pool.Query(context.Background(), `SELECT payload->>'workflowId' FROM outbox WHERE kind = 'temporal.cancel'`)
	require.NoError(t, err)
	cancelled, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"wf-loser", "wf-loser4", "wf-loser5"}, cancelled)

	// Buckets: the duplicate B1 membership is closed; B2 moved.
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM bucket_memberships WHERE user_id = 'uA' AND bucket_id = 'B1' AND status = 'active'`))
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM bucket_memberships WHERE user_id = 'uA' AND bucket_id = 'B1' AND status = 'left'`))
	require.EqualValues(t, "active", b.one(t, `SELECT status::text FROM bucket_memberships WHERE user_id = 'uA' AND bucket_id = 'B2'`))

	// Preferences: one row, the opt-outs won, the higher bounce count kept.
	var cats map[string]bool
	var unsubAll bool
	var bounces int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT categories, unsubscribed_all, bounce_count FROM email_preferences
		WHERE user_id = 'uA' AND email = 'b@x.com'`).Scan(&cats, &unsubAll, &bounces))
	require.Equal(t, map[string]bool{"news": false, "tips": true}, cats)
	require.True(t, unsubAll)
	require.Equal(t, 2, bounces)
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM email_preferences`))

	// Later resolutions of the loser's email land on the survivor.
	require.Equal(t, a.ID, b.upsert(t, contacts.Identity{Email: "b@x.com"}).Contact.ID)
}

func TestMergeOfTwoAnonymousKeysFlipsTheSurvivorKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	older := b.upsert(t, contacts.Identity{Email: "b@x.com"}).Contact
	newer := b.upsert(t, contacts.Identity{AnonymousID: "c1"}).Contact
	b.ingest(t, ingest.Event{Name: "by-email", Email: "b@x.com"})
	b.ingest(t, ingest.Event{Name: "by-anon", AnonymousID: "c1"})

	r := b.ingest(t, ingest.Event{Name: "join", Email: "b@x.com", AnonymousID: "c1"})
	require.Equal(t, older.ID, r.Contact.ID, "the older contact survives")
	require.Equal(t, "c1", r.Contact.Key())
	require.EqualValues(t, 3, b.one(t, `SELECT count(*) FROM user_events WHERE user_id = 'c1'`), "all history ends under the new key")
	require.NotNil(t, b.one(t, `SELECT deleted_at FROM contacts WHERE id = $1`, newer.ID))
}

func TestIdentifiedContactSurvivesOverOlderAnonymous(t *testing.T) {
	t.Parallel()
	b := setup(t)
	anon := b.upsert(t, contacts.Identity{Email: "old@x.com"}).Contact
	ident := b.upsert(t, contacts.Identity{UserID: "u-new", Patch: map[string]any{"k": "v"}}).Contact
	r := b.upsert(t, contacts.Identity{UserID: "u-new", Email: "old@x.com"})
	require.True(t, r.Merged)
	require.Equal(t, ident.ID, r.Contact.ID)
	require.Equal(t, "old@x.com", *r.Contact.Email, "the survivor takes the email it lacked")
	require.True(t, r.Contact.FirstSeenAt.Equal(anon.FirstSeenAt), "first seen is the earliest of both")
}

func TestConcurrentResolutionsCreateOneContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	ids := make(chan string, 20)
	for i := range 20 {
		wg.Go(func() {
			in := contacts.Identity{UserID: "race"}
			if i%2 == 0 {
				in.Email = "race@x.com"
			}
			r, err := b.svc.Upsert(context.Background(), in)
			require.NoError(t, err)
			ids <- r.Contact.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	require.Len(t, seen, 1)
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM contacts WHERE deleted_at IS NULL`))
}

func TestConcurrentDuplicatesStoreOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	stored := make(chan bool, 10)
	for i := range 10 {
		wg.Go(func() {
			r, err := b.svc.Ingest(context.Background(), ingest.Event{Name: "dup", UserID: "d", IdempotencyKey: "same",
				ContactProperties: map[string]any{"n": i}})
			require.NoError(t, err)
			stored <- r.Stored
		})
	}
	wg.Wait()
	close(stored)
	n := 0
	for s := range stored {
		if s {
			n++
		}
	}
	require.Equal(t, 1, n)
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM user_events WHERE idempotency_key = 'same'`))
}

// recordingConsumer is a consumer that asks for a workflow start per event.
type recordingConsumer struct{ seen []string }

func (c *recordingConsumer) ConsumeEvent(_ context.Context, _ pgx.Tx, ev *ingest.StoredEvent, fx *ingest.Effects) error {
	c.seen = append(c.seen, ev.Name+":"+ev.UserKey)
	fx.Exits = append(fx.Exits, ingest.ExitResult{JourneyID: "j", StateID: ev.ID, Exited: true})
	return nil
}

func TestConsumersSeeEveryStoredEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := &recordingConsumer{}
	b.svc.Consumers = []ingest.Consumer{rc}
	r := b.ingest(t, ingest.Event{Name: "signup", UserID: "c1", IdempotencyKey: "k1"})
	require.Equal(t, []ingest.ExitResult{{JourneyID: "j", StateID: r.EventID, Exited: true}}, r.Exits)
	b.ingest(t, ingest.Event{Name: "signup", UserID: "c1", IdempotencyKey: "k1"})
	require.Equal(t, []string{"signup:c1"}, rc.seen, "a duplicate reaches no consumer")
}

func TestIngestTxJoinsTheCallersTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tx, err := b.pool.Begin(context.Background())
	require.NoError(t, err)
	_, err = b.svc.IngestTx(context.Background(), tx, ingest.Event{Name: "in-tx", UserID: "t1"})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(context.Background()))
	require.EqualValues(t, 0, b.one(t, `SELECT count(*) FROM user_events`), "rolled back with the caller's work")
	require.EqualValues(t, 0, b.one(t, `SELECT count(*) FROM contacts`))
}

func TestPublicShape(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.upsert(t, contacts.Identity{Email: "p@x.com"}).Contact
	raw, err := json.Marshal(ingest.Public(c))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	require.ElementsMatch(t, []string{"id", "externalId", "email", "properties", "firstSeenAt", "lastSeenAt", "createdAt", "updatedAt"}, keys(m))
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, m["createdAt"])
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

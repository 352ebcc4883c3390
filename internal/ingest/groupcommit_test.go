package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestGroupCommitCoalescesAndIsolates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	g := &ingest.GroupCommit{MaxWait: 5 * time.Millisecond, Committers: 2}
	b.svc.EnableGroupCommit(g)
	t.Cleanup(b.svc.Close)

	const n = 200
	type outcome struct {
		res ingest.Result
		err error
	}
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ev := ingest.Event{Name: "gc", UserID: fmt.Sprintf("user-%d", i%20), EventProperties: map[string]any{"i": i}}
			switch {
			case i%50 == 7:
				ev.UserID = "" // invalid: no identity
			case i%50 == 9:
				ev.IdempotencyKey = "shared-key" // four events, one stored
			}
			out[i].res, out[i].err = b.svc.Ingest(context.Background(), ev)
		})
	}
	wg.Wait()

	stored, invalid, dup := 0, 0, 0
	for i, o := range out {
		switch {
		case i%50 == 7:
			require.Error(t, o.err)
			invalid++
		case o.err != nil:
			t.Fatalf("event %d failed: %v", i, o.err)
		case o.res.Stored:
			stored++
			require.NotEmpty(t, o.res.EventID)
			require.Equal(t, fmt.Sprintf("user-%d", i%20), o.res.Contact.Key(), "each caller gets its own result")
		default:
			dup++
		}
	}
	require.Equal(t, 4, invalid)
	require.Equal(t, 3, dup)
	require.Equal(t, n-4-3, stored)
	require.EqualValues(t, stored, b.one(t, `SELECT count(*) FROM user_events`))
	require.EqualValues(t, 20, b.one(t, `SELECT count(*) FROM contacts`), "concurrent first events of a user create one contact")
	require.Less(t, g.Commits(), int64(n/4), "events share transactions")
}

func TestGroupCommitAfterCloseStillIngests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.svc.EnableGroupCommit(&ingest.GroupCommit{})
	b.svc.Close()
	r, err := b.svc.Ingest(context.Background(), ingest.Event{Name: "late", UserID: "u"})
	require.NoError(t, err)
	require.True(t, r.Stored)
}

// panicky panics on one event name, like a buggy consumer.
type panicky struct{}

func (panicky) ConsumeEvent(_ context.Context, _ pgx.Tx, ev *ingest.StoredEvent, _ *ingest.Effects) error {
	if ev.Name == "boom" {
		panic("consumer bug")
	}
	return nil
}

func TestGroupCommitSurvivesAPanickingConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.svc.Consumers = []ingest.Consumer{panicky{}}
	b.svc.EnableGroupCommit(&ingest.GroupCommit{})
	t.Cleanup(b.svc.Close)
	_, err := b.svc.Ingest(context.Background(), ingest.Event{Name: "boom", UserID: "p1"})
	require.ErrorContains(t, err, "panicked")
	r, err := b.svc.Ingest(context.Background(), ingest.Event{Name: "fine", UserID: "p1"})
	require.NoError(t, err)
	require.True(t, r.Stored)
	require.EqualValues(t, 0, b.one(t, `SELECT count(*) FROM user_events WHERE event = 'boom'`))
}

// lostCommitDB commits its next transaction and then reports the commit failed, as when the
// connection drops before COMMIT's answer arrives.
type lostCommitDB struct {
	store.DBTX
	lies atomic.Int32
}

func (d *lostCommitDB) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := d.DBTX.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return lostCommitTx{Tx: tx, db: d}, nil
}

type lostCommitTx struct {
	pgx.Tx
	db *lostCommitDB
}

func (t lostCommitTx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	if err == nil && t.db.lies.Add(-1) >= 0 {
		return errors.New("unexpected EOF: commit outcome unknown")
	}
	return err
}

func TestABatchWhoseCommitWasLostIsNotStoredTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	db := &lostCommitDB{DBTX: b.pool}
	db.lies.Store(1)
	svc := &ingest.Service{DB: db}
	svc.EnableGroupCommit(&ingest.GroupCommit{MaxWait: 200 * time.Millisecond, Committers: 1})
	t.Cleanup(svc.Close)

	const n = 10
	errs := make([]error, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := svc.Ingest(context.Background(), ingest.Event{Name: "keyless", UserID: fmt.Sprintf("u-%d", i)})
			ids[i], errs[i] = res.EventID, err
		})
	}
	wg.Wait()
	// Every call succeeds: the lost commit hit a shared batch, whose events were retried alone.
	for i := range n {
		require.NoError(t, errs[i])
		require.NotEmpty(t, ids[i])
	}
	require.EqualValues(t, n, b.one(t, `SELECT count(*) FROM user_events WHERE event = 'keyless'`), "each event stored once")
	require.EqualValues(t, n, b.one(t, `SELECT count(*) FROM user_events WHERE id = ANY($1::uuid[])`, ids))
}

func TestGroupCommittedUpsertsCreateEachContactOnceAndIsolateABadOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	schematest.Subscribe(t, b.pool, "http://127.0.0.1:1/hook", "contact.created", "contact.updated")
	g := &ingest.GroupCommit{MaxWait: 5 * time.Millisecond, Committers: 2}
	b.svc.EnableGroupCommit(g)
	t.Cleanup(b.svc.Close)

	const n = 200
	res := make([]contacts.Resolution, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			in := contacts.Identity{UserID: fmt.Sprintf("user-%d", i%20)}
			if i%50 == 7 {
				in.UserID = " " // no identity: fails alone
			}
			res[i], errs[i] = b.svc.Upsert(context.Background(), in)
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		if i%50 == 7 {
			require.ErrorIs(t, errs[i], contacts.ErrNoIdentity)
			continue
		}
		require.NoError(t, errs[i], "upsert %d", i)
		require.Equal(t, fmt.Sprintf("user-%d", i%20), res[i].Contact.Key(), "each caller gets its own contact")
		if res[i].Created {
			created++
		}
	}
	require.Equal(t, 20, created)
	require.EqualValues(t, 20, b.one(t, `SELECT count(*) FROM contacts`))
	require.EqualValues(t, 20, b.one(t, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'contact.created'`))
	require.EqualValues(t, 0, b.one(t, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'contact.updated'`), "no patch, no update")
	require.Less(t, g.Commits(), int64(n/4), "upserts share transactions")
}

func TestAnUpsertBatchWhoseCommitWasLostCreatesEachContactOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	schematest.Subscribe(t, b.pool, "http://127.0.0.1:1/hook", "contact.created")
	db := &lostCommitDB{DBTX: b.pool}
	db.lies.Store(1)
	svc := &ingest.Service{DB: db}
	svc.EnableGroupCommit(&ingest.GroupCommit{MaxWait: 200 * time.Millisecond, Committers: 1})
	t.Cleanup(svc.Close)

	const n = 10
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := svc.Upsert(context.Background(), contacts.Identity{UserID: fmt.Sprintf("u-%d", i)})
			ids[i], errs[i] = r.Contact.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.NotEmpty(t, ids[i])
	}
	require.EqualValues(t, n, b.one(t, `SELECT count(*) FROM contacts WHERE id = ANY($1::uuid[])`, ids), "retried alone, each finds its contact")
	require.EqualValues(t, n, b.one(t, `SELECT count(*) FROM webhook_deliveries`), "one contact.created each")
}

func TestABatchOfUpsertsCreatesItsNewPeopleTogetherAndResolvesTheRest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	schematest.Subscribe(t, b.pool, "http://127.0.0.1:1/hook", "contact.created", "contact.updated")
	known := b.upsert(t, contacts.Identity{UserID: "known", Email: "known@example.com"})
	g := &ingest.GroupCommit{MaxWait: 300 * time.Millisecond, Committers: 1}
	b.svc.EnableGroupCommit(g)
	t.Cleanup(b.svc.Close)

	ids := []contacts.Identity{
		{UserID: "n1"},
		{UserID: "n2", Email: " N2@Example.com", Patch: map[string]any{"plan": "pro", "gone": nil}},
		{Email: "known@example.com", Patch: map[string]any{"x": 1}}, // an existing contact: updated
		{UserID: "dup"}, {UserID: "dup"}, // one person twice in the batch: created once
		{UserID: " "}, // no identity
		{Email: "n3@example.com", UserID: "known"}, // a taken key: resolved, not created
	}
	res := make([]contacts.Resolution, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, in := range ids {
		wg.Go(func() { res[i], errs[i] = b.svc.Upsert(context.Background(), in) })
	}
	wg.Wait()

	for _, i := range []int{0, 1} {
		require.NoError(t, errs[i])
		require.True(t, res[i].Created, "%d", i)
	}
	require.Equal(t, "n2@example.com", *res[1].Contact.Email)
	require.Equal(t, map[string]any{"plan": "pro"}, res[1].Contact.Properties)
	require.NoError(t, errs[2])
	require.False(t, res[2].Created)
	require.Equal(t, known.Contact.ID, res[2].Contact.ID)
	require.NoError(t, errs[3])
	require.NoError(t, errs[4])
	require.Equal(t, res[3].Contact.ID, res[4].Contact.ID)
	require.True(t, res[3].Created != res[4].Created, "one of the two created it")
	require.ErrorIs(t, errs[5], contacts.ErrNoIdentity)
	require.NoError(t, errs[6])
	require.Equal(t, known.Contact.ID, res[6].Contact.ID, "linked to the holder of the user id")

	require.EqualValues(t, 4, b.one(t, `SELECT count(*) FROM contacts`))
	require.EqualValues(t, 4, b.one(t, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'contact.created'`),
		"known, n1, n2, dup: one each")
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'contact.updated'`))
	var data map[string]any
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT payload->'data' FROM webhook_deliveries
		WHERE event_type = 'contact.created' AND payload->'data'->>'externalId' = 'n2'`).Scan(&data))
	require.Equal(t, res[1].Contact.ID, data["id"])
	require.Equal(t, "n2@example.com", data["email"])
	require.Equal(t, map[string]any{"plan": "pro"}, data["properties"])
}

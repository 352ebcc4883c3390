package buckets_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/bucket"
	c "github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/internal/buckets"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// The spec's fixture buckets (§18) that the real-time path alone decides.
var fixtures = []*bucket.Bucket{
	bucket.MustDefine(bucket.Meta{ID: "t-pro", Name: "Pro", Enabled: true, Criteria: c.All(c.Prop("plan").Eq("pro"), c.Prop("converted").Neq(true))}),
	bucket.MustDefine(bucket.Meta{ID: "t-signed-up", Name: "Signed up", Enabled: true, Criteria: c.Event("signup").Exists()}),
	bucket.MustDefine(bucket.Meta{ID: "t-once", Name: "Once", Enabled: true, EntryLimit: bucket.EntryOnce, Criteria: c.Prop("plan").Eq("pro")}),
	bucket.MustDefine(bucket.Meta{ID: "t-period", Name: "Period", Enabled: true, EntryLimit: bucket.EntryOncePerPeriod,
		EntryPeriod: c.Seconds(5), Criteria: c.Prop("plan").Eq("pro")}),
	bucket.MustDefine(bucket.Meta{ID: "t-dormant", Name: "Dormant", Enabled: true,
		Criteria: c.All(c.Event("app.active").Exists(), c.Event("app.active").Within(c.Days(7)).NotExists())}),
	bucket.MustDefine(bucket.Meta{ID: "t-steady", Name: "Steady", Enabled: true, MinDwell: c.Hours(1), Criteria: c.Prop("tier").Eq("gold")}),
	bucket.MustDefine(bucket.Meta{ID: "t-off", Name: "Off", Enabled: false, Criteria: c.Event("signup").Exists()}),
}

type rig struct {
	pool *pgxpool.Pool
	svc  *ingest.Service
	now  time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	pool, _ := schematest.TestDB(t)
	reg, err := bucket.NewRegistry(fixtures, nil)
	require.NoError(t, err)
	r := &rig{pool: pool, now: time.Now()}
	consumer := &buckets.Consumer{Registry: reg, Now: func() time.Time { return r.now }}
	r.svc = &ingest.Service{DB: pool, Consumers: []ingest.Consumer{consumer}}
	consumer.Ingest = r.svc
	return r
}

// ingest stores ev at the rig's clock (unless it says when), so windows see it where the
// evaluator does.
func (r *rig) ingest(t *testing.T, ev ingest.Event) {
	t.Helper()
	if ev.OccurredAt == nil {
		at := r.now
		ev.OccurredAt = &at
	}
	res, err := r.svc.Ingest(context.Background(), ev)
	require.NoError(t, err)
	require.True(t, res.Stored)
}

// rows is user's membership rows of a bucket, oldest first, as "status/entryCount/source".
func (r *rig) rows(t *testing.T, bucketID, user string) []string {
	t.Helper()
	rows, err := r.pool.Query(context.Background(), `SELECT status::text || '/' || entry_count || '/' || coalesce(source, '')
		FROM bucket_memberships WHERE bucket_id = $1 AND user_id = $2 ORDER BY entry_count`, bucketID, user)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	return out
}

// events is user's stored events of a name, as their properties.
func (r *rig) events(t *testing.T, user, name string) []map[string]any {
	t.Helper()
	rows, err := r.pool.Query(context.Background(), `SELECT properties FROM user_events WHERE user_id = $1 AND event = $2
		ORDER BY occurred_at, (properties->>'entryCount')::int NULLS FIRST, id`, user, name)
	require.NoError(t, err)
	var out []map[string]any
	for rows.Next() {
		var p map[string]any
		require.NoError(t, rows.Scan(&p))
		out = append(out, p)
	}
	return out
}

func plan(user, p string) ingest.Event {
	return ingest.Event{Name: "user.updated", UserID: user, ContactProperties: map[string]any{"plan": p}}
}

func TestPropertyJoinStableLeaveAndEpochs(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	// 1. A property join, in the ingest transaction.
	r.ingest(t, plan("u1", "pro"))
	require.Equal(t, []string{"active/1/event"}, r.rows(t, "t-pro", "u1"))
	entered := r.events(t, "u1", "bucket:entered:t-pro")
	require.Len(t, entered, 1)
	require.Equal(t, map[string]any{"bucketId": "t-pro", "bucketName": "Pro", "userId": "u1", "transition": "entered",
		"source": "event", "entryCount": float64(1)}, entered[0])
	// 2. Stable: nothing new.
	r.ingest(t, plan("u1", "pro"))
	require.Equal(t, []string{"active/1/event"}, r.rows(t, "t-pro", "u1"))
	require.Len(t, r.events(t, "u1", "bucket:entered:t-pro"), 1)
	// 3. Contact state beats payload.
	r.ingest(t, ingest.Event{Name: "page.viewed", UserID: "u1", EventProperties: map[string]any{"plan": "free"}})
	require.Equal(t, []string{"active/1/event"}, r.rows(t, "t-pro", "u1"))
	// 4. Leave, with its reason.
	r.ingest(t, plan("u1", "free"))
	require.Equal(t, []string{"left/1/event"}, r.rows(t, "t-pro", "u1"))
	left := r.events(t, "u1", "bucket:left:t-pro")
	require.Len(t, left, 1)
	require.Equal(t, "criteria", left[0]["reason"])
	// 5. Re-entry: a new row per membership, epochs 1, 2, 3.
	for range 2 {
		r.ingest(t, plan("u1", "pro"))
		r.ingest(t, plan("u1", "free"))
	}
	require.Equal(t, []string{"left/1/event", "left/2/event", "left/3/event"}, r.rows(t, "t-pro", "u1"))
	var epochs []any
	for _, e := range r.events(t, "u1", "bucket:entered:t-pro") {
		epochs = append(epochs, e["entryCount"])
	}
	require.Equal(t, []any{float64(1), float64(2), float64(3)}, epochs)
	// A converted contact leaves on the other leg of the "and".
	r.ingest(t, plan("u2", "pro"))
	r.ingest(t, ingest.Event{Name: "user.updated", UserID: "u2", ContactProperties: map[string]any{"converted": true}})
	require.Equal(t, []string{"left/1/event"}, r.rows(t, "t-pro", "u2"))
}

func TestEntryLimitsGateTheEnteredEventNotTheRow(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	// 6. once: the rejoin writes its row, but no second entered event.
	r.ingest(t, plan("o1", "pro"))
	r.ingest(t, plan("o1", "free"))
	r.ingest(t, plan("o1", "pro"))
	require.Equal(t, []string{"left/1/event", "active/2/event"}, r.rows(t, "t-once", "o1"))
	require.Len(t, r.events(t, "o1", "bucket:entered:t-once"), 1)
	// 7. once_per_period: within 5 s of the leave, silent; after, announced.
	periodEntered := func() int { return len(r.events(t, "o1", "bucket:entered:t-period")) }
	require.Equal(t, 2, len(r.rows(t, "t-period", "o1")))
	require.Equal(t, 1, periodEntered(), "the rejoin right after the leave is silent")
	r.ingest(t, plan("o1", "free"))
	r.now = r.now.Add(6 * time.Second)
	r.ingest(t, plan("o1", "pro"))
	require.Equal(t, 2, periodEntered())
}

func TestEventBucketsBackdatedDormancyAndDisabledBuckets(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	// 8. An event bucket; an unrelated event makes no row.
	r.ingest(t, ingest.Event{Name: "signup", UserID: "e1"})
	require.Equal(t, []string{"active/1/event"}, r.rows(t, "t-signed-up", "e1"))
	r.ingest(t, ingest.Event{Name: "page.viewed", UserID: "e2"})
	require.Empty(t, r.rows(t, "t-signed-up", "e2"))
	require.Empty(t, r.rows(t, "t-off", "e1"), "a disabled bucket is never evaluated")
	// 9. A backdated activity makes the contact dormant at once; activity now ends it.
	back := r.now.Add(-30 * 24 * time.Hour)
	r.ingest(t, ingest.Event{Name: "app.active", UserID: "d1", OccurredAt: &back})
	require.Equal(t, []string{"active/1/event"}, r.rows(t, "t-dormant", "d1"))
	r.ingest(t, ingest.Event{Name: "app.active", UserID: "d1"})
	require.Equal(t, []string{"left/1/event"}, r.rows(t, "t-dormant", "d1"))
	require.Equal(t, "criteria", r.events(t, "d1", "bucket:left:t-dormant")[0]["reason"])

	// The admin switch stops evaluation too (a fresh consumer: its switches are read anew).
	fresh := newRig(t)
	_, err := fresh.pool.Exec(context.Background(), `INSERT INTO bucket_configs (bucket_id, enabled) VALUES ('t-signed-up', false)`)
	require.NoError(t, err)
	fresh.ingest(t, ingest.Event{Name: "signup", UserID: "e3"})
	require.Empty(t, fresh.rows(t, "t-signed-up", "e3"))
}

func TestMinDwellDefersALeave(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tier := func(v string) ingest.Event {
		return ingest.Event{Name: "user.updated", UserID: "m1", ContactProperties: map[string]any{"tier": v}}
	}
	r.ingest(t, tier("gold"))
	r.ingest(t, tier("silver"))
	require.Equal(t, []string{"active/1/event"}, r.rows(t, "t-steady", "m1"), "too young to leave")
	var expires time.Time
	require.NoError(t, r.pool.QueryRow(context.Background(), `SELECT expires_at FROM bucket_memberships WHERE bucket_id = 't-steady'`).Scan(&expires))
	require.WithinDuration(t, r.now.Add(time.Hour), expires, time.Second)
	r.now = r.now.Add(2 * time.Hour)
	r.ingest(t, tier("bronze"))
	require.Equal(t, []string{"left/1/event"}, r.rows(t, "t-steady", "m1"))
}

func TestConcurrentJoinsWriteOneRow(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := r.svc.Ingest(context.Background(), ingest.Event{Name: "signup", UserID: "race", IdempotencyKey: fmt.Sprint("s", i)})
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
	require.Equal(t, []string{"active/1/event"}, r.rows(t, "t-signed-up", "race"))
	require.Len(t, r.events(t, "race", "bucket:entered:t-signed-up"), 1)
}

func TestAMergeFoldsMembershipsOntoTheSurvivorSilently(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.ingest(t, plan("merge-a", "pro"))
	r.ingest(t, ingest.Event{Name: "user.updated", Email: "merge-b@example.com", ContactProperties: map[string]any{"plan": "pro"}})
	var loserKey string
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT user_id FROM bucket_memberships WHERE bucket_id = 't-pro' AND user_id <> 'merge-a'`).Scan(&loserKey))
	// The event names both: the contacts merge (§15).
	r.ingest(t, ingest.Event{Name: "user.updated", UserID: "merge-a", Email: "merge-b@example.com"})
	var survivor string
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT coalesce(external_id, anonymous_id, id::text) FROM contacts
		WHERE deleted_at IS NULL AND (external_id = 'merge-a' OR email = 'merge-b@example.com')`).Scan(&survivor))
	var active, left, leftEvents int
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'left')
		FROM bucket_memberships WHERE bucket_id = 't-pro' AND user_id = $1`, survivor).Scan(&active, &left))
	require.Equal(t, 1, active, "one active membership for the merged contact")
	require.Equal(t, 1, left, "the loser's row is folded in, closed")
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT count(*) FROM user_events WHERE event = 'bucket:left:t-pro'`).Scan(&leftEvents))
	require.Zero(t, leftEvents, "folding is not a leave anybody is told about")
	require.Empty(t, r.rows(t, "t-pro", loserKey))
}

func TestAccessCountsHasAndPagesMembers(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	for i := range 5 {
		r.ingest(t, ingest.Event{Name: "signup", UserID: fmt.Sprintf("acc-%d", i)})
	}
	a := buckets.Access{DB: r.pool}
	n, err := a.Count(ctx, "t-signed-up")
	require.NoError(t, err)
	require.Equal(t, 5, n)
	yes, err := a.Has(ctx, "t-signed-up", "acc-3")
	require.NoError(t, err)
	require.True(t, yes)
	yes, err = a.Has(ctx, "t-signed-up", "nobody")
	require.NoError(t, err)
	require.False(t, yes)
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := a.Members(ctx, "t-signed-up", 2, cursor)
		require.NoError(t, err)
		require.Equal(t, 5, page.Count)
		for _, m := range page.Data {
			seen[m.UserID] = true
			require.Equal(t, 1, m.EntryCount)
		}
		if page.Cursor == nil {
			require.Equal(t, 2, pages, "pages of 2, 2 and 1")
			break
		}
		cursor = *page.Cursor
	}
	require.Len(t, seen, 5)
	// A deleted contact is no member to anybody reading.
	_, err = r.pool.Exec(ctx, `UPDATE contacts SET deleted_at = now() WHERE external_id = 'acc-3'`)
	require.NoError(t, err)
	n, _ = a.Count(ctx, "t-signed-up")
	require.Equal(t, 4, n)
}

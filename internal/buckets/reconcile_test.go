package buckets_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/bucket"
	c "github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/internal/buckets"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/schema/schematest"
)

// The spec's clock-driven fixtures (§18).
var clockFixtures = []*bucket.Bucket{
	bucket.MustDefine(bucket.Meta{ID: "t-power", Name: "Power", Enabled: true, Criteria: c.Event("key.action").Within(c.Seconds(5)).AtLeast(3)}),
	bucket.MustDefine(bucket.Meta{ID: "t-window", Name: "Window", Enabled: true, Criteria: c.Event("ping").Within(c.Seconds(3)).Exists()}),
	bucket.MustDefine(bucket.Meta{ID: "t-lapsed", Name: "Lapsed", Enabled: true,
		Criteria: c.All(c.Event("beat").Exists(), c.Event("beat").Within(c.Seconds(3)).NotExists())}),
	bucket.MustDefine(bucket.Meta{ID: "t-ttl", Name: "TTL", Enabled: true, EntryLimit: bucket.EntryOnce, MaxDwell: c.Seconds(2),
		Criteria: c.Prop("tier").Eq("vip")}),
	bucket.MustDefine(bucket.Meta{ID: "t-dwell", Name: "Dwell", Enabled: true, Criteria: c.Prop("plan").Eq("x")}).
		OnDwell(bucket.DwellOptions{After: c.Seconds(2)}, func(journey.Context, journey.User, bucket.Transition) error { return nil }),
	bucket.MustDefine(bucket.Meta{ID: "t-plain", Name: "Plain", Enabled: true, Criteria: c.Prop("plan").Eq("pro")}),
}

type sweepRig struct {
	*rig
	rec *buckets.Reconciler
	d   *outbox.Dispatcher
}

func newSweepRig(t *testing.T) *sweepRig {
	t.Helper()
	pool, _ := schematest.TestDB(t)
	reg, err := bucket.NewRegistry(clockFixtures, nil)
	require.NoError(t, err)
	r := &rig{pool: pool, now: time.Now()}
	consumer := &buckets.Consumer{Registry: reg, Now: func() time.Time { return r.now }}
	r.svc = &ingest.Service{DB: pool, Consumers: []ingest.Consumer{consumer}}
	consumer.Ingest = r.svc
	d := &outbox.Dispatcher{DB: pool, Logger: slog.New(slog.DiscardHandler)}
	consumer.Register(d)
	return &sweepRig{rig: r, rec: &buckets.Reconciler{DB: pool, Registry: reg, Now: func() time.Time { return r.now }}, d: d}
}

// sweep runs one pass over a bucket until it has no more, then announces what it changed.
func (s *sweepRig) sweep(t *testing.T, bucketID, pass string) int {
	t.Helper()
	changed, cursor := 0, ""
	for {
		res, err := s.rec.Pass(context.Background(), bucketID, pass, cursor)
		require.NoError(t, err)
		changed += res.Changed
		if !res.More {
			break
		}
		cursor = res.Cursor
	}
	for {
		n, err := s.d.DispatchOnce(context.Background())
		require.NoError(t, err)
		if n == 0 {
			return changed
		}
	}
}

func (s *sweepRig) backfilled(t *testing.T, bucketID string) {
	t.Helper()
	_, err := s.pool.Exec(context.Background(), `INSERT INTO bucket_configs (bucket_id, criteria_hash) VALUES ($1, 'test')`, bucketID)
	require.NoError(t, err)
}

func TestThePlanVisitsClockDrivenBucketsOnly(t *testing.T) {
	t.Parallel()
	s := newSweepRig(t)
	plan, err := s.rec.Plan(context.Background())
	require.NoError(t, err)
	require.Equal(t, []buckets.Plan{
		{BucketID: "t-power", Passes: []string{buckets.PassLeaves}},
		{BucketID: "t-window", Passes: []string{buckets.PassLeaves}},
		{BucketID: "t-lapsed", Passes: []string{buckets.PassLeaves, buckets.PassJoins}},
		{BucketID: "t-ttl", Passes: []string{buckets.PassTTL}},
		{BucketID: "t-dwell", Passes: []string{buckets.PassDwell}},
	}, plan)
}

func TestSweepLeavesOnTheClock(t *testing.T) {
	t.Parallel()
	s := newSweepRig(t)
	// 10. A decaying count: three actions join at once; the sweep leaves them after the window.
	for range 3 {
		s.ingest(t, ingest.Event{Name: "key.action", UserID: "p1"})
	}
	require.Equal(t, []string{"active/1/event"}, s.rows(t, "t-power", "p1"))
	require.Zero(t, s.sweep(t, "t-power", buckets.PassLeaves), "still inside the window")
	s.now = s.now.Add(6 * time.Second)
	require.Equal(t, 1, s.sweep(t, "t-power", buckets.PassLeaves))
	require.Equal(t, []string{"left/1/event"}, s.rows(t, "t-power", "p1"))
	left := s.events(t, "p1", "bucket:left:t-power")
	require.Len(t, left, 1)
	require.Equal(t, "reconcile", left[0]["source"])
	require.Equal(t, "criteria", left[0]["reason"])

	// 11. A window leave.
	s.ingest(t, ingest.Event{Name: "ping", UserID: "w1"})
	require.Equal(t, []string{"active/1/event"}, s.rows(t, "t-window", "w1"))
	s.now = s.now.Add(4 * time.Second)
	require.Equal(t, 1, s.sweep(t, "t-window", buckets.PassLeaves))
	require.Equal(t, "reconcile", s.events(t, "w1", "bucket:left:t-window")[0]["source"])

	// 13. maxDwell: left with its reason; requalifying writes a row but (once) no entered event.
	s.ingest(t, ingest.Event{Name: "user.updated", UserID: "v1", ContactProperties: map[string]any{"tier": "vip"}})
	require.Zero(t, s.sweep(t, "t-ttl", buckets.PassTTL))
	s.now = s.now.Add(3 * time.Second)
	require.Equal(t, 1, s.sweep(t, "t-ttl", buckets.PassTTL))
	require.Equal(t, "maxDwell", s.events(t, "v1", "bucket:left:t-ttl")[0]["reason"])
	s.ingest(t, ingest.Event{Name: "user.updated", UserID: "v1", ContactProperties: map[string]any{"tier": "vip", "n": 2}})
	require.Equal(t, []string{"left/1/event", "active/2/event"}, s.rows(t, "t-ttl", "v1"))
	require.Len(t, s.events(t, "v1", "bucket:entered:t-ttl"), 1)
}

func TestSweepJoinsAbsenceBucketsOnceBackfilled(t *testing.T) {
	t.Parallel()
	s := newSweepRig(t)
	// 12. A beat now is present in the window: no member; later the clock makes it one.
	s.ingest(t, ingest.Event{Name: "beat", UserID: "b1"})
	s.ingest(t, ingest.Event{Name: "page.viewed", UserID: "never"})
	require.Empty(t, s.rows(t, "t-lapsed", "b1"))
	s.now = s.now.Add(4 * time.Second)
	require.Zero(t, s.sweep(t, "t-lapsed", buckets.PassJoins), "no joins before the first backfill")
	s.backfilled(t, "t-lapsed")
	require.Equal(t, 1, s.sweep(t, "t-lapsed", buckets.PassJoins))
	require.Equal(t, []string{"active/1/reconcile"}, s.rows(t, "t-lapsed", "b1"))
	entered := s.events(t, "b1", "bucket:entered:t-lapsed")
	require.Len(t, entered, 1)
	require.Equal(t, "reconcile", entered[0]["source"])
	require.Empty(t, s.rows(t, "t-lapsed", "never"), "a contact that never beat is never lapsed")
	require.Zero(t, s.sweep(t, "t-lapsed", buckets.PassJoins), "a member is not joined twice")
}

func TestSweepDwellsOncePerMembership(t *testing.T) {
	t.Parallel()
	s := newSweepRig(t)
	s.backfilled(t, "t-dwell")
	// 14. After two seconds of membership, one dwell event; the next sweep adds none.
	s.ingest(t, ingest.Event{Name: "user.updated", UserID: "x1", ContactProperties: map[string]any{"plan": "x"}})
	require.Zero(t, s.sweep(t, "t-dwell", buckets.PassDwell))
	s.now = s.now.Add(3 * time.Second)
	require.Equal(t, 1, s.sweep(t, "t-dwell", buckets.PassDwell))
	dwell := s.events(t, "x1", "bucket:dwell:t-dwell:after-2000")
	require.Len(t, dwell, 1)
	require.Equal(t, float64(1), dwell[0]["dwellCount"])
	require.Zero(t, s.sweep(t, "t-dwell", buckets.PassDwell))
	require.Len(t, s.events(t, "x1", "bucket:dwell:t-dwell:after-2000"), 1)
}

func TestFastExpiryArmsAtJoinAndLeavesOnlyAStillArmedNonMatchingRow(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	fast := bucket.MustDefine(bucket.Meta{ID: "t-fast", Name: "Fast", Enabled: true, FastExpiry: true,
		Criteria: c.Event("ping").Within(c.Seconds(3)).Exists()})
	reg, err := bucket.NewRegistry([]*bucket.Bucket{fast}, nil)
	require.NoError(t, err)
	r := &rig{pool: pool, now: time.Now()}
	consumer := &buckets.Consumer{Registry: reg, Now: func() time.Time { return r.now }}
	r.svc = &ingest.Service{DB: pool, Consumers: []ingest.Consumer{consumer}}
	consumer.Ingest = r.svc
	d := &outbox.Dispatcher{DB: pool, Logger: slog.New(slog.DiscardHandler)}
	consumer.Register(d)
	rec := &buckets.Reconciler{DB: pool, Registry: reg, Now: func() time.Time { return r.now }}
	ctx := context.Background()

	r.ingest(t, ingest.Event{Name: "ping", UserID: "f1"})
	var in contract.Expiry
	var raw []byte
	require.NoError(t, pool.QueryRow(ctx, `SELECT payload->'args'->0 FROM outbox WHERE payload->>'workflowType' = $1`,
		contract.BucketExpiryWorkflow).Scan(&raw))
	require.NoError(t, json.Unmarshal(raw, &in))
	require.WithinDuration(t, r.now.Add(3*time.Second), in.ArmedExpiresAt, time.Millisecond, "armed with the window's deadline")

	// Still inside the window (a fresh ping): the timer leaves it be.
	outcome, err := rec.Expire(ctx, in)
	require.NoError(t, err)
	require.Equal(t, buckets.ExpiryStillMember, outcome)
	// Past it: left, announced by the dispatcher.
	r.now = r.now.Add(4 * time.Second)
	outcome, err = rec.Expire(ctx, in)
	require.NoError(t, err)
	require.Equal(t, buckets.ExpiryLeft, outcome)
	_, err = d.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"left/1/event"}, r.rows(t, "t-fast", "f1"))
	require.Equal(t, "reconcile", r.events(t, "f1", "bucket:left:t-fast")[0]["source"])
	// A second timer of the same (left) row, or one whose deadline moved, does nothing.
	outcome, err = rec.Expire(ctx, in)
	require.NoError(t, err)
	require.Equal(t, buckets.ExpiryStale, outcome)
}

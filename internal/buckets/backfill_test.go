package buckets_test

import (
	"context"
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
	"github.com/hogsend/hogsend/schema/schematest"
)

// runBackfill runs a job the way the workflow does: join pages, leave pages when re-evaluating,
// then finish.
func runBackfill(t *testing.T, f *buckets.Backfiller, in contract.BackfillInput) {
	t.Helper()
	ctx := context.Background()
	ok, err := f.Begin(ctx, in)
	require.NoError(t, err)
	require.True(t, ok)
	pages := []func(context.Context, contract.BackfillInput, string) (contract.PassResult, error){f.JoinPage}
	if in.Mode == buckets.ModeReeval {
		pages = append(pages, f.LeavePage)
	}
	processed := 0
	for _, page := range pages {
		cursor := ""
		for {
			res, err := page(ctx, in, cursor)
			require.NoError(t, err)
			processed += res.Changed
			if !res.More {
				break
			}
			cursor = res.Cursor
		}
	}
	require.NoError(t, f.Finish(ctx, in, processed, processed))
}

func TestFirstTimeBackfillJoinsSilentlyAndReevalLeavesLoudly(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	// Contacts that exist before any bucket does.
	plain := &ingest.Service{DB: pool}
	for _, ev := range []ingest.Event{
		{Name: "user.updated", UserID: "bf-1", ContactProperties: map[string]any{"plan": "pro", "seats": 10}},
		{Name: "user.updated", UserID: "bf-2", ContactProperties: map[string]any{"plan": "pro", "seats": 2}},
		{Name: "user.updated", UserID: "bf-3", ContactProperties: map[string]any{"plan": "free"}},
	} {
		_, err := plain.Ingest(ctx, ev)
		require.NoError(t, err)
	}
	r := &rig{pool: pool, now: time.Now()}

	// 19. First time: matchers become members, source backfill, with no entered event.
	v1 := bucket.MustDefine(bucket.Meta{ID: "bf-pro", Name: "Pro", Enabled: true, Criteria: c.Prop("plan").Eq("pro")})
	reg1, err := bucket.NewRegistry([]*bucket.Bucket{v1}, nil)
	require.NoError(t, err)
	f := &buckets.Backfiller{DB: pool, Registry: reg1}
	due, err := f.Due(ctx)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, buckets.ModeFirstTime, due[0].Mode)
	again, err := f.Due(ctx)
	require.NoError(t, err)
	require.Equal(t, due[0].JobID, again[0].JobID, "an open job is reused, never orphaned")
	runBackfill(t, f, due[0])
	require.Equal(t, []string{"active/1/backfill"}, r.rows(t, "bf-pro", "bf-1"))
	require.Equal(t, []string{"active/1/backfill"}, r.rows(t, "bf-pro", "bf-2"))
	require.Empty(t, r.rows(t, "bf-pro", "bf-3"))
	require.Empty(t, r.events(t, "bf-1", "bucket:entered:bf-pro"))
	var status string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status::text FROM import_jobs WHERE id = $1`, due[0].JobID).Scan(&status))
	require.Equal(t, "completed", status)
	due, err = f.Due(ctx)
	require.NoError(t, err)
	require.Empty(t, due, "a finished backfill is not run again")

	// 20. Stricter criteria: the member that no longer matches leaves (announced, source
	// backfill); nobody new is announced.
	v2 := bucket.MustDefine(bucket.Meta{ID: "bf-pro", Name: "Pro", Enabled: true, Criteria: c.All(c.Prop("plan").Eq("pro"), c.Prop("seats").Gte(5))})
	reg2, err := bucket.NewRegistry([]*bucket.Bucket{v2}, nil)
	require.NoError(t, err)
	f2 := &buckets.Backfiller{DB: pool, Registry: reg2}
	due, err = f2.Due(ctx)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, buckets.ModeReeval, due[0].Mode)
	runBackfill(t, f2, due[0])
	consumer := &buckets.Consumer{Registry: reg2, Ingest: &ingest.Service{DB: pool}}
	d := &outbox.Dispatcher{DB: pool, Logger: slog.New(slog.DiscardHandler)}
	consumer.Register(d)
	_, err = d.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"active/1/backfill"}, r.rows(t, "bf-pro", "bf-1"))
	require.Equal(t, []string{"left/1/backfill"}, r.rows(t, "bf-pro", "bf-2"))
	left := r.events(t, "bf-2", "bucket:left:bf-pro")
	require.Len(t, left, 1)
	require.Equal(t, "backfill", left[0]["source"])
	due, err = f2.Due(ctx)
	require.NoError(t, err)
	require.Empty(t, due)
}

func TestBackfillOfABareAbsenceIsLapsedOnlyAndAnchorsDwell(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	plain := &ingest.Service{DB: pool}
	old := time.Now().Add(-30 * 24 * time.Hour)
	for _, ev := range []ingest.Event{
		{Name: "app.active", UserID: "ab-1", OccurredAt: &old},
		{Name: "app.active", UserID: "ab-2"},
		{Name: "page.viewed", UserID: "ab-3"},
	} {
		_, err := plain.Ingest(ctx, ev)
		require.NoError(t, err)
	}
	quiet := bucket.MustDefine(bucket.Meta{ID: "ab-quiet", Name: "Quiet", Enabled: true, Criteria: c.Event("app.active").Within(c.Days(7)).NotExists()})
	reg, err := bucket.NewRegistry([]*bucket.Bucket{quiet}, nil)
	require.NoError(t, err)
	f := &buckets.Backfiller{DB: pool, Registry: reg}
	due, err := f.Due(ctx)
	require.NoError(t, err)
	runBackfill(t, f, due[0])
	r := &rig{pool: pool}
	require.Equal(t, []string{"active/1/backfill"}, r.rows(t, "ab-quiet", "ab-1"))
	require.Empty(t, r.rows(t, "ab-quiet", "ab-2"), "active recently")
	require.Empty(t, r.rows(t, "ab-quiet", "ab-3"), "never active: not lapsed")
	var anchor time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT dwell_anchor_at FROM bucket_memberships WHERE user_id = 'ab-1'`).Scan(&anchor))
	require.WithinDuration(t, old, anchor, time.Millisecond, "dwell counts from the last activity")
}

func TestABackfillPageWaitsForAnIngestChangingItsContacts(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO contacts (external_id, properties) VALUES ('race-1', '{"plan":"pro"}')`)
	require.NoError(t, err)
	pro := bucket.MustDefine(bucket.Meta{ID: "race-pro", Name: "Pro", Enabled: true, Criteria: c.Prop("plan").Eq("pro")})
	reg, err := bucket.NewRegistry([]*bucket.Bucket{pro}, nil)
	require.NoError(t, err)
	f := &buckets.Backfiller{DB: pool, Registry: reg}
	due, err := f.Due(ctx)
	require.NoError(t, err)

	// An ingest in flight is changing the contact: the page must not judge the old state.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE contacts SET properties = '{"plan":"free"}' WHERE external_id = 'race-1'`)
	require.NoError(t, err)
	done := make(chan contract.PassResult, 1)
	go func() {
		res, err := f.JoinPage(ctx, due[0], "")
		require.NoError(t, err)
		done <- res
	}()
	require.Eventually(t, func() bool {
		var waiting int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		return waiting == 1
	}, 10*time.Second, 10*time.Millisecond, "the page waits on the contact's row lock")
	require.Empty(t, done, "nothing was judged while the ingest was open")
	require.NoError(t, tx.Commit(ctx))
	res := <-done
	require.Zero(t, res.Changed, "it judged the committed state: plan free")
}

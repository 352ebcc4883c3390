package journeys_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/journeys"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

func TestTheWatchdogRestartsOrFailsEveryStalledEnrolment(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	// One live state per case; all but "fresh" were enrolled two minutes ago.
	states := map[string]string{}
	for _, c := range []struct{ user, journey, age, runID string }{
		{"dispatched", "j", "2 minutes", ""}, {"pending", "j", "2 minutes", ""}, {"dead", "j", "2 minutes", ""},
		{"missing", "j", "2 minutes", ""}, {"undefined", "gone", "2 minutes", ""}, {"fresh", "j", "1 second", ""},
		{"running", "j", "2 minutes", "run-1"},
	} {
		var id string
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO journey_states (user_id, user_email, journey_id, run_id, created_at)
			VALUES ($1, '', $2, nullif($3, ''), now() - $4::interval) RETURNING id::text`, c.user, c.journey, c.runID, c.age).Scan(&id))
		states[c.user] = id
		if c.user != "missing" {
			_, err := outbox.Append(ctx, pool, []outbox.Intent{{Kind: journeys.KindStart, DedupeKey: journeys.KindStart + ":" + id}})
			require.NoError(t, err)
		}
	}
	_, err := pool.Exec(ctx, `UPDATE outbox SET dispatched_at = now() WHERE dedupe_key = ANY($1)`,
		[]string{"journey.start:" + states["dispatched"], "journey.start:" + states["undefined"], "journey.start:" + states["fresh"], "journey.start:" + states["running"]})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE outbox SET dispatched_at = now(), dead_lettered_at = now(), last_error = 'temporal: namespace not found'
		WHERE dedupe_key = $1`, "journey.start:"+states["dead"])
	require.NoError(t, err)

	w := &journeys.Watchdog{DB: pool, Defined: func(id string) bool { return id == "j" }}
	res, err := w.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, journeys.SweepResult{Redispatched: 1, Failed: 3}, res)

	status := func(user string) (string, string) {
		var s, msg string
		require.NoError(t, pool.QueryRow(ctx, `SELECT status::text, coalesce(error_message, '') FROM journey_states WHERE id = $1`, states[user]).Scan(&s, &msg))
		return s, msg
	}
	for user, want := range map[string][2]string{
		"dispatched": {"active", ""}, "pending": {"active", ""}, "fresh": {"active", ""}, "running": {"active", ""},
		"dead":      {"failed", "could not start: temporal: namespace not found"},
		"missing":   {"failed", "could not start: its start intent is gone"},
		"undefined": {"failed", `could not start: journey "gone" is not defined in this engine`},
	} {
		s, msg := status(user)
		require.Equal(t, want, [2]string{s, msg}, user)
	}
	pending, err := store.OutboxPending(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, 2, pending, "the dispatched start is due again beside the one still pending")

	res, err = w.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, journeys.SweepResult{}, res, "a re-dispatched start is left to the outbox")
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

func enroll(t *testing.T, db store.DBTX, limit string, key string) (store.JourneyState, string) {
	t.Helper()
	s, skip, err := store.EnrollJourney(context.Background(), db, store.Enrollment{JourneyID: "welcome", UserKey: "u1", UserEmail: "u1@x.com",
		Key: key, EntryLimit: limit, Period: time.Hour, WorkflowID: "journey:welcome:c1", Context: map[string]any{"plan": "pro"}, Trigger: "user.signed_up"})
	require.NoError(t, err)
	return s, skip
}

func TestEnrollmentGuards(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()

	s, skip := enroll(t, pool, "unlimited", "")
	require.Empty(t, skip)
	require.Equal(t, "active", s.Status)
	require.Equal(t, "start", s.CurrentNodeID)
	require.Equal(t, 1, s.EntryCount)
	require.Equal(t, map[string]any{"plan": "pro"}, s.Context)
	_, skip = enroll(t, pool, "unlimited", "")
	require.Equal(t, store.SkipAlreadyActive, skip)
	_, skip = enroll(t, pool, "unlimited", "cart-2")
	require.Empty(t, skip, "a keyed journey runs once per key at a time")

	ok, err := store.CompleteJourney(ctx, pool, s.ID)
	require.NoError(t, err)
	require.True(t, ok)
	again, skip := enroll(t, pool, "unlimited", "")
	require.Empty(t, skip, "re-entry after completion")
	require.Equal(t, 2, again.EntryCount, "entries are counted per key")
	_, skip = enroll(t, pool, "once", "")
	require.Equal(t, store.SkipEnteredOnce, skip)
	_, skip = enroll(t, pool, "once_per_period", "")
	require.Equal(t, store.SkipPeriod, skip)
	first, skip := enroll(t, pool, "once", "x")
	require.Empty(t, skip, "a key's first entry")
	require.Equal(t, 1, first.EntryCount)

	_, err = pool.Exec(ctx, `INSERT INTO email_preferences (user_id, email, unsubscribed_all) VALUES ('u1', 'u1@x.com', true)`)
	require.NoError(t, err)
	_, skip = enroll(t, pool, "unlimited", "z")
	require.Equal(t, store.SkipUnsubscribed, skip)
	_, err = pool.Exec(ctx, `INSERT INTO journey_configs (journey_id, enabled) VALUES ('welcome', false)`)
	require.NoError(t, err)
	_, skip = enroll(t, pool, "unlimited", "z")
	require.Equal(t, store.SkipDisabledByAdmin, skip, "the admin switch is checked first")
}

func TestTransitionsNeverLeaveATerminalState(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	s, _ := enroll(t, pool, "unlimited", "")
	wake := time.Now().Add(time.Hour)

	ok, err := store.EnterWait(ctx, pool, store.Transition{StateID: s.ID, Step: "w1", Label: "wait-event:app.activated"}, "app.activated", "w1", &wake)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = store.EnterWait(ctx, pool, store.Transition{StateID: s.ID, Step: "w1", Label: "wait-event:app.activated"}, "app.activated", "w1", &wake)
	require.NoError(t, err)
	require.True(t, ok, "a retried activity is harmless")
	live, err := store.LiveJourneyStates(ctx, pool, "u1")
	require.NoError(t, err)
	require.Equal(t, "app.activated", *live[0].WaitingEvent)

	ok, err = store.ExitJourney(ctx, pool, s.ID, "exit_on", "user.deleted")
	require.NoError(t, err)
	require.True(t, ok)
	for name, f := range map[string]func() (bool, error){
		"resume": func() (bool, error) { return store.ResumeWait(ctx, pool, store.Transition{StateID: s.ID, Step: "r1"}) },
		"checkpoint": func() (bool, error) {
			return store.CheckpointJourney(ctx, pool, store.Transition{StateID: s.ID, Step: "c1", Label: "x"})
		},
		"complete":   func() (bool, error) { return store.CompleteJourney(ctx, pool, s.ID) },
		"fail":       func() (bool, error) { return store.FailJourney(ctx, pool, s.ID, "boom") },
		"exit again": func() (bool, error) { return store.ExitJourney(ctx, pool, s.ID, "admin_cancel", "") },
	} {
		ok, err := f()
		require.NoError(t, err, name)
		require.False(t, ok, "%s after an exit reports the run ended", name)
	}
	got, err := store.JourneyStateByID(ctx, pool, s.ID)
	require.NoError(t, err)
	require.Equal(t, "exited", got.Status)
	require.NotNil(t, got.ExitedAt)
	require.Nil(t, got.WaitingEvent)

	var actions []string
	rows, err := pool.Query(ctx, `SELECT action FROM journey_logs WHERE journey_state_id = $1 ORDER BY seq`, s.ID)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.Equal(t, []string{"entered", "waiting", "exited"}, actions, "one log row per transition, once")
}

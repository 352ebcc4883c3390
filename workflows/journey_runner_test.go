package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/journeytest"
	"github.com/hogsend/hogsend/workflows"
)

func define(t *testing.T, id string, run journey.RunFunc) *journey.Journey {
	t.Helper()
	j, err := journey.Define(journey.Meta{ID: id, Name: id, Enabled: true, EntryLimit: journey.EntryUnlimited,
		Trigger: journey.Trigger{Event: "go"}, ExitOn: []journey.ExitRule{{Event: "stop"}}}, run)
	require.NoError(t, err)
	return j
}

func TestAPanicInJourneyCodeFailsTheRunWithItsMessage(t *testing.T) {
	t.Parallel()
	j := define(t, "panics", func(ctx journey.Context, u journey.User) error {
		if err := ctx.Checkpoint("before"); err != nil {
			return err
		}
		var m map[string]int
		m["boom"]++ // nil map write: a runtime panic in user code
		return nil
	})
	env := journeytest.New(t, j)
	env.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusFailed, env.Status())
	require.Contains(t, env.Error(), "panic: assignment to entry in nil map")

	explicit := journeytest.New(t, define(t, "panics-explicitly", func(journey.Context, journey.User) error { panic("bad data") }))
	explicit.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusFailed, explicit.Status())
	require.Equal(t, "panic: bad data", explicit.Error())
}

func TestAnErrorFailsTheRunButErrExitedDoesNot(t *testing.T) {
	t.Parallel()
	failing := journeytest.New(t, define(t, "errs", func(journey.Context, journey.User) error { return errors.New("crm is down") }))
	failing.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusFailed, failing.Status())
	require.Equal(t, "crm is down", failing.Error())

	exiting := journeytest.New(t, define(t, "exits", func(ctx journey.Context, u journey.User) error {
		_, err := ctx.Sleep(journey.Days(3), "")
		require.ErrorIs(t, err, journey.ErrExited)
		require.ErrorIs(t, ctx.Checkpoint("after"), journey.ErrExited) // every later call refuses
		return err
	}))
	exiting.Emit("stop", journey.Days(1))
	exiting.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusExited, exiting.Status())
	require.Equal(t, []string{"entered:start", `waiting:wait:{"hours":72}`, "exited:exit_on"}, exiting.Steps())
}

func TestAdminCancelDuringAWaitExitsTheRun(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, define(t, "waits", func(ctx journey.Context, u journey.User) error {
		_, err := ctx.WaitForEvent("never", journey.Days(30), "")
		return err
	}))
	env.Cancel(journey.Hours(1))
	env.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusExited, env.Status())
	require.Equal(t, time.Hour, env.Elapsed())
}

func TestLongSleepsHaveNoCap(t *testing.T) {
	t.Parallel()
	var res journey.SleepResult
	env := journeytest.New(t, define(t, "sleeps-long", func(ctx journey.Context, u journey.User) error {
		var err error
		res, err = ctx.SleepUntil(time.Date(2027, 6, 1, 9, 0, 0, 0, time.UTC), "")
		return err
	}))
	env.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusCompleted, env.Status())
	require.Equal(t, "2027-06-01T09:00:00.000Z", res.ResumedAt)
	require.Greater(t, env.Elapsed(), 60*24*time.Hour)
	require.Equal(t, "waiting:wait-until:2027-06-01T09:00:00.000Z", env.Steps()[1])
}

func TestWhenSchedulesInTheContactsZone(t *testing.T) {
	t.Parallel()
	var at time.Time
	env := journeytest.New(t, define(t, "schedules", func(ctx journey.Context, u journey.User) error {
		var err error
		if at, err = ctx.When().Tomorrow().At("09:00"); err != nil {
			return err
		}
		_, err = ctx.SleepUntil(at, "tomorrow-morning")
		return err
	}))
	env.Run(journeytest.User{ID: "u1", Timezone: "Asia/Tokyo"})
	require.Equal(t, journey.StatusCompleted, env.Status())
	local := at.In(time.FixedZone("JST", 9*3600))
	require.Equal(t, 9, local.Hour())
	require.Less(t, env.Elapsed(), 48*time.Hour)

	bad := journeytest.New(t, define(t, "bad-zone", func(ctx journey.Context, u journey.User) error {
		_, err := ctx.When().TZ("Mars/Olympus").NextLocal("09:00")
		return err
	}))
	bad.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusFailed, bad.Status())
	require.Contains(t, bad.Error(), "invalid time zone")
}

func TestPatchedIsTrueForNewRuns(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, define(t, "patched", func(ctx journey.Context, u journey.User) error {
		if ctx.Patched("v2") {
			return ctx.Checkpoint("new-path")
		}
		return ctx.Checkpoint("old-path")
	}))
	env.Run(journeytest.User{ID: "u1"})
	require.Contains(t, env.Steps(), "checkpoint:new-path")
}

func TestWaitForEventRequiresAPositiveTimeout(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, define(t, "no-timeout", func(ctx journey.Context, u journey.User) error {
		_, err := ctx.WaitForEvent("x", journey.Seconds(0), "")
		return err
	}))
	env.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusFailed, env.Status())
	require.Equal(t, "WaitForEvent: timeout must be positive", env.Error())
}

func TestExecuteActivityRunsAnApplicationActivity(t *testing.T) {
	t.Parallel()
	var got string
	env := journeytest.New(t, define(t, "calls-crm", func(ctx journey.Context, u journey.User) error {
		return ctx.ExecuteActivity("crm-tag", &got, u.ID, "trial")
	}))
	env.Temporal().RegisterActivityWithOptions(func(_ context.Context, user, tag string) (string, error) {
		return user + ":" + tag, nil
	}, activity.RegisterOptions{Name: "crm-tag"})
	env.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusCompleted, env.Status())
	require.Equal(t, "u1:trial", got)
}

func TestSleepUntilISORejectsAMalformedTime(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, define(t, "bad-iso", func(ctx journey.Context, u journey.User) error {
		_, err := journey.SleepUntilISO(ctx, "next tuesday", "")
		return err
	}))
	env.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusFailed, env.Status())
	require.Contains(t, env.Error(), "not an RFC 3339 time")
}

// runAgainst runs a journey of one checkpoint against a transition activity that answers the
// n-th attempt of a transition of kind with fail(n).
func runAgainst(t *testing.T, kind string, fail func(attempt int) error) (workflows.JourneyResult, error, int) {
	t.Helper()
	j := define(t, "one-checkpoint", func(ctx journey.Context, _ journey.User) error { return ctx.Checkpoint("only") })
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.JourneyWorkflow(j), workflow.RegisterOptions{Name: journey.WorkflowName(j.ID)})
	attempts := 0
	env.RegisterActivityWithOptions(func(_ context.Context, in contract.TransitionInput) (contract.TransitionResult, error) {
		if in.Kind == kind {
			attempts++
			if err := fail(attempts); err != nil {
				return contract.TransitionResult{}, err
			}
		}
		return contract.TransitionResult{Applied: true}, nil
	}, activity.RegisterOptions{Name: contract.JourneyTransitionName})
	env.ExecuteWorkflow(journey.WorkflowName(j.ID), workflows.JourneyInput{StateID: "s1", JourneyID: j.ID, UserID: "u1"})
	require.True(t, env.IsWorkflowCompleted())
	var res workflows.JourneyResult
	err := env.GetWorkflowError()
	if err == nil {
		require.NoError(t, env.GetWorkflowResult(&res))
	}
	return res, err, attempts
}

func TestTheFinalWriteOutlastsAnOutage(t *testing.T) {
	t.Parallel()
	// Twenty failures span ~15 minutes of backoff: more than any step's retry budget.
	res, err, attempts := runAgainst(t, contract.TransitionComplete, func(n int) error {
		if n <= 20 {
			return errors.New("dial tcp: connection refused")
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, journey.StatusCompleted, res.Status)
	require.Equal(t, 21, attempts)
}

func TestAFinalWriteThatCannotLandIsNotCalledAnExit(t *testing.T) {
	t.Parallel()
	res, err, _ := runAgainst(t, contract.TransitionComplete, func(int) error {
		return temporal.NewNonRetryableApplicationError("unknown transition", "BadTransition", nil)
	})
	require.Error(t, err, "the run fails visibly; the row is still live")
	require.NotEqual(t, journey.StatusExited, res.Status)
}

func TestAStepOutlastsATwoMinuteOutage(t *testing.T) {
	t.Parallel()
	// Eight failures back off for about two minutes, far past the step's 10 s attempt timeout.
	res, err, attempts := runAgainst(t, contract.TransitionCheckpoint, func(n int) error {
		if n <= 8 {
			return errors.New("dial tcp: connection refused")
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, journey.StatusCompleted, res.Status)
	require.Equal(t, 9, attempts)
}

package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// JourneyWatchdogName is the workflow type of JourneyWatchdog, run every minute by the
// schedule the worker keeps (worker.WatchdogScheduleID).
const JourneyWatchdogName = "hogsend-journey-watchdog"

// JourneyWatchdog makes one sweep over enrolments that never got a run: their start is
// dispatched again, or, when it never can be, the state is failed with the reason.
func JourneyWatchdog(ctx workflow.Context) (contract.SweepResult, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 50 * time.Second, // before the next scheduled run
		StartToCloseTimeout:    20 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var res contract.SweepResult
	err := workflow.ExecuteLocalActivity(ctx, contract.SweepStalledStartsName).Get(ctx, &res)
	return res, err
}

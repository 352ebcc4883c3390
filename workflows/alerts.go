package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// CheckAlertsName is the workflow type of CheckAlerts, run on ALERTS_CHECK_CRON by the
// schedule the worker keeps (worker.AlertsScheduleID).
const CheckAlertsName = "hogsend-check-alerts"

// CheckAlerts evaluates the alert rules once: one activity, retried once.
func CheckAlerts(ctx workflow.Context) (contract.AlertCheckResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 60 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 2},
	})
	var res contract.AlertCheckResult
	err := workflow.ExecuteActivity(ctx, contract.CheckAlertsName).Get(ctx, &res)
	return res, err
}

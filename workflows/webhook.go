package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// DeliverWebhookName is the workflow type of DeliverWebhook, one run per delivery that needed
// a retry (contract.DeliveryWorkflowID); the first attempt happens without a workflow.
const DeliverWebhookName = contract.DeliverWebhookWorkflow

// attemptsPerRun bounds a run's history (only a very large OUTBOUND_WEBHOOK_MAX_ATTEMPTS gets
// there); the run continues as new.
const attemptsPerRun = 50

// DeliverWebhook retries a delivery on durable timers: it sleeps until the row's
// next_retry_at, attempts, and repeats until the delivery is delivered, failed (dead-lettered)
// or discarded. An HTTP failure is an outcome, not an activity error; the activity's retries
// are for database faults. The row is the source of truth, so a late or second run does nothing.
func DeliverWebhook(ctx workflow.Context, in contract.DeliverWebhookInput) (contract.DeliveryOutcome, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 45 * time.Second, // the 15 s POST, with room for the row's writes
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	for range attemptsPerRun {
		var out contract.DeliveryOutcome
		if err := workflow.ExecuteActivity(ctx, contract.AttemptWebhookDeliveryName, in.DeliveryID).Get(ctx, &out); err != nil {
			return out, err
		}
		if out.Status != "pending" || out.NextRetryAt == nil {
			return out, nil
		}
		// Not before next_retry_at; a clock a hair behind the activity's waits a little more.
		if err := workflow.Sleep(ctx, max(out.NextRetryAt.Sub(workflow.Now(ctx)), 200*time.Millisecond)); err != nil {
			return out, err
		}
	}
	return contract.DeliveryOutcome{}, workflow.NewContinueAsNewError(ctx, DeliverWebhookName, in)
}

// WebhookSweeperName is the workflow type of WebhookSweeper, run on OUTBOUND_WEBHOOK_REAPER_CRON
// by the schedule the worker keeps (worker.WebhookSweeperScheduleID).
const WebhookSweeperName = "hogsend-webhook-sweeper"

// WebhookSweeper re-drives deliveries nothing drives: due but without a run, or stuck sending.
func WebhookSweeper(ctx workflow.Context) (contract.WebhookSweepResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 2},
	})
	var res contract.WebhookSweepResult
	err := workflow.ExecuteActivity(ctx, contract.SweepWebhookDeliveriesName).Get(ctx, &res)
	return res, err
}

// Package workflows holds the engine's Temporal workflow code: deterministic orchestration only
// (no SQL, no HTTP, no wall clock, no goroutines). Durable names are constants, never derived
// from Go function names.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// PingName is the workflow type of Ping.
const PingName = "hogsend-ping"

// PingResult says which worker served the ping and that it reached the database.
type PingResult struct {
	Worker   string
	Database bool
}

// Ping proves the whole path end to end: a worker polls the task queue and its activities reach
// Postgres. `hogsend dev` runs it before printing the ready banner; operators can run it with
// `temporal workflow execute --type hogsend-ping --task-queue hogsend`.
func Ping(ctx workflow.Context) (PingResult, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var res contract.PingDatabaseResult
	if err := workflow.ExecuteLocalActivity(ctx, contract.PingDatabaseName).Get(ctx, &res); err != nil {
		return PingResult{}, err
	}
	return PingResult{Worker: res.Worker, Database: true}, nil
}

// Definition is a built-in workflow and the name it is registered under.
type Definition struct {
	Name string
	Func any
}

// Builtins are the engine's own workflows. The worker registers each one, and the replay test
// requires a recorded history (testdata/<name>.json) for each one.
var Builtins = []Definition{
	{Name: PingName, Func: Ping},
	{Name: ImportContactsName, Func: ImportContacts},
	{Name: JourneyWatchdogName, Func: JourneyWatchdog},
	{Name: BucketReconcileName, Func: BucketReconcile},
	{Name: BucketBackfillName, Func: BucketBackfill},
	{Name: BucketExpiryName, Func: BucketExpiry},
	{Name: SendCampaignName, Func: SendCampaign},
	{Name: CampaignReaperName, Func: CampaignReaper},
	{Name: DeliverWebhookName, Func: DeliverWebhook},
	{Name: WebhookSweeperName, Func: WebhookSweeper},
	{Name: CheckAlertsName, Func: CheckAlerts},
}

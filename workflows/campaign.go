package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// SendCampaignName is the workflow type of SendCampaign, one run at a time per campaign
// (contract.CampaignWorkflowID).
const SendCampaignName = contract.SendCampaignWorkflow

// sendsPerRun bounds a run's history: after that many send activities it continues as new.
const sendsPerRun = 200

// Campaign statuses a run acts on (the row's; see store.Campaign*).
const (
	campaignScheduled = "scheduled"
	campaignSending   = "sending"
	campaignPaused    = "paused"
)

// SendCampaign is a campaign's send. The campaigns row holds status and progress; the run
// waits (for its scheduled time, or while paused), calls the send activity, which sends pages
// from the stored resume point until it is done, told to stop or out of budget, and completes
// the campaign. A control signal (pause, resume, cancel, give-up) makes it read the status
// again. It never marks the campaign failed: a run that ends in an error leaves it sending,
// and the reaper starts a fresh run.
func SendCampaign(ctx workflow.Context, in contract.CampaignInput) error {
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: []string{contract.ErrCampaignNotFoundType}},
	})
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 10, NonRetryableErrorTypes: []string{contract.ErrCampaignNotFoundType}},
	})
	control := workflow.GetSignalChannel(ctx, contract.CampaignControlSignal)
	drain := func() {
		for control.ReceiveAsync(nil) {
		}
	}
	begin := func(revive bool) (contract.CampaignState, error) {
		var st contract.CampaignState
		err := workflow.ExecuteActivity(short, contract.BeginCampaignName, contract.BeginCampaignInput{
			CampaignID: in.CampaignID, AsOf: workflow.Now(ctx), Revive: revive}).Get(ctx, &st)
		return st, err
	}
	st, err := begin(!in.Continued)
	if err != nil {
		return err
	}
	for sends := 0; ; {
		switch st.Status {
		case campaignScheduled:
			if st.ScheduledAt != nil {
				waitForSignalOr(ctx, control, st.ScheduledAt.Sub(workflow.Now(ctx)))
			}
		case campaignPaused:
			control.Receive(ctx, nil)
		case campaignSending:
			if sends == sendsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				return workflow.NewContinueAsNewError(ctx, SendCampaignName, contract.CampaignInput{CampaignID: in.CampaignID, Continued: true})
			}
			sends++
			var p contract.CampaignProgress
			if err := workflow.ExecuteActivity(long, contract.SendCampaignName, in.CampaignID).Get(ctx, &p); err != nil {
				return err
			}
			if p.Done && p.Status == campaignSending {
				return workflow.ExecuteActivity(short, contract.CompleteCampaignName, in.CampaignID).Get(ctx, nil)
			}
			if p.Status == campaignSending {
				continue // out of budget: the next activity goes on
			}
		default: // sent, cancelled, or failed without a revive: nothing to do
			return nil
		}
		drain()
		if st, err = begin(false); err != nil {
			return err
		}
	}
}

// waitForSignalOr blocks until a signal arrives on ch or d has passed.
func waitForSignalOr(ctx workflow.Context, ch workflow.ReceiveChannel, d time.Duration) {
	if d <= 0 {
		return
	}
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(timerCtx, d), func(workflow.Future) {})
	sel.AddReceive(ch, func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
}

// CampaignReaperName is the workflow type of CampaignReaper, run on CAMPAIGN_REAPER_CRON by
// the schedule the worker keeps (worker.CampaignReaperScheduleID).
const CampaignReaperName = "hogsend-campaign-reaper"

// CampaignReaper makes one pass over campaigns that stopped progressing: given up after the
// give-up window, re-driven after the stale window.
func CampaignReaper(ctx workflow.Context) (contract.ReapResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 2},
	})
	var res contract.ReapResult
	err := workflow.ExecuteActivity(ctx, contract.ReapCampaignsName).Get(ctx, &res)
	return res, err
}

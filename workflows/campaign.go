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
	waves, wave := in.Waves, in.Wave
	for sends := 0; ; {
		switch st.Status {
		case campaignScheduled:
			if st.ScheduledAt != nil {
				waitForSignalOr(ctx, control, st.ScheduledAt.Sub(workflow.Now(ctx)))
			}
		case campaignPaused:
			control.Receive(ctx, nil)
		case campaignSending:
			if st.LocalTime != "" && waves == nil {
				if err := workflow.ExecuteActivity(short, contract.PlanCampaignName, contract.PlanWavesInput{
					CampaignID: in.CampaignID, AsOf: workflow.Now(ctx)}).Get(ctx, &waves); err != nil {
					return err
				}
			}
			send := contract.SendPagesInput{CampaignID: in.CampaignID}
			if waves != nil {
				if wave == len(waves) {
					return workflow.ExecuteActivity(short, contract.CompleteCampaignName, in.CampaignID).Get(ctx, nil)
				}
				if d := waves[wave].At.Sub(workflow.Now(ctx)); d > 0 { // this wave's zones are not there yet
					if !waitForSignalOr(ctx, control, d) {
						continue
					}
					break // a control signal: read the status again
				}
				send.Wave, send.WaveIndex, send.Planned = &waves[wave], wave, plannedZones(waves)
			}
			if sends == sendsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				return workflow.NewContinueAsNewError(ctx, SendCampaignName, contract.CampaignInput{CampaignID: in.CampaignID, Continued: true,
					Waves: waves, Wave: wave})
			}
			sends++
			var p contract.CampaignProgress
			if err := workflow.ExecuteActivity(long, contract.SendCampaignName, send).Get(ctx, &p); err != nil {
				return err
			}
			switch {
			case p.Done && p.Status == campaignSending && waves != nil:
				wave++
				continue
			case p.Done && p.Status == campaignSending:
				return workflow.ExecuteActivity(short, contract.CompleteCampaignName, in.CampaignID).Get(ctx, nil)
			case p.Status == campaignSending:
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

// plannedZones are the zones the waves name.
func plannedZones(waves []contract.CampaignWave) []string {
	var out []string
	for _, w := range waves {
		out = append(out, w.Zones...)
	}
	return out
}

// waitForSignalOr blocks until a signal arrives on ch (true) or d has passed (false).
func waitForSignalOr(ctx workflow.Context, ch workflow.ReceiveChannel, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	signalled := false
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(timerCtx, d), func(workflow.Future) {})
	sel.AddReceive(ch, func(workflow.ReceiveChannel, bool) { signalled = true })
	sel.Select(ctx)
	return signalled
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

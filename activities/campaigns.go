package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/campaigns"
)

// Campaigns are the campaign send's activities and the reaper's.
type Campaigns struct {
	Campaigns *campaigns.Service
	Reap      campaigns.ReapSettings
}

// notFound makes a missing campaign final: retrying cannot bring it back.
func notFound(err error) error {
	if errors.Is(err, campaigns.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrCampaignNotFoundType, err)
	}
	return err
}

// BeginCampaign reads (and where due, starts) a campaign for its run.
func (a *Campaigns) BeginCampaign(ctx context.Context, in contract.BeginCampaignInput) (contract.CampaignState, error) {
	st, err := a.Campaigns.Begin(ctx, in)
	return st, notFound(err)
}

// SendCampaignPages sends pages of a campaign. It heartbeats on a clock, not per page: a page
// to a slow provider may take longer than the heartbeat timeout.
func (a *Campaigns) SendCampaignPages(ctx context.Context, in contract.SendPagesInput) (contract.CampaignProgress, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	p, err := a.Campaigns.SendPages(ctx, in)
	return p, notFound(err)
}

// PlanCampaignWaves splits a local-time campaign into its delivery waves.
func (a *Campaigns) PlanCampaignWaves(ctx context.Context, in contract.PlanWavesInput) ([]contract.CampaignWave, error) {
	w, err := a.Campaigns.PlanWaves(ctx, in)
	return w, notFound(err)
}

// CompleteCampaign marks a campaign sent.
func (a *Campaigns) CompleteCampaign(ctx context.Context, campaignID string) error {
	return a.Campaigns.Complete(ctx, campaignID)
}

// ReapCampaigns gives up and re-drives campaigns that stopped progressing.
func (a *Campaigns) ReapCampaigns(ctx context.Context) (contract.ReapResult, error) {
	return a.Campaigns.Reap(ctx, a.Reap)
}

package activities

import (
	"context"
	"time"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/store"
)

// Webhooks are the outbound delivery's retry and sweeper activities.
type Webhooks struct {
	Sender     *outbound.Sender
	DB         store.DBTX
	Kick       func() // wakes the outbox dispatcher after the sweeper recorded starts
	StuckAfter time.Duration
}

// AttemptWebhookDelivery makes one attempt of a delivery when it is due.
func (w *Webhooks) AttemptWebhookDelivery(ctx context.Context, deliveryID string) (contract.DeliveryOutcome, error) {
	return w.Sender.Attempt(ctx, deliveryID)
}

// SweepWebhookDeliveries starts the retries of deliveries nothing drives.
func (w *Webhooks) SweepWebhookDeliveries(ctx context.Context) (contract.WebhookSweepResult, error) {
	res, err := outbound.Sweep(ctx, w.DB, w.StuckAfter)
	if err == nil && res.Redriven > 0 && w.Kick != nil {
		w.Kick()
	}
	return res, err
}

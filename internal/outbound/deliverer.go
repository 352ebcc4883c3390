package outbound

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
)

// Deliverer makes the first attempt of each new delivery in this process, Workers at a time
// over kept-open connections: a healthy receiver costs no workflow. New pending rows are its
// queue: it claims due ones in batches (at every Kick and every second), so any process with a
// deliverer sends what any producer committed. A delivery that must be retried gets its
// workflow (webhook-delivery:<id>, durable timers) through the outbox; one whose attempt died
// with its process is found by the sweeper.
type Deliverer struct {
	Sender  *Sender
	Outbox  outbox.Kicker // nil: retry starts wait for the dispatcher's sweep
	Workers int           // default 32
	Logger  *slog.Logger

	once sync.Once
	wake chan struct{}
}

func (d *Deliverer) init() {
	d.once.Do(func() { d.wake = make(chan struct{}, 1) })
}

// Kick asks Run to claim new deliveries now (called after a commit that made some).
func (d *Deliverer) Kick() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run attempts new deliveries until ctx ends, then waits for the attempts in flight.
func (d *Deliverer) Run(ctx context.Context) {
	d.init()
	workers := cmp.Or(d.Workers, 32)
	claimed := make(chan store.DeliveryWithEndpoint)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range claimed {
				d.attempt(context.WithoutCancel(ctx), c)
			}
		})
	}
	defer func() { close(claimed); wg.Wait() }()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		// Claim about what the workers can start now, so claimed rows do not wait in sending.
		for {
			batch, err := store.ClaimFirstAttempts(ctx, d.Sender.DB, workers)
			if err != nil && ctx.Err() == nil {
				d.log().Warn("could not claim new webhook deliveries", "error", err)
			}
			for _, c := range batch {
				claimed <- c // sent even when ctx ends: a claimed row is attempted, not left sending
			}
			if len(batch) < workers || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

func (d *Deliverer) attempt(ctx context.Context, c store.DeliveryWithEndpoint) {
	out, err := d.Sender.Send(ctx, c.Delivery, c.Endpoint)
	if err != nil {
		d.log().Warn("could not record a webhook delivery attempt; the sweeper retries it", "deliveryId", c.Delivery.ID, "error", err)
		return
	}
	if out.Status != Pending {
		return
	}
	if err := StartRetries(ctx, d.Sender.DB, []string{c.Delivery.ID}); err != nil {
		d.log().Warn("could not record the retries of a webhook delivery; the sweeper starts them", "deliveryId", c.Delivery.ID, "error", err)
		return
	}
	if d.Outbox != nil {
		d.Outbox.Kick()
	}
}

func (d *Deliverer) log() *slog.Logger { return cmp.Or(d.Logger, slog.Default()) }

// StartRetries records the start of each delivery's retry workflow (a run already open makes
// it a no-op). Only the delivery id goes into Temporal: URL and secret stay in Postgres.
func StartRetries(ctx context.Context, db store.DBTX, ids []string) error {
	intents := make([]outbox.Intent, 0, len(ids))
	for _, id := range ids {
		arg, err := json.Marshal(contract.DeliverWebhookInput{DeliveryID: id})
		if err != nil {
			return err
		}
		in := outbox.Start(outbox.StartWorkflow{WorkflowID: contract.DeliveryWorkflowID(id), WorkflowType: contract.DeliverWebhookWorkflow,
			Args: []json.RawMessage{arg}})
		in.DedupeKey = "" // a later re-drive of the same delivery must start again
		intents = append(intents, in)
	}
	_, err := outbox.Append(ctx, db, intents)
	return err
}

// Sweep re-drives up to 500 deliveries that nothing drives: pending and due (their first
// attempt or workflow start was lost) or stuck sending for longer than stuckAfter.
func Sweep(ctx context.Context, db store.DBTX, stuckAfter time.Duration) (contract.WebhookSweepResult, error) {
	ids, err := store.DueDeliveries(ctx, db, cmp.Or(stuckAfter, 5*time.Minute), 500)
	if err != nil || len(ids) == 0 {
		return contract.WebhookSweepResult{}, err
	}
	if err := StartRetries(ctx, db, ids); err != nil {
		return contract.WebhookSweepResult{Candidates: len(ids)}, err
	}
	return contract.WebhookSweepResult{Candidates: len(ids), Redriven: len(ids)}, nil
}

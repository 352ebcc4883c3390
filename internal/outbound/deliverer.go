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
// over kept-open connections: a healthy receiver costs no workflow. A delivery that must be
// retried gets its workflow (webhook-delivery:<id>, durable timers) through the outbox. What the
// deliverer never gets to — its queue full, or the process gone — the sweeper finds: a pending
// delivery is due (or has its time) in the database.
type Deliverer struct {
	Sender  *Sender
	Outbox  outbox.Kicker // nil: retry starts wait for the dispatcher's sweep
	Workers int           // default 32
	Logger  *slog.Logger

	once  sync.Once
	queue chan string
	wg    sync.WaitGroup
}

func (d *Deliverer) init() {
	d.once.Do(func() { d.queue = make(chan string, 1024) })
}

// Enqueue hands new deliveries to the workers, waiting while they are busy (the fan-out then
// goes no faster than delivery), but not beyond ctx or a few seconds: what does not fit then
// is left to the sweeper.
func (d *Deliverer) Enqueue(ctx context.Context, ids []string) {
	d.init()
	full := time.NewTimer(5 * time.Second)
	defer full.Stop()
	for _, id := range ids {
		select {
		case d.queue <- id:
		case <-ctx.Done():
			return
		case <-full.C:
			return
		}
	}
}

// Run attempts queued deliveries until ctx ends, then waits for the attempts in flight.
func (d *Deliverer) Run(ctx context.Context) {
	d.init()
	for range cmp.Or(d.Workers, 32) {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-d.queue:
					d.attempt(context.WithoutCancel(ctx), id)
				}
			}
		}()
	}
	d.wg.Wait()
}

func (d *Deliverer) attempt(ctx context.Context, id string) {
	out, err := d.Sender.Attempt(ctx, id)
	if err != nil {
		d.log().Warn("webhook delivery attempt failed; the sweeper retries it", "deliveryId", id, "error", err)
		return
	}
	if out.Status != Pending {
		return
	}
	if err := StartRetries(ctx, d.Sender.DB, []string{id}); err != nil {
		d.log().Warn("could not record the retries of a webhook delivery; the sweeper starts them", "deliveryId", id, "error", err)
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

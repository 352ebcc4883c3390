// Package outbound emits and delivers the engine's outbound webhook events (contact.*, email.*,
// journey.*, bucket.*). A producer records an Emit intent in its own transaction: one pending
// delivery per subscribed endpoint. The Deliverer makes their first attempts; a delivery that
// failed is retried by its workflow, through the Sender.
package outbound

import (
	"cmp"
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"

	"github.com/hogsend/hogsend/journey"
)

// KindEmit is the outbox kind of an outbound event.
const KindEmit = "outbound.emit"

// Event types the engine emits.
const (
	ContactCreated      = "contact.created"
	ContactUpdated      = "contact.updated"
	ContactDeleted      = "contact.deleted"
	ContactUnsubscribed = "contact.unsubscribed"
	JourneyCompleted    = "journey.completed"
	EmailSent           = "email.sent"
	EmailDelivered      = "email.delivered"
	EmailBounced        = "email.bounced"
	EmailOpened         = "email.opened"
	EmailClicked        = "email.clicked"
	BucketEntered       = "bucket.entered"
	BucketLeft          = "bucket.left"
)

// Envelope is the signed body every receiver gets.
type Envelope struct {
	ID        string `json:"id"` // msg_<uuid>, the Webhook-Id shared by every endpoint and retry
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

type emitPayload struct {
	Envelope  Envelope `json:"envelope"`
	DedupeKey string   `json:"dedupeKey,omitempty"`
}

// Emit builds the intent of one outbound event. The envelope id and time are fixed here, so
// retries of the fan-out deliver the same message. Appended in a transaction, it inserts the
// deliveries there and then (the deliverer, kicked with the dispatcher, sends them); encoded as
// an outbox row, the dispatcher's handler fans it out.
func Emit(eventType string, data any, dedupeKey string, now time.Time) outbox.Intent {
	p := newEmit(eventType, data, dedupeKey, now)
	return outbox.Intent{Kind: KindEmit, Payload: p, Write: func(ctx context.Context, tx store.DBTX) error {
		_, err := fanOut(ctx, tx, p)
		return err
	}}
}

// EmitEach is Emit of one event per data, without dedupe keys, fanned out in one statement. It
// has no outbox row form: append it in a transaction.
func EmitEach(eventType string, data []any, now time.Time) outbox.Intent {
	ps := make([]emitPayload, len(data))
	for i, d := range data {
		ps[i] = newEmit(eventType, d, "", now)
	}
	return outbox.Intent{Kind: KindEmit, Write: func(ctx context.Context, tx store.DBTX) error {
		_, err := fanOut(ctx, tx, ps...)
		return err
	}}
}

func newEmit(eventType string, data any, dedupeKey string, now time.Time) emitPayload {
	return emitPayload{Envelope: Envelope{ID: "msg_" + uuid.NewString(), Type: eventType, Timestamp: journey.Timestamp(now), Data: data},
		DedupeKey: dedupeKey}
}

// fanOut inserts one pending delivery per event and subscribed endpoint and returns how many.
func fanOut(ctx context.Context, db store.DBTX, ps ...emitPayload) (int, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	events := make([]store.NewDelivery, len(ps))
	for i, p := range ps {
		body, err := json.Marshal(p.Envelope)
		if err != nil {
			return 0, outbox.Permanent(err)
		}
		// Without a producer key the message id dedupes, so a retried fan-out inserts nothing twice.
		events[i] = store.NewDelivery{EventType: p.Envelope.Type, WebhookID: p.Envelope.ID, DedupeKey: cmp.Or(p.DedupeKey, p.Envelope.ID), Envelope: body}
	}
	ids, err := store.InsertDeliveries(ctx, db, events)
	return len(ids), err
}

// Register installs the handler of emits recorded as outbox rows; deliverer (may be nil) is
// kicked after new deliveries.
func Register(d *outbox.Dispatcher, db store.DBTX, deliverer outbox.Kicker) {
	d.Handle(KindEmit, func(ctx context.Context, raw json.RawMessage) error {
		var p emitPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			return outbox.Permanent(err)
		}
		n, err := fanOut(ctx, db, p)
		if deliverer != nil && n > 0 {
			deliverer.Kick()
		}
		return err
	})
}

// Package outbound emits and delivers the engine's outbound webhook events (contact.*, email.*,
// journey.*, bucket.*). A producer records an Emit intent in its own transaction: one pending
// delivery per subscribed endpoint. The Deliverer makes their first attempts; a delivery that
// failed is retried by its workflow, through the Sender.
package outbound

import (
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
	env := Envelope{ID: "msg_" + uuid.NewString(), Type: eventType, Timestamp: journey.Timestamp(now), Data: data}
	p := emitPayload{Envelope: env, DedupeKey: dedupeKey}
	return outbox.Intent{Kind: KindEmit, Payload: p, Write: func(ctx context.Context, tx store.DBTX) error {
		_, err := fanOut(ctx, tx, p)
		return err
	}}
}

// fanOut inserts one pending delivery per subscribed endpoint and returns how many.
func fanOut(ctx context.Context, db store.DBTX, p emitPayload) (int, error) {
	body, err := json.Marshal(p.Envelope)
	if err != nil {
		return 0, outbox.Permanent(err)
	}
	// Without a producer key the message id dedupes, so a retried fan-out inserts nothing twice.
	key := p.DedupeKey
	if key == "" {
		key = p.Envelope.ID
	}
	ids, err := store.InsertDeliveries(ctx, db, p.Envelope.Type, p.Envelope.ID, &key, body)
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

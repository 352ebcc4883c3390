// Package outbound emits the engine's outbound webhook events (contact.*, email.*, journey.*,
// bucket.*). A producer records an Emit intent in its own transaction; the outbox handler fans it
// out into one pending delivery per subscribed endpoint. Delivery itself is the webhook sender's.
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
// retries of the fan-out deliver the same message.
func Emit(eventType string, data any, dedupeKey string, now time.Time) outbox.Intent {
	env := Envelope{ID: "msg_" + uuid.NewString(), Type: eventType, Timestamp: journey.Timestamp(now), Data: data}
	return outbox.Intent{Kind: KindEmit, Payload: emitPayload{Envelope: env, DedupeKey: dedupeKey}}
}

// Register installs the fan-out handler; afterInsert (may be nil) is told the new delivery ids.
func Register(d *outbox.Dispatcher, db store.DBTX, afterInsert func(ctx context.Context, deliveryIDs []string)) {
	d.Handle(KindEmit, func(ctx context.Context, raw json.RawMessage) error {
		var p emitPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			return outbox.Permanent(err)
		}
		body, err := json.Marshal(p.Envelope)
		if err != nil {
			return outbox.Permanent(err)
		}
		// Without a producer key the message id dedupes, so a retried fan-out inserts nothing twice.
		key := p.DedupeKey
		if key == "" {
			key = p.Envelope.ID
		}
		ids, err := store.InsertDeliveries(ctx, db, p.Envelope.Type, p.Envelope.ID, &key, body)
		if err != nil {
			return err
		}
		if afterInsert != nil && len(ids) > 0 {
			afterInsert(ctx, ids)
		}
		return nil
	})
}

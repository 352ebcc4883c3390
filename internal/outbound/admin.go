package outbound

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Catalog is every event type an endpoint can subscribe to (webhook.test is sent, never
// subscribed to).
var Catalog = []string{ContactCreated, ContactUpdated, ContactDeleted, ContactUnsubscribed, JourneyCompleted,
	EmailSent, EmailDelivered, EmailOpened, EmailClicked, EmailBounced, BucketEntered, BucketLeft}

// InCatalog reports whether an endpoint may subscribe to t.
func InCatalog(t string) bool { return slices.Contains(Catalog, t) }

// WebhookTest is the type of a test send.
const WebhookTest = "webhook.test"

// NewSecret is a signing secret: "whsec_" and the standard base64 of 32 random bytes (the
// encoding the svix libraries decode).
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// Admin manages endpoints, their deliveries and the dead letters. New deliveries it makes
// (test sends, redeliveries) get their first attempt from the deliverer like any other.
type Admin struct {
	DB        store.DBTX
	Deliverer outbox.Kicker // told of new deliveries; nil: the sweeper makes their first attempt
}

// Errors of the admin operations.
var (
	ErrEndpointNotFound = errors.New("webhook endpoint not found")
	ErrDeliveryNotFound = errors.New("delivery not found")
	ErrEndpointDisabled = errors.New("webhook endpoint is disabled")
)

func notFound(err error, as error) error {
	if errors.Is(err, store.ErrNotFound) {
		return as
	}
	return err
}

// Create stores an endpoint with a fresh secret, which is returned this once.
func (a *Admin) Create(ctx context.Context, n store.NewEndpoint) (store.EndpointRow, string, error) {
	n.Secret = NewSecret()
	e, err := store.CreateEndpoint(ctx, a.DB, n)
	return e, n.Secret, err
}

// Get, Update and Delete an endpoint.
func (a *Admin) Get(ctx context.Context, id string) (store.EndpointRow, error) {
	e, err := store.GetEndpoint(ctx, a.DB, id)
	return e, notFound(err, ErrEndpointNotFound)
}

// Update applies a patch.
func (a *Admin) Update(ctx context.Context, id string, p store.EndpointPatch) (store.EndpointRow, error) {
	e, err := store.UpdateEndpoint(ctx, a.DB, id, p)
	return e, notFound(err, ErrEndpointNotFound)
}

// Delete removes an endpoint with its deliveries.
func (a *Admin) Delete(ctx context.Context, id string) error {
	return notFound(store.DeleteEndpoint(ctx, a.DB, id), ErrEndpointNotFound)
}

// List pages endpoints.
func (a *Admin) List(ctx context.Context, includeDisabled bool, limit, offset int) ([]store.EndpointRow, int, error) {
	return store.ListEndpoints(ctx, a.DB, includeDisabled, limit, offset)
}

// Rotate gives an endpoint a new secret, returned this once; the old one signs nothing more.
func (a *Admin) Rotate(ctx context.Context, id string) (store.EndpointRow, string, error) {
	secret := NewSecret()
	e, err := store.RotateSecret(ctx, a.DB, id, secret)
	return e, secret, notFound(err, ErrEndpointNotFound)
}

// TestSend delivers a webhook.test event to one endpoint (a disabled one discards it).
func (a *Admin) TestSend(ctx context.Context, id string) error {
	now := time.Now()
	env := Envelope{ID: "msg_" + uuid.NewString(), Type: WebhookTest, Timestamp: journey.Timestamp(now),
		Data: map[string]any{"message": "Hogsend test event", "endpointId": id, "sentAt": journey.Timestamp(now)}}
	body, err := json.Marshal(env)
	if err != nil {
		return err
	}
	_, err = store.InsertDelivery(ctx, a.DB, id, env.ID, WebhookTest, body)
	if err != nil {
		return notFound(err, ErrEndpointNotFound)
	}
	a.kick()
	return nil
}

// Deliveries pages an endpoint's deliveries.
func (a *Admin) Deliveries(ctx context.Context, endpointID, status string, limit, offset int) ([]store.DeliveryRow, int, error) {
	if _, err := a.Get(ctx, endpointID); err != nil {
		return nil, 0, err
	}
	return store.ListDeliveries(ctx, a.DB, endpointID, status, limit, offset)
}

// Redeliver sends a delivery of an endpoint again as a new row with the same Webhook-Id (the
// receiver dedupes on it), so a delivered, failed or discarded one can be sent once more.
func (a *Admin) Redeliver(ctx context.Context, endpointID, deliveryID string) (string, error) {
	e, err := a.Get(ctx, endpointID)
	if err != nil {
		return "", err
	}
	if e.Disabled {
		return "", ErrEndpointDisabled
	}
	d, err := store.DeliveryByID(ctx, a.DB, deliveryID)
	if errors.Is(err, store.ErrNotFound) || err == nil && d.EndpointID != endpointID {
		return "", ErrDeliveryNotFound
	}
	if err != nil {
		return "", err
	}
	id, err := store.InsertDelivery(ctx, a.DB, endpointID, d.WebhookID, d.EventType, d.Payload)
	if err != nil {
		return "", err
	}
	a.kick()
	return id, nil
}

func (a *Admin) kick() {
	if a.Deliverer != nil {
		a.Deliverer.Kick()
	}
}

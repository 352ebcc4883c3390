package resend

import (
	"encoding/json"
	"errors"
	"net/http"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hogsend/hogsend/email"
)

// ErrWebhookVerification is any webhook that does not verify: no secret, missing svix headers,
// a bad signature or a stale timestamp. It fails closed.
var ErrWebhookVerification = errors.New("Webhook verification failed")

// VerifyWebhook checks a delivery-status webhook's Svix signature over the raw body (±5 min
// timestamp tolerance) and decodes it.
func VerifyWebhook(secret string, payload []byte, h http.Header) (email.ProviderEvent, error) {
	if secret == "" || h.Get("svix-id") == "" || h.Get("svix-timestamp") == "" || h.Get("svix-signature") == "" {
		return email.ProviderEvent{}, ErrWebhookVerification
	}
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		return email.ProviderEvent{}, ErrWebhookVerification
	}
	if err := wh.Verify(payload, h); err != nil {
		return email.ProviderEvent{}, ErrWebhookVerification
	}
	return ParseWebhook(payload)
}

// ParseWebhook decodes a webhook body without verifying it (tests, trusted callers).
func ParseWebhook(payload []byte) (email.ProviderEvent, error) {
	var ev email.ProviderEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return email.ProviderEvent{}, err
	}
	return ev, nil
}

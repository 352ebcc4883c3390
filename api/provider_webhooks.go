package api

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/email/resend"
	"github.com/hogsend/hogsend/internal/mailer"
)

type providerWebhookHandlers struct {
	m      *mailer.Mailer
	secret string
}

// resend is POST /v1/webhooks/resend: delivery-status events, Svix-signed over the raw body.
// It fails closed: no secret configured, no headers or a bad signature are all 401.
func (h *providerWebhookHandlers) resend(c *gin.Context) error {
	body, err := readBody(c, maxBody)
	if err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return Invalid("body", "invalid_type", "expected a JSON object")
	}
	ev, err := resend.VerifyWebhook(h.secret, body, c.Request.Header)
	if err != nil { // every failure is resend.ErrWebhookVerification or undecodable JSON
		return &HTTPError{Status: http.StatusUnauthorized, Message: "Webhook verification failed"}
	}
	if err := h.m.HandleProviderEvent(c.Request.Context(), c.GetHeader("svix-id"), ev); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
	return nil
}

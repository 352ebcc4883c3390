package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

type webhookHandlers struct {
	svc *outbound.Admin
}

// endpointReply is an endpoint as every route shows it; the secret only create (and
// rotate-secret, in its own answer) shows.
type endpointReply struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Description    *string  `json:"description"`
	EventTypes     []string `json:"eventTypes"`
	SecretPrefix   string   `json:"secretPrefix"`
	Secret         string   `json:"secret,omitempty"`
	Status         string   `json:"status"` // enabled | disabled
	OrganizationID *string  `json:"organizationId"`
	LastDeliveryAt *string  `json:"lastDeliveryAt"`
	CreatedAt      string   `json:"createdAt"`
	UpdatedAt      string   `json:"updatedAt"`
}

func endpointJSON(e store.EndpointRow) endpointReply {
	status := "enabled"
	if e.Disabled {
		status = "disabled"
	}
	return endpointReply{ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: e.EventTypes, SecretPrefix: e.SecretPrefix,
		Status: status, OrganizationID: e.OrganizationID, LastDeliveryAt: ptr.Map(e.LastDeliveryAt, journey.Timestamp),
		CreatedAt: journey.Timestamp(e.CreatedAt), UpdatedAt: journey.Timestamp(e.UpdatedAt)}
}

func webhookError(err error) error {
	switch {
	case errors.Is(err, outbound.ErrEndpointNotFound):
		return &HTTPError{Status: http.StatusNotFound, Message: "Webhook endpoint not found"}
	case errors.Is(err, outbound.ErrDeliveryNotFound):
		return &HTTPError{Status: http.StatusNotFound, Message: "Delivery not found"}
	case errors.Is(err, outbound.ErrEndpointDisabled):
		return &HTTPError{Status: http.StatusConflict, Message: "Webhook endpoint is disabled"}
	case errors.Is(err, store.ErrNotFound):
		return &HTTPError{Status: http.StatusNotFound, Message: "DLQ entry not found"}
	case errors.Is(err, store.ErrNotPending):
		return &HTTPError{Status: http.StatusConflict, Message: "Entry is not in pending state"}
	}
	return err
}

func (h *webhookHandlers) list(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	include := true
	if _, set := c.GetQuery("includeDisabled"); set {
		include = boolQuery(c, "includeDisabled", v)
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	list, total, err := h.svc.List(c, include, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]endpointReply, len(list))
	for i, e := range list {
		out[i] = endpointJSON(e)
	}
	c.JSON(http.StatusOK, gin.H{"endpoints": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

// endpointBody is create's body and patch's (every field optional there). Description is raw
// so patch can tell null (clear) from absent.
type endpointBody struct {
	URL         *string         `json:"url"`
	EventTypes  []string        `json:"eventTypes"`
	Description json.RawMessage `json:"description"`
	Disabled    *bool           `json:"disabled"`
}

// check validates the body; create requires url and eventTypes. It returns the trimmed URL
// and the description (clear: an explicit null).
func (b endpointBody) check(create bool) (u *string, desc *string, clear bool, err error) {
	v := &ValidationError{}
	switch {
	case b.URL != nil:
		trimmed := strings.TrimSpace(*b.URL)
		parsed, perr := url.Parse(trimmed)
		if perr != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			v.Add("url", "invalid_string", "must be an absolute http or https URL")
		}
		u = &trimmed
	case create:
		v.Add("url", "invalid_type", "is required")
	}
	switch {
	case b.EventTypes != nil && len(b.EventTypes) == 0, b.EventTypes == nil && create:
		v.Add("eventTypes", "too_small", "must name at least one event type")
	}
	for _, t := range b.EventTypes {
		if !outbound.InCatalog(t) {
			v.Add("eventTypes", "invalid_enum_value", "%q is not an event type (%s)", t, strings.Join(outbound.Catalog, ", "))
		}
	}
	if len(b.Description) > 0 {
		switch {
		case string(b.Description) == "null" && create:
			v.Add("description", "invalid_type", "must be a string (null clears it, on update)")
		case string(b.Description) == "null":
			clear = true
		default:
			var s string
			if json.Unmarshal(b.Description, &s) != nil {
				v.Add("description", "invalid_type", "must be a string")
			} else if len([]rune(s)) > 500 {
				v.Add("description", "too_big", "must be at most 500 characters")
			} else {
				desc = &s
			}
		}
	}
	return u, desc, clear, v.OrNil()
}

func (h *webhookHandlers) create(c *gin.Context) error {
	var b endpointBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	u, desc, _, err := b.check(true)
	if err != nil {
		return err
	}
	e, secret, err := h.svc.Create(c, store.NewEndpoint{URL: *u, Description: desc, EventTypes: b.EventTypes, Disabled: ptr.Deref(b.Disabled)})
	if err != nil {
		return err
	}
	out := endpointJSON(e)
	out.Secret = secret
	c.JSON(http.StatusCreated, out)
	return nil
}

func (h *webhookHandlers) get(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	e, err := h.svc.Get(c, id)
	if err != nil {
		return webhookError(err)
	}
	c.JSON(http.StatusOK, endpointJSON(e))
	return nil
}

func (h *webhookHandlers) update(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	var b endpointBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	u, desc, clear, err := b.check(false)
	if err != nil {
		return err
	}
	e, err := h.svc.Update(c, id, store.EndpointPatch{URL: u, EventTypes: b.EventTypes, Description: desc, ClearDescription: clear, Disabled: b.Disabled})
	if err != nil {
		return webhookError(err)
	}
	c.JSON(http.StatusOK, endpointJSON(e))
	return nil
}

func (h *webhookHandlers) delete(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := h.svc.Delete(c, id); err != nil {
		return webhookError(err)
	}
	c.JSON(http.StatusOK, gin.H{"deleted": true})
	return nil
}

func (h *webhookHandlers) rotate(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	e, secret, err := h.svc.Rotate(c, id)
	if err != nil {
		return webhookError(err)
	}
	c.JSON(http.StatusOK, gin.H{"id": e.ID, "secret": secret, "secretPrefix": e.SecretPrefix})
	return nil
}

func (h *webhookHandlers) test(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := h.svc.TestSend(c, id); err != nil {
		return webhookError(err)
	}
	c.JSON(http.StatusAccepted, gin.H{"enqueued": true, "eventType": outbound.WebhookTest})
	return nil
}

// deliveryReply is one delivery of an endpoint's list.
type deliveryReply struct {
	ID                  string  `json:"id"`
	EndpointID          string  `json:"endpointId"`
	WebhookID           string  `json:"webhookId"`
	EventType           string  `json:"eventType"`
	Status              string  `json:"status"`
	AttemptCount        int     `json:"attemptCount"`
	NextRetryAt         *string `json:"nextRetryAt"`
	LastAttemptAt       *string `json:"lastAttemptAt"`
	ResponseStatus      *int    `json:"responseStatus"`
	ResponseBodySnippet *string `json:"responseBodySnippet"`
	DeliveredAt         *string `json:"deliveredAt"`
	LastError           *string `json:"lastError"`
	CreatedAt           string  `json:"createdAt"`
	UpdatedAt           string  `json:"updatedAt"`
}

// deadLetterReply is one entry of the dead-letter list.
type deadLetterReply struct {
	ID         string  `json:"id"`
	Source     string  `json:"source"`
	SourceID   *string `json:"sourceId"`
	Payload    any     `json:"payload"`
	Error      string  `json:"error"`
	RetryCount int     `json:"retryCount"`
	Status     string  `json:"status"`
	RetriedAt  *string `json:"retriedAt"`
	CreatedAt  string  `json:"createdAt"`
}

func (h *webhookHandlers) deliveries(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	v := &ValidationError{}
	p := page(c, v)
	status := c.Query("status")
	switch status {
	case "", outbound.Pending, "sending", outbound.Delivered, outbound.Failed, outbound.Discarded:
	default:
		v.Add("status", "invalid_enum_value", "must be one of pending, sending, delivered, failed, discarded")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	list, total, err := h.svc.Deliveries(c, id, status, p.Limit, p.Offset)
	if err != nil {
		return webhookError(err)
	}
	out := make([]deliveryReply, len(list))
	for i, d := range list {
		out[i] = deliveryReply{ID: d.ID, EndpointID: d.EndpointID, WebhookID: d.WebhookID, EventType: d.EventType, Status: d.Status,
			AttemptCount: d.AttemptCount, NextRetryAt: ptr.Map(d.NextRetryAt, journey.Timestamp),
			LastAttemptAt: ptr.Map(d.LastAttemptAt, journey.Timestamp), ResponseStatus: d.ResponseStatus,
			ResponseBodySnippet: d.ResponseBodySnippet, DeliveredAt: ptr.Map(d.DeliveredAt, journey.Timestamp), LastError: d.LastError,
			CreatedAt: journey.Timestamp(d.CreatedAt), UpdatedAt: journey.Timestamp(d.UpdatedAt)}
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

func (h *webhookHandlers) redeliver(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	deliveryID, err := uuidParam(c, "deliveryId")
	if err != nil {
		return err
	}
	newID, err := h.svc.Redeliver(c, id, deliveryID)
	if err != nil {
		return webhookError(err)
	}
	c.JSON(http.StatusAccepted, gin.H{"enqueued": true, "deliveryId": newID})
	return nil
}

func (h *webhookHandlers) dlqList(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	status := c.Query("status")
	switch status {
	case "", "pending", "retried", "discarded":
	default:
		v.Add("status", "invalid_enum_value", "must be one of pending, retried, discarded")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	list, total, err := store.ListDLQ(c, h.svc.DB, c.Query("source"), status, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]deadLetterReply, len(list))
	for i, e := range list {
		out[i] = deadLetterReply{ID: e.ID, Source: e.Source, SourceID: e.SourceID, Payload: e.Payload, Error: e.Error,
			RetryCount: e.RetryCount, Status: e.Status, RetriedAt: ptr.Map(e.RetriedAt, journey.Timestamp),
			CreatedAt: journey.Timestamp(e.CreatedAt)}
	}
	c.JSON(http.StatusOK, gin.H{"entries": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

// dlqRetry marks a dead letter retried and, for a webhook delivery, sends it again (a new
// delivery with the same Webhook-Id).
func (h *webhookHandlers) dlqRetry(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	e, err := store.RetryDLQ(c, h.svc.DB, id)
	if err != nil {
		return webhookError(err)
	}
	if e.Source == "webhook-delivery" && e.SourceID != nil {
		if d, err := store.DeliveryByID(c, h.svc.DB, *e.SourceID); err == nil {
			if _, err := h.svc.Redeliver(c, d.EndpointID, d.ID); err != nil && !errors.Is(err, outbound.ErrEndpointDisabled) {
				return err
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"retried": true})
	return nil
}

func (h *webhookHandlers) dlqDiscard(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := store.DiscardDLQ(c, h.svc.DB, id); err != nil {
		return webhookError(err)
	}
	c.JSON(http.StatusOK, gin.H{"discarded": true})
	return nil
}

package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/campaigns"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

type campaignHandlers struct {
	svc *campaigns.Service
}

// createCampaignBody is the body of POST /v1/campaigns.
type createCampaignBody struct {
	Name           *string        `json:"name"`
	List           *string        `json:"list"`
	Bucket         *string        `json:"bucket"`
	Template       string         `json:"template"`
	Props          map[string]any `json:"props"`
	From           *string        `json:"from"`
	Subject        *string        `json:"subject"`
	IdempotencyKey *string        `json:"idempotencyKey"`
	ScheduledAt    *time.Time     `json:"scheduledAt"`
	LocalTime      *string        `json:"localTime"`
	SendsPerSecond *int           `json:"sendsPerSecond"`
}

// create is POST /v1/campaigns: stored and its run started durably, answered at once.
func (h *campaignHandlers) create(c *gin.Context) error {
	var b createCampaignBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	v := &ValidationError{}
	for field, s := range map[string]*string{"name": b.Name, "list": b.List, "bucket": b.Bucket, "idempotencyKey": b.IdempotencyKey} {
		if s != nil && *s == "" {
			v.Add(field, "too_small", "must be at least 1 character")
		}
	}
	if b.Template == "" {
		v.Add("template", "too_small", "is required")
	}
	if b.SendsPerSecond != nil && *b.SendsPerSecond < 1 {
		v.Add("sendsPerSecond", "too_small", "must be at least 1")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	key := b.IdempotencyKey
	if h := c.GetHeader("Idempotency-Key"); h != "" {
		key = &h
	}
	camp, err := h.svc.Create(c, campaigns.Request{Name: ptr.Deref(b.Name), List: ptr.Deref(b.List), Bucket: ptr.Deref(b.Bucket),
		Template: b.Template, Props: b.Props, From: b.From, Subject: b.Subject, IdempotencyKey: key,
		ScheduledAt: b.ScheduledAt, LocalTime: b.LocalTime, SendsPerSecond: b.SendsPerSecond})
	if err != nil {
		return campaignError(err)
	}
	c.JSON(http.StatusAccepted, campaignStateReply{CampaignID: camp.ID, Status: camp.Status})
	return nil
}

func (h *campaignHandlers) get(c *gin.Context) error {
	camp, err := h.svc.Get(c, c.Param("id"))
	if err != nil {
		return campaignError(err, c.Param("id"))
	}
	c.JSON(http.StatusOK, campaignJSON(camp))
	return nil
}

// list is the admin's campaign list with progress, newest first.
func (h *campaignHandlers) list(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	status := c.Query("status")
	switch status {
	case "", store.CampaignQueued, store.CampaignScheduled, store.CampaignSending, store.CampaignPaused, store.CampaignSent,
		store.CampaignFailed, store.CampaignCancelled:
	default:
		v.Add("status", "invalid_enum_value", "must be one of queued, scheduled, sending, paused, sent, failed, cancelled")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	list, total, err := h.svc.List(c, status, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]campaignReply, len(list))
	for i, camp := range list {
		out[i] = campaignJSON(camp)
	}
	c.JSON(http.StatusOK, gin.H{"campaigns": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

func (h *campaignHandlers) pause(c *gin.Context) error  { return h.control(c, h.svc.Pause) }
func (h *campaignHandlers) resume(c *gin.Context) error { return h.control(c, h.svc.Resume) }
func (h *campaignHandlers) cancel(c *gin.Context) error { return h.control(c, h.svc.Cancel) }

// control applies a status change; the run takes it up between pages.
func (h *campaignHandlers) control(c *gin.Context, change func(ctx context.Context, id string) (store.Campaign, error)) error {
	camp, err := change(c, c.Param("id"))
	if err != nil {
		return campaignError(err, c.Param("id"))
	}
	c.JSON(http.StatusAccepted, campaignStateReply{CampaignID: camp.ID, Status: camp.Status})
	return nil
}

// campaignJSON is a campaign as GET /v1/campaigns/:id shows it (props, sender, subject and
// key stay private); scheduledAt, localTime and pausedReason are this engine's additions.
func campaignJSON(c store.Campaign) campaignReply {
	return campaignReply{ID: c.ID, Name: c.Name, Status: c.Status, AudienceKind: c.AudienceKind, AudienceID: c.AudienceID,
		TemplateKey: c.TemplateKey, TotalRecipients: c.Total, SentCount: c.Sent, SkippedCount: c.Skipped, FailedCount: c.Failed,
		StartedAt: ptr.Map(c.StartedAt, journey.Timestamp), CompletedAt: ptr.Map(c.CompletedAt, journey.Timestamp),
		CreatedAt: journey.Timestamp(c.CreatedAt), ScheduledAt: ptr.Map(c.ScheduledAt, journey.Timestamp), LocalTime: c.LocalTime,
		PausedReason: c.PausedReason}
}

type campaignReply struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	AudienceKind    string  `json:"audienceKind"`
	AudienceID      string  `json:"audienceId"`
	TemplateKey     string  `json:"templateKey"`
	TotalRecipients int     `json:"totalRecipients"`
	SentCount       int     `json:"sentCount"`
	SkippedCount    int     `json:"skippedCount"`
	FailedCount     int     `json:"failedCount"`
	StartedAt       *string `json:"startedAt"`
	CompletedAt     *string `json:"completedAt"`
	CreatedAt       string  `json:"createdAt"`
	ScheduledAt     *string `json:"scheduledAt"`
	LocalTime       *string `json:"localTime"`
	PausedReason    *string `json:"pausedReason"`
}

// campaignStateReply answers a create and each control.
type campaignStateReply struct {
	CampaignID string `json:"campaignId"`
	Status     string `json:"status"`
}

// campaignError maps the domain's errors; id names the campaign of a not-found.
func campaignError(err error, id ...string) error {
	var unknown *campaigns.UnknownError
	var state *campaigns.StateError
	switch {
	case errors.Is(err, campaigns.ErrAudience):
		return Invalid("list", "custom", "%s", err.Error())
	case errors.Is(err, campaigns.ErrLocalTime):
		return Invalid("localTime", "invalid_string", "%s", campaigns.ErrLocalTime.Error())
	case errors.As(err, &unknown) && unknown.What == "template":
		return &HTTPError{Status: http.StatusBadRequest, Message: unknown.Error()}
	case errors.As(err, &unknown):
		return &HTTPError{Status: http.StatusNotFound, Message: unknown.Error()}
	case errors.Is(err, campaigns.ErrNotFound) && len(id) > 0:
		return &HTTPError{Status: http.StatusNotFound, Message: "Unknown campaign: " + id[0]}
	case errors.As(err, &state):
		return &HTTPError{Status: http.StatusConflict, Message: state.Error()}
	}
	return err
}

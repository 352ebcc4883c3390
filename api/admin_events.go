package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// adminEventService is what the admin event routes need.
type adminEventService interface {
	Ingest(ctx context.Context, ev ingest.Event) (ingest.Result, error)
	ListEvents(ctx context.Context, f store.EventFilter, limit, offset int) ([]store.Event, int, error)
	Event(ctx context.Context, id string) (store.Event, error)
	EventsForReplay(ctx context.Context, ids []string, f store.EventFilter, limit int) ([]store.Event, error)
	Replay(ctx context.Context, events []store.Event) ingest.ReplayResult
}

type adminEventHandlers struct {
	svc adminEventService
}

// eventReply is a stored event as the admin plane shows it.
type eventReply struct {
	ID         string         `json:"id"`
	UserID     string         `json:"userId"`
	Event      string         `json:"event"`
	Properties map[string]any `json:"properties"`
	OccurredAt string         `json:"occurredAt"`
}

func eventJSON(e store.Event) eventReply {
	return eventReply{ID: e.ID, UserID: e.UserID, Event: e.Name, Properties: e.Properties, OccurredAt: journey.Timestamp(e.OccurredAt)}
}

// eventFilter reads userId, event, from and to.
func eventFilter(v *ValidationError, userID, name string, from, to *string) store.EventFilter {
	f := store.EventFilter{UserID: userID, Name: name}
	if from != nil {
		f.From = parseUTC(v, "from", *from)
	}
	if to != nil {
		f.To = parseUTC(v, "to", *to)
	}
	return f
}

func queryPtr(c *gin.Context, name string) *string {
	if v, ok := c.GetQuery(name); ok {
		return &v
	}
	return nil
}

func (h *adminEventHandlers) list(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	f := eventFilter(v, c.Query("userId"), c.Query("event"), queryPtr(c, "from"), queryPtr(c, "to"))
	if err := v.OrNil(); err != nil {
		return err
	}
	list, total, err := h.svc.ListEvents(c, f, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]eventReply, len(list))
	for i, e := range list {
		out[i] = eventJSON(e)
	}
	c.JSON(http.StatusOK, gin.H{"events": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

func (h *adminEventHandlers) get(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	e, err := h.svc.Event(c, id)
	if err != nil {
		return adminError(err)
	}
	c.JSON(http.StatusOK, gin.H{"event": eventJSON(e)})
	return nil
}

type debugEventBody struct {
	Event      *string        `json:"event"`
	UserID     *string        `json:"userId"`
	UserEmail  *string        `json:"userEmail"`
	Properties map[string]any `json:"properties"`
}

// debug ingests a test event from the admin UI (no contact properties, no idempotency).
func (h *adminEventHandlers) debug(c *gin.Context) error {
	var body debugEventBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Event == nil || *body.Event == "" {
		return Invalid("event", "too_small", "is required")
	}
	if ptr.Deref(body.UserID) == "" && ptr.Deref(body.UserEmail) == "" {
		return &HTTPError{Status: http.StatusBadRequest, Message: "userId or userEmail is required"}
	}
	res, err := h.svc.Ingest(c, ingest.Event{Name: *body.Event, UserID: ptr.Deref(body.UserID), Email: ptr.Deref(body.UserEmail), EventProperties: body.Properties})
	if err != nil {
		return adminError(err)
	}
	c.JSON(http.StatusAccepted, gin.H{"stored": res.Stored, "exits": res.Exits})
	return nil
}

type replayBody struct {
	EventIDs []string `json:"eventIds"`
	Filter   *struct {
		Event  string  `json:"event"`
		UserID string  `json:"userId"`
		From   *string `json:"from"`
		To     *string `json:"to"`
	} `json:"filter"`
	Limit *int `json:"limit"`
}

func (h *adminEventHandlers) replay(c *gin.Context) error {
	var body replayBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	v := &ValidationError{}
	for _, id := range body.EventIDs {
		if _, err := uuid.Parse(id); err != nil {
			v.Add("eventIds", "invalid_string", "%q is not a UUID", id)
		}
	}
	limit := 100
	if body.Limit != nil {
		if *body.Limit < 1 || *body.Limit > 1000 {
			v.Add("limit", "too_big", "must be from 1 to 1000")
		}
		limit = *body.Limit
	}
	var f store.EventFilter
	if body.Filter != nil {
		f = eventFilter(v, body.Filter.UserID, body.Filter.Event, body.Filter.From, body.Filter.To)
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	events, err := h.svc.EventsForReplay(c, body.EventIDs, f, limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.svc.Replay(c, events))
	return nil
}

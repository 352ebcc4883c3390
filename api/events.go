package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/ptr"
)

// eventService is what the event routes need.
type eventService interface {
	Ingest(ctx context.Context, ev ingest.Event) (ingest.Result, error)
	IngestBatch(ctx context.Context, events []ingest.Event) ([]ingest.BatchItem, error)
	SetLists(ctx context.Context, userID, email string, lists map[string]bool) error
}

type eventHandlers struct {
	svc eventService
}

// utcDateTime is the accepted datetime form: RFC 3339 in UTC with a literal Z.
var utcDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)

// parseUTC validates a datetime field.
func parseUTC(v *ValidationError, field, raw string) *time.Time {
	if !utcDateTime.MatchString(raw) {
		v.Add(field, "invalid_string", "must be an ISO 8601 UTC datetime such as 2026-01-15T10:30:00.000Z")
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		v.Add(field, "invalid_string", "is not a valid datetime")
		return nil
	}
	return &t
}

type eventBody struct {
	Name              *string         `json:"name"`
	Email             *string         `json:"email"`
	UserID            *string         `json:"userId"`
	EventProperties   map[string]any  `json:"eventProperties"`
	ContactProperties map[string]any  `json:"contactProperties"`
	Lists             map[string]bool `json:"lists"`
	IdempotencyKey    *string         `json:"idempotencyKey"`
	Timestamp         *string         `json:"timestamp"`
}

// toEvent validates the body; the Idempotency-Key header, when present (even empty), wins
// over the body's key.
func (b eventBody) toEvent(header []string) (ingest.Event, error) {
	v := &ValidationError{}
	if b.Name == nil || *b.Name == "" {
		v.Add("name", "too_small", "is required")
	}
	identityFields(v, b.Email, b.UserID)
	ev := ingest.Event{Name: ptr.Deref(b.Name), UserID: ptr.Deref(b.UserID), Email: ptr.Deref(b.Email),
		EventProperties: b.EventProperties, ContactProperties: b.ContactProperties, IdempotencyKey: ptr.Deref(b.IdempotencyKey)}
	if b.Timestamp != nil {
		ev.OccurredAt = parseUTC(v, "timestamp", *b.Timestamp)
	}
	if err := v.OrNil(); err != nil {
		return ev, err
	}
	if b.Email == nil && b.UserID == nil {
		return ev, errIdentityRequired
	}
	if len(header) > 0 {
		ev.IdempotencyKey = header[0]
	}
	return ev, nil
}

type eventResponse struct {
	Stored     bool                `json:"stored"`
	Exits      []ingest.ExitResult `json:"exits"`
	ListsError string              `json:"listsError,omitempty"`
}

func (h *eventHandlers) ingest(c *gin.Context) error {
	var body eventBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	ev, err := body.toEvent(c.Request.Header.Values("Idempotency-Key"))
	if err != nil {
		return err
	}
	res, err := h.svc.Ingest(c, ev)
	if err != nil {
		return ingestError(err)
	}
	out := eventResponse{Stored: res.Stored, Exits: res.Exits}
	// Lists apply even to a duplicate; their failure is reported, not fatal.
	if err := h.svc.SetLists(c, ev.UserID, ev.Email, body.Lists); err != nil {
		out.ListsError, _ = itemError(ingestError(err))
	}
	c.JSON(http.StatusAccepted, out)
	return nil
}

type batchBody struct {
	Events []json.RawMessage `json:"events"`
}

type batchReply struct {
	Results []batchItemJSON `json:"results"`
	Stored  int             `json:"stored"`
	Failed  int             `json:"failed"`
}

// batchItemJSON is one event's outcome: stored/exits, or its own error.
type batchItemJSON struct {
	Index  int                 `json:"index"`
	Stored bool                `json:"stored"`
	Exits  []ingest.ExitResult `json:"exits"`
	Error  string              `json:"error,omitempty"`
	Issues []Issue             `json:"issues,omitempty"`
}

// batch ingests up to 500 events; each succeeds or fails on its own.
func (h *eventHandlers) batch(c *gin.Context) error {
	var body batchBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if len(body.Events) == 0 || len(body.Events) > ingest.MaxBatch {
		return Invalid("events", "too_big", "must hold 1 to %d events", ingest.MaxBatch)
	}
	out := make([]batchItemJSON, len(body.Events))
	var valid []ingest.Event
	var at []int
	for i, raw := range body.Events {
		out[i] = batchItemJSON{Index: i, Exits: []ingest.ExitResult{}}
		var eb eventBody
		err := json.Unmarshal(raw, &eb)
		var ev ingest.Event
		if err == nil {
			ev, err = eb.toEvent(nil)
		} else {
			err = Invalid("body", "invalid_type", "%v", err)
		}
		if err != nil {
			out[i].Error, out[i].Issues = itemError(err)
			continue
		}
		valid, at = append(valid, ev), append(at, i)
	}
	if len(valid) > 0 {
		items, err := h.svc.IngestBatch(c, valid)
		if err != nil {
			return err
		}
		for j, it := range items {
			o := &out[at[j]]
			if it.Err != nil {
				o.Error, o.Issues = itemError(ingestError(it.Err))
				continue
			}
			o.Stored, o.Exits = it.Result.Stored, it.Result.Exits
		}
	}
	stored, failed := 0, 0
	for _, o := range out {
		switch {
		case o.Error != "":
			failed++
		case o.Stored:
			stored++
		}
	}
	c.JSON(http.StatusAccepted, batchReply{Results: out, Stored: stored, Failed: failed})
	return nil
}

// itemError renders one item's error: its message and, for validation, its issues. Internal
// errors stay generic, as everywhere.
func itemError(err error) (string, []Issue) {
	var ve *ValidationError
	var he *HTTPError
	switch {
	case errors.As(err, &ve):
		return ve.Error(), ve.Issues
	case errors.As(err, &he):
		return he.Message, nil
	}
	return "Internal Server Error", nil
}

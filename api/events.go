package api

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/activities/ingest"
)

// eventService is what the event routes need.
type eventService interface {
	Ingest(ctx context.Context, ev ingest.Event) (ingest.Result, error)
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
	ev := ingest.Event{Name: deref(b.Name), UserID: deref(b.UserID), Email: deref(b.Email),
		EventProperties: b.EventProperties, ContactProperties: b.ContactProperties, IdempotencyKey: deref(b.IdempotencyKey)}
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
		var he *HTTPError
		if mapped := ingestError(err); asHTTPError(mapped, &he) {
			out.ListsError = he.Message
		} else {
			out.ListsError = "could not update lists"
		}
	}
	c.JSON(http.StatusAccepted, out)
	return nil
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// adminContactService is what the admin contact routes need.
type adminContactService interface {
	Upsert(ctx context.Context, in contacts.Identity) (contacts.Resolution, error)
	ContactByPathID(ctx context.Context, id string) (store.Contact, error)
	ListContacts(ctx context.Context, search string, limit, offset int) ([]store.Contact, int, error)
	ExportContacts(ctx context.Context, search string, limit int, fn func(store.Contact) error) error
	PatchContact(ctx context.Context, pathID string, u ingest.ContactUpdate) (store.Contact, error)
	DeleteContact(ctx context.Context, pathID string) error
	Preferences(ctx context.Context, c store.Contact) (store.Preferences, error)
	SetPreferences(ctx context.Context, pathID string, u store.PreferencesUpdate) (store.Preferences, error)
	Timeline(ctx context.Context, c store.Contact, types []string, limit, offset int) ([]store.TimelineEntry, int, error)
}

type adminContactHandlers struct {
	svc adminContactService
	log *slog.Logger
}

// adminContactJSON is the admin shape: the public one plus the anonymous id.
type adminContactJSON struct {
	ingest.PublicContact
	AnonymousID *string `json:"anonymousId"`
}

func adminContact(c store.Contact) adminContactJSON {
	return adminContactJSON{PublicContact: ingest.Public(c), AnonymousID: c.AnonymousID}
}

type preferencesJSON struct {
	ID              string          `json:"id"`
	UserID          string          `json:"userId"`
	Email           string          `json:"email"`
	UnsubscribedAll bool            `json:"unsubscribedAll"`
	Suppressed      bool            `json:"suppressed"`
	BounceCount     int             `json:"bounceCount"`
	Categories      map[string]bool `json:"categories"`
	SuppressedAt    *string         `json:"suppressedAt"`
	LastBounceAt    *string         `json:"lastBounceAt"`
}

func preferences(p store.Preferences) preferencesJSON {
	cats := p.Categories
	if cats == nil {
		cats = map[string]bool{}
	}
	return preferencesJSON{ID: p.ID, UserID: p.UserID, Email: p.Email, UnsubscribedAll: p.UnsubscribedAll, Suppressed: p.Suppressed,
		BounceCount: p.BounceCount, Categories: cats, SuppressedAt: ptr.Map(p.SuppressedAt, journey.Timestamp), LastBounceAt: ptr.Map(p.LastBounceAt, journey.Timestamp)}
}

var (
	errNoPreferences = &HTTPError{Status: http.StatusNotFound, Message: "No preferences found for this contact"}
	errNoEmail       = &HTTPError{Status: http.StatusBadRequest, Message: "Contact has no email address"}
)

// adminError maps the admin plane's domain errors, then the data plane's.
func adminError(err error) error {
	switch {
	case errors.Is(err, ingest.ErrNoPreferences):
		return errNoPreferences
	case errors.Is(err, ingest.ErrNoEmail):
		return errNoEmail
	case errors.Is(err, ingest.ErrEventNotFound):
		return &HTTPError{Status: http.StatusNotFound, Message: "Event not found"}
	}
	return ingestError(err)
}

func (h *adminContactHandlers) list(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	if err := v.OrNil(); err != nil {
		return err
	}
	list, total, err := h.svc.ListContacts(c, c.Query("search"), p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]adminContactJSON, len(list))
	for i, ct := range list {
		out[i] = adminContact(ct)
	}
	c.JSON(http.StatusOK, gin.H{"contacts": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

func (h *adminContactHandlers) get(c *gin.Context) error {
	ct, err := h.svc.ContactByPathID(c, c.Param("id"))
	if err != nil {
		return adminError(err)
	}
	var prefs *preferencesJSON
	if p, err := h.svc.Preferences(c, ct); err == nil {
		pj := preferences(p)
		prefs = &pj
	} else if !errors.Is(err, ingest.ErrNoPreferences) {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"contact": adminContact(ct), "preferences": prefs})
	return nil
}

type createContactBody struct {
	ExternalID *string        `json:"externalId"`
	Email      *string        `json:"email"`
	Properties map[string]any `json:"properties"`
}

func (h *adminContactHandlers) create(c *gin.Context) error {
	var body createContactBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	v := &ValidationError{}
	if body.ExternalID != nil && *body.ExternalID == "" {
		v.Add("externalId", "too_small", "must be at least 1 character")
	}
	if body.Email != nil && !emailPattern.MatchString(*body.Email) {
		v.Add("email", "invalid_string", "must be a valid email address")
	}
	if body.ExternalID == nil && body.Email == nil {
		v.Add("externalId", "custom", "Provide at least one of externalId or email")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	res, err := h.svc.Upsert(c, contacts.Identity{UserID: ptr.Deref(body.ExternalID), Email: ptr.Deref(body.Email), Patch: body.Properties})
	if err != nil {
		return adminError(err)
	}
	c.JSON(http.StatusCreated, gin.H{"contact": adminContact(res.Contact)})
	return nil
}

type patchContactBody struct {
	Email      *string        `json:"email"`
	Properties map[string]any `json:"properties"`
}

func (h *adminContactHandlers) patch(c *gin.Context) error {
	var body patchContactBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	v := &ValidationError{}
	identityFields(v, body.Email, nil)
	if err := v.OrNil(); err != nil {
		return err
	}
	ct, err := h.svc.PatchContact(c, c.Param("id"), ingest.ContactUpdate{Email: body.Email, Properties: body.Properties})
	if err != nil {
		return adminError(err)
	}
	c.JSON(http.StatusOK, gin.H{"contact": adminContact(ct)})
	return nil
}

func (h *adminContactHandlers) delete(c *gin.Context) error {
	if err := h.svc.DeleteContact(c, c.Param("id")); err != nil {
		return adminError(err)
	}
	c.JSON(http.StatusOK, gin.H{"deleted": true})
	return nil
}

func (h *adminContactHandlers) getPreferences(c *gin.Context) error {
	ct, err := h.svc.ContactByPathID(c, c.Param("id"))
	if err != nil {
		return adminError(err)
	}
	p, err := h.svc.Preferences(c, ct)
	if err != nil {
		return adminError(err)
	}
	c.JSON(http.StatusOK, gin.H{"preferences": preferences(p)})
	return nil
}

type preferencesBody struct {
	UnsubscribedAll *bool           `json:"unsubscribedAll"`
	Suppressed      *bool           `json:"suppressed"`
	Categories      map[string]bool `json:"categories"`
}

func (h *adminContactHandlers) putPreferences(c *gin.Context) error {
	var body preferencesBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	p, err := h.svc.SetPreferences(c, c.Param("id"), store.PreferencesUpdate{
		UnsubscribedAll: body.UnsubscribedAll, Suppressed: body.Suppressed, Categories: body.Categories})
	if err != nil {
		return adminError(err)
	}
	c.JSON(http.StatusOK, gin.H{"preferences": preferences(p)})
	return nil
}

var timelineTypes = []string{"event", "journey", "email"}

func (h *adminContactHandlers) timeline(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	types := timelineTypes
	if t, ok := c.GetQuery("type"); ok {
		switch t {
		case "event", "journey", "email":
			types = []string{t}
		default:
			v.Add("type", "invalid_enum_value", "must be one of event, journey, email")
		}
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	ct, err := h.svc.ContactByPathID(c, c.Param("id"))
	if err != nil {
		return adminError(err)
	}
	entries, total, err := h.svc.Timeline(c, ct, types, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]gin.H, len(entries))
	for i, e := range entries {
		var data gin.H
		switch e.Type {
		case "event":
			data = gin.H{"id": e.ID, "event": e.Name, "properties": e.Properties}
		case "journey":
			data = gin.H{"id": e.ID, "journeyId": e.Name, "status": e.Status, "currentNodeId": e.CurrentNodeID,
				"completedAt": ptr.Map(e.CompletedAt, journey.Timestamp), "exitedAt": ptr.Map(e.ExitedAt, journey.Timestamp)}
		default:
			data = gin.H{"id": e.ID, "templateKey": e.Name, "subject": e.Subject, "status": e.Status, "toEmail": e.ToEmail,
				"sentAt": ptr.Map(e.SentAt, journey.Timestamp), "deliveredAt": ptr.Map(e.DeliveredAt, journey.Timestamp), "openedAt": ptr.Map(e.OpenedAt, journey.Timestamp)}
		}
		out[i] = gin.H{"type": e.Type, "timestamp": journey.Timestamp(e.Timestamp), "data": data}
	}
	c.JSON(http.StatusOK, gin.H{"timeline": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

// export streams contacts as JSON or as the reference's unquoted CSV.
func (h *adminContactHandlers) export(c *gin.Context) error {
	v := &ValidationError{}
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "csv" {
		v.Add("format", "invalid_enum_value", "must be json or csv")
	}
	limit := 10000
	if raw, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100000 {
			v.Add("limit", "too_big", "must be an integer from 1 to 100000")
		}
		limit = n
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	w := c.Writer
	first := true
	var write func(store.Contact) error
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", `attachment; filename="contacts.csv"`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.WriteString("externalId,email,properties,firstSeenAt,lastSeenAt")
		write = func(ct store.Contact) error {
			props, err := json.Marshal(orEmptyMap(ct.Properties))
			if err != nil {
				return err
			}
			_, err = w.WriteString("\n" + csvRecord(ptr.Deref(ct.ExternalID), ptr.Deref(ct.Email), string(props),
				journey.Timestamp(ct.FirstSeenAt), journey.Timestamp(ct.LastSeenAt)))
			return err
		}
	} else {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.WriteString(`{"contacts":[`)
		write = func(ct store.Contact) error {
			row, err := json.Marshal(gin.H{"id": ct.ID, "externalId": ct.ExternalID, "email": ct.Email, "properties": orEmptyMap(ct.Properties),
				"firstSeenAt": journey.Timestamp(ct.FirstSeenAt), "lastSeenAt": journey.Timestamp(ct.LastSeenAt), "createdAt": journey.Timestamp(ct.CreatedAt)})
			if err != nil {
				return err
			}
			if !first {
				_, _ = w.WriteString(",")
			}
			first = false
			_, err = w.Write(row)
			return err
		}
	}
	if err := h.svc.ExportContacts(c, c.Query("search"), limit, write); err != nil {
		// The status line is sent: all that is left is to cut the stream short and log why.
		h.log.Error("contact export failed", "error", err.Error(), "requestId", requestID(c))
		c.Abort()
		return nil
	}
	if format == "json" {
		_, _ = w.WriteString("]}")
	}
	return nil
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

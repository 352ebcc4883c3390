package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// contactService is what the data-plane contact routes need.
type contactService interface {
	Upsert(ctx context.Context, in contacts.Identity) (contacts.Resolution, error)
	Find(ctx context.Context, email, userID string) ([]store.Contact, error)
	Delete(ctx context.Context, email, userID string) error
	SetLists(ctx context.Context, userID, email string, lists map[string]bool) error
}

type contactHandlers struct {
	svc contactService
}

var (
	errIdentityRequired = &HTTPError{Status: http.StatusBadRequest, Message: "email or userId is required"}
	errContactNotFound  = &HTTPError{Status: http.StatusNotFound, Message: "Contact not found"}
	errNoListRecipient  = &HTTPError{Status: http.StatusBadRequest, Message: "Contact has no email; cannot manage list membership"}
)

// emailPattern is the syntax check of email-validated fields: one @, no spaces, a dot in the domain.
var emailPattern = regexp.MustCompile(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)

// identityFields validates the optional email and userId of a data-plane body.
func identityFields(v *ValidationError, email, userID *string) {
	if email != nil && !emailPattern.MatchString(*email) {
		v.Add("email", "invalid_string", "must be a valid email address")
	}
	if userID != nil && *userID == "" {
		v.Add("userId", "too_small", "must be at least 1 character")
	}
}

type upsertContactBody struct {
	Email      *string         `json:"email"`
	UserID     *string         `json:"userId"`
	Properties map[string]any  `json:"properties"`
	Lists      map[string]bool `json:"lists"`
}

func (h *contactHandlers) upsert(c *gin.Context) error {
	var body upsertContactBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	v := &ValidationError{}
	identityFields(v, body.Email, body.UserID)
	if err := v.OrNil(); err != nil {
		return err
	}
	if body.Email == nil && body.UserID == nil {
		return errIdentityRequired
	}
	res, err := h.svc.Upsert(c, contacts.Identity{UserID: ptr.Deref(body.UserID), Email: ptr.Deref(body.Email), Patch: body.Properties})
	if err != nil {
		return ingestError(err)
	}
	if err := h.svc.SetLists(c, ptr.Deref(body.UserID), ptr.Deref(body.Email), body.Lists); err != nil {
		return ingestError(err)
	}
	c.JSON(http.StatusOK, upsertReply{ID: res.Contact.ID, Created: res.Created, Linked: !res.Created})
	return nil
}

func (h *contactHandlers) find(c *gin.Context) error {
	email, userID := c.Query("email"), c.Query("userId")
	if email == "" && userID == "" {
		return errIdentityRequired
	}
	found, err := h.svc.Find(c, email, userID)
	if err != nil {
		return err
	}
	out := make([]ingest.PublicContact, len(found))
	for i, ct := range found {
		out[i] = ingest.Public(ct)
	}
	c.JSON(http.StatusOK, findReply{Contacts: out})
	return nil
}

// upsertReply is PUT /v1/contacts' answer: linked is true when an existing contact matched.
type upsertReply struct {
	ID      string `json:"id"`
	Created bool   `json:"created"`
	Linked  bool   `json:"linked"`
}

type findReply struct {
	Contacts []ingest.PublicContact `json:"contacts"`
}

type deleteContactBody struct {
	Email  *string `json:"email"`
	UserID *string `json:"userId"`
}

func (h *contactHandlers) delete(c *gin.Context) error {
	var body deleteContactBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if ptr.Deref(body.Email) == "" && ptr.Deref(body.UserID) == "" {
		return errIdentityRequired
	}
	if err := h.svc.Delete(c, ptr.Deref(body.Email), ptr.Deref(body.UserID)); err != nil {
		return ingestError(err)
	}
	c.JSON(http.StatusOK, gin.H{"deleted": true})
	return nil
}

// ingestError maps the domain's errors to responses.
func ingestError(err error) error {
	var ve *ingest.ValidationError
	switch {
	case errors.As(err, &ve):
		return &HTTPError{Status: http.StatusBadRequest, Message: ve.Msg}
	case errors.Is(err, contacts.ErrNoIdentity):
		return errIdentityRequired
	case errors.Is(err, ingest.ErrContactNotFound):
		return errContactNotFound
	case errors.Is(err, ingest.ErrNoRecipient):
		return errNoListRecipient
	}
	return err
}

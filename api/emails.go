package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/store"
)

// EmailConfig configures the email routes.
type EmailConfig struct {
	// WebhookSecret verifies POST /v1/webhooks/resend; empty = that route always answers 401.
	WebhookSecret string
	// UnsubscribeConfirm makes a GET of an unsubscribe link ask for a confirming POST.
	UnsubscribeConfirm bool
}

type emailHandlers struct {
	m  *mailer.Mailer
	db store.DBTX
}

// sendBody is the body of POST /v1/emails.
type sendBody struct {
	To                  *string        `json:"to"`
	UserID              *string        `json:"userId"`
	Template            string         `json:"template"`
	Props               map[string]any `json:"props"`
	From                string         `json:"from"`
	Subject             string         `json:"subject"`
	ReplyTo             stringList     `json:"replyTo"`
	Category            string         `json:"category"`
	SkipPreferenceCheck bool           `json:"skipPreferenceCheck"`
	IdempotencyKey      string         `json:"idempotencyKey"`
}

// stringList is a JSON string or array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("replyTo must be a string or an array of strings")
	}
	*l = many
	return nil
}

// send is POST /v1/emails: a transactional send through the whole pipeline.
func (h *emailHandlers) send(c *gin.Context) error {
	var b sendBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	v := &ValidationError{}
	if b.To != nil && !emailPattern.MatchString(*b.To) {
		v.Add("to", "invalid_string", "must be a valid email address")
	}
	if b.UserID != nil && *b.UserID == "" {
		v.Add("userId", "too_small", "must be at least 1 character")
	}
	if b.Template == "" {
		v.Add("template", "too_small", "is required")
	}
	if _, err := mail.ParseAddress(b.From); b.From != "" && err != nil {
		v.Add("from", "invalid_string", "must be an email address, optionally with a name (\"Team <team@example.com>\")")
	}
	for _, r := range b.ReplyTo {
		if _, err := mail.ParseAddress(r); err != nil {
			v.Add("replyTo", "invalid_string", "%q is not an email address", r)
		}
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	switch {
	case b.To == nil && b.UserID == nil:
		return Errorf(http.StatusBadRequest, "to or userId is required")
	case b.SkipPreferenceCheck && !apikeys.HasScope(identity(c).Scopes, apikeys.FullAdmin):
		return Errorf(http.StatusForbidden, "skipPreferenceCheck requires a full-admin key")
	}
	if _, ok := h.m.Templates().Get(b.Template); !ok {
		return Errorf(http.StatusBadRequest, "Unknown template: %s", b.Template)
	}
	r := recipient{resolve: true}
	if b.To != nil {
		r.email = strings.ToLower(strings.TrimSpace(*b.To)) // the pipeline finds its contact
	} else {
		var err error
		if r, err = recipientOfUser(c.Request.Context(), h.db, strings.TrimSpace(*b.UserID)); err != nil {
			return err
		}
	}
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		key = b.IdempotencyKey
	}
	res, err := h.m.Send(c.Request.Context(), mailer.SendOptions{
		Template: b.Template, Props: b.Props, To: r.email, From: b.From, Subject: b.Subject, UserID: r.userID, ResolveUser: r.resolve,
		UserEmail: r.email, Category: email.Category(b.Category), ReplyTo: b.ReplyTo,
		SkipPreferenceCheck: b.SkipPreferenceCheck, IdempotencyKey: key,
	})
	if errors.Is(err, mailer.ErrInFlight) {
		return &HTTPError{Status: http.StatusConflict, Message: "A send with this idempotency key is still in flight; retry later",
			RetryAfter: 5 * time.Second}
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, res)
	return nil
}

// recipient is who a transactional send goes to.
type recipient struct {
	email   string
	userID  string // the contact's external id, else its id
	resolve bool   // an address: the pipeline finds its contact (or records the address itself)
}

var errNoRecipient = &HTTPError{Status: http.StatusNotFound, Message: "No resolvable email for recipient"}

// recipientOfUser finds the contact behind a user id, which must have an email.
func recipientOfUser(ctx context.Context, db store.DBTX, userID string) (recipient, error) {
	c, err := store.RecipientByUserID(ctx, db, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return recipient{}, errNoRecipient
	case err != nil:
		return recipient{}, err
	case c.Email == nil || *c.Email == "":
		return recipient{}, errNoRecipient
	}
	return recipient{email: strings.ToLower(*c.Email), userID: c.ExternalIDOrID()}, nil
}

package mailer

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// KindResend is the outbox kind of an admin resend: the dispatcher runs it until it has sent,
// so a resend survives restarts, and its idempotency key makes a repeated attempt harmless.
const KindResend = "email.resend"

// Errors of Resend.
var (
	ErrNotResendable = errors.New("email is not in a resendable state")
	ErrNoTemplate    = errors.New("no template key to re-render from")
)

type resendIntent struct {
	SourceID string `json:"sourceId"`
	NewID    string `json:"newId"`
}

// Resend schedules a failed or bounced send to go through the pipeline again, with its stored
// props, subject, category and recipient, preferences checked. It returns the new send's id.
func (m *Mailer) Resend(ctx context.Context, sendID string) (string, error) {
	e, err := store.EmailSendByID(ctx, m.cfg.DB, sendID)
	if err != nil {
		return "", err
	}
	if e.Status != "failed" && e.Status != "bounced" {
		return "", ErrNotResendable
	}
	if e.TemplateKey == nil || *e.TemplateKey == "" {
		return "", ErrNoTemplate
	}
	newID := uuid.NewString()
	if _, err := outbox.Append(ctx, m.cfg.DB, []outbox.Intent{{Kind: KindResend, DedupeKey: KindResend + ":" + newID,
		Payload: resendIntent{SourceID: sendID, NewID: newID}}}); err != nil {
		return "", err
	}
	m.kick()
	return newID, nil
}

// RegisterResend lets the outbox dispatcher perform resends.
func (m *Mailer) RegisterResend(d *outbox.Dispatcher) {
	d.Handle(KindResend, func(ctx context.Context, payload json.RawMessage) error {
		var in resendIntent
		if err := json.Unmarshal(payload, &in); err != nil {
			return outbox.Permanent(err)
		}
		e, err := store.EmailSendByID(ctx, m.cfg.DB, in.SourceID)
		if errors.Is(err, store.ErrNotFound) {
			return outbox.Permanent(err)
		}
		if err != nil {
			return err
		}
		o := SendOptions{SendID: in.NewID, IdempotencyKey: "resend:" + in.NewID, Template: ptr.Deref(e.TemplateKey),
			Props: e.Props, To: e.ToEmail, From: e.FromEmail, Subject: e.Subject, JourneyStateID: ptr.Deref(e.JourneyStateID),
			UserID: ptr.Deref(e.UserID), Category: email.Category(ptr.Deref(e.Category))}
		_, err = m.Send(ctx, o)
		if errors.Is(err, ErrTemplateNotFound) || (err != nil && !email.Retryable(err)) {
			return outbox.Permanent(err)
		}
		return err
	})
}

package mailer

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// KindResend is the outbox kind of an admin resend: the dispatcher runs it until it has sent,
// so a resend survives restarts. Its row is written with the intent, held pending under its
// idempotency key, so its id can be read at once and every attempt reuses the row.
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

func resendKey(newID string) string { return "resend:" + newID }

// Resend schedules a failed or bounced send to go through the pipeline again, with its stored
// props, subject, category and recipient, preferences checked. It returns the new send's id,
// whose row (queued) exists when Resend returns.
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
	err = store.WithTx(ctx, m.cfg.DB, func(tx pgx.Tx) error {
		if _, err := store.InsertSend(ctx, tx, resendRow(e, newID), nil); err != nil {
			return err
		}
		_, err := outbox.Append(ctx, tx, []outbox.Intent{{Kind: KindResend, DedupeKey: KindResend + ":" + newID,
			Payload: resendIntent{SourceID: sendID, NewID: newID}}})
		return err
	})
	if err != nil {
		return "", err
	}
	m.kick()
	return newID, nil
}

// resendRow is the pending row of a resend of e.
func resendRow(e store.EmailSend, newID string) store.SendRow {
	return store.SendRow{ID: newID, JourneyStateID: ptr.Deref(e.JourneyStateID), UserID: ptr.Deref(e.RowUserID),
		UserEmail: e.ToEmail, TemplateKey: ptr.Deref(e.TemplateKey), From: e.FromEmail, To: e.ToEmail, Subject: e.Subject,
		Category: ptr.Deref(e.Category), Status: StatusQueued, StatusReason: store.ReasonPending,
		IdempotencyKey: resendKey(newID), Props: e.Props}
}

// Register lets the outbox dispatcher perform the mailer's intents: resends and tracking
// events.
func (m *Mailer) Register(d *outbox.Dispatcher) {
	m.registerResend(d)
	m.registerTracking(d)
}

func (m *Mailer) registerResend(d *outbox.Dispatcher) {
	d.Handle(KindResend, func(ctx context.Context, payload json.RawMessage) error {
		var in resendIntent
		if err := json.Unmarshal(payload, &in); err != nil {
			return outbox.Permanent(err)
		}
		e, err := store.EmailSendByID(ctx, m.cfg.DB, in.NewID)
		if errors.Is(err, store.ErrNotFound) {
			return outbox.Permanent(err)
		}
		if err != nil {
			return err
		}
		if e.Status == "failed" {
			// The last attempt was refused (try the same row again) or blocked (done).
			rearmed, err := store.RearmSend(ctx, m.cfg.DB, e.ID, resendKey(e.ID))
			if err != nil || !rearmed {
				return err
			}
		}
		o := SendOptions{SendID: e.ID, IdempotencyKey: resendKey(e.ID), Template: ptr.Deref(e.TemplateKey),
			Props: e.Props, To: e.ToEmail, From: e.FromEmail, Subject: e.Subject, JourneyStateID: ptr.Deref(e.JourneyStateID),
			UserID: ptr.Deref(e.RowUserID), Category: email.Category(ptr.Deref(e.Category))}
		_, err = m.Send(ctx, o)
		switch {
		case errors.Is(err, ErrTemplateNotFound): // the template was removed since: the row ends failed
			if ferr := store.MarkSendFailed(ctx, m.cfg.DB, e.ID, "template_not_found"); ferr != nil {
				return ferr
			}
			return outbox.Permanent(err)
		case err != nil && !email.Retryable(err):
			return outbox.Permanent(err)
		}
		return err
	})
}

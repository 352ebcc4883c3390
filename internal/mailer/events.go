package mailer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Tracking, preference and provider events: everything that happens to a send after it left.

// Engine event names re-ingested from tracking, so journeys and buckets can react to them.
const (
	EventEmailOpened      = "email.opened"
	EventEmailLinkClicked = "email.link_clicked"
)

// KindTrackedEvent is the outbox kind that ingests a first open or click as an engine event:
// written in the transaction that stamps it, so a crash cannot lose it.
const KindTrackedEvent = "email.tracked"

// EngineEvent is an event the engine ingests about its own mail.
type EngineEvent struct {
	Name           string         `json:"name"`
	UserID         string         `json:"userId,omitempty"`
	Email          string         `json:"email,omitempty"`
	Props          map[string]any `json:"props"`
	IdempotencyKey string         `json:"idempotencyKey"`
	OccurredAt     time.Time      `json:"occurredAt"`
}

// RecordOpen stamps a send's first open and, in the same transaction, records its follow-ups:
// email.opened ingested for the recipient and the outbound email.opened event. Later opens
// change nothing. false for later opens and unknown ids.
func (m *Mailer) RecordOpen(ctx context.Context, sendID string) (bool, error) {
	var first bool
	err := store.WithTx(ctx, m.cfg.DB, func(tx pgx.Tx) error {
		var err error
		if first, err = store.RecordOpen(ctx, tx, sendID); err != nil || !first {
			return err
		}
		return m.follow(ctx, tx, sendID, EventEmailOpened, outbound.EmailOpened, true, map[string]any{}, "", "")
	})
	if first && err == nil {
		m.kick()
	}
	return first && err == nil, err
}

// RecordClick counts a click on a tracked link. The link's first click also records, in the
// same transaction, email.link_clicked for the recipient, and the send's first click the
// outbound email.clicked event; later clicks are only counted. store.ErrNotFound for an
// unknown link.
func (m *Mailer) RecordClick(ctx context.Context, linkID string, ip, userAgent *string) (store.Click, error) {
	var c store.Click
	err := store.WithTx(ctx, m.cfg.DB, func(tx pgx.Tx) error {
		var err error
		if c, err = store.RecordClick(ctx, tx, linkID, ip, userAgent); err != nil || !c.FirstOnLink {
			return err
		}
		return m.follow(ctx, tx, c.SendID, EventEmailLinkClicked, outbound.EmailClicked, c.First,
			map[string]any{"linkUrl": c.URL, "linkId": linkID}, c.URL, linkID)
	})
	if c.FirstOnLink && err == nil {
		m.kick()
	}
	return c, err
}

// TrackingEvent is the payload of the outbound email.opened and email.clicked events.
type TrackingEvent struct {
	EmailSendID string  `json:"emailSendId"`
	ResendID    *string `json:"resendId"`
	TemplateKey *string `json:"templateKey"`
	UserID      *string `json:"userId"`
	To          string  `json:"to"`
	At          string  `json:"at"`
	LinkURL     string  `json:"linkUrl,omitempty"`
	LinkID      string  `json:"linkId,omitempty"`
}

// follow writes a tracking hit's follow-ups on tx: the engine event for the recipient (keyed by
// the send or link, so a retried intent is stored once) and, when emitOutbound, the outbound
// event.
func (m *Mailer) follow(ctx context.Context, tx pgx.Tx, sendID, event, outboundType string, emitOutbound bool,
	props map[string]any, linkURL, linkID string) error {
	sc, err := store.SendContextByID(ctx, tx, sendID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := time.Now()
	var intents []outbox.Intent
	if m.cfg.Events != nil {
		props["emailSendId"] = sendID
		props["templateKey"] = sc.TemplateKey
		// A send to a bare address has the address as its user key: ingest it as an email, so it
		// binds to (or creates) the contact of that address instead of an external id "a@b.c".
		userID := sc.UserID
		if strings.EqualFold(userID, sc.To) || strings.EqualFold(userID, sc.UserEmail) {
			userID = ""
		}
		key := "hogsend:" + event + ":" + cmp.Or(linkID, sendID)
		intents = append(intents, outbox.Intent{Kind: KindTrackedEvent, DedupeKey: key, Payload: EngineEvent{Name: event,
			UserID: userID, Email: sc.UserEmail, Props: props, IdempotencyKey: key, OccurredAt: now}})
	}
	if emitOutbound {
		uid := sc.UserID
		ev := TrackingEvent{EmailSendID: sendID, ResendID: sc.ProviderID, TemplateKey: sc.TemplateKey, UserID: &uid,
			To: sc.To, At: journey.Timestamp(now), LinkURL: linkURL, LinkID: linkID}
		intents = append(intents, outbound.Emit(outboundType, ev, outboundType+":"+sendID, now))
	}
	if len(intents) == 0 {
		return nil
	}
	_, err = outbox.Append(ctx, tx, intents)
	return err
}

// registerTracking lets the outbox dispatcher ingest tracking events.
func (m *Mailer) registerTracking(d *outbox.Dispatcher) {
	d.Handle(KindTrackedEvent, func(ctx context.Context, payload json.RawMessage) error {
		var ev EngineEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return outbox.Permanent(err)
		}
		if m.cfg.Events == nil {
			return errors.New("this process ingests no engine events")
		}
		return m.cfg.Events(ctx, ev)
	})
}

// emit records outbound events on db (a transaction, or the pool) and wakes the dispatcher.
func (m *Mailer) emit(ctx context.Context, db store.DBTX, intents ...outbox.Intent) {
	if _, err := outbox.Append(ctx, db, intents); err != nil {
		m.log.Error("outbound event not recorded", "error", err)
		return
	}
	m.kick()
}

// UnsubscribedEvent is the payload of the outbound contact.unsubscribed event.
type UnsubscribedEvent struct {
	ExternalID string  `json:"externalId"`
	Email      string  `json:"email"`
	Category   *string `json:"category"`
	Scope      string  `json:"scope"` // all | category
}

// SetPreference applies an opt-out or opt-in for (externalId, email); an opt-out also emits
// contact.unsubscribed, in the same transaction.
func (m *Mailer) SetPreference(ctx context.Context, externalID, addr string, ch store.PreferenceChange) error {
	addr = strings.ToLower(strings.TrimSpace(addr))
	optOut := (ch.UnsubscribedAll != nil && *ch.UnsubscribedAll) || (ch.Category != "" && !ch.Subscribed)
	err := store.WithTx(ctx, m.cfg.DB, func(tx pgx.Tx) error {
		if err := store.ApplyPreference(ctx, tx, externalID, addr, ch); err != nil {
			return err
		}
		if !optOut {
			return nil
		}
		ev := UnsubscribedEvent{ExternalID: externalID, Email: addr, Category: nonEmpty(ch.Category), Scope: "all"}
		if ch.Category != "" {
			ev.Scope = "category"
		}
		_, err := outbox.Append(ctx, tx, []outbox.Intent{outbound.Emit(outbound.ContactUnsubscribed, ev, "", time.Now())})
		return err
	})
	if err == nil && optOut {
		m.kick()
	}
	return err
}

// StatusEvent is the payload of the outbound email.delivered and email.bounced events.
type StatusEvent struct {
	EmailSendID  string  `json:"emailSendId"`
	ResendID     string  `json:"resendId"`
	TemplateKey  *string `json:"templateKey"`
	UserID       string  `json:"userId"`
	To           string  `json:"to"`
	At           string  `json:"at"`
	BounceType   string  `json:"bounceType,omitempty"`
	BounceReason string  `json:"bounceReason,omitempty"`
}

// providerStatus maps a provider event type to the send status it records.
var providerStatus = map[string]string{
	email.EventSent: "sent", email.EventDelivered: "delivered", email.EventOpened: "opened",
	email.EventClicked: "clicked", email.EventBounced: "bounced", email.EventComplained: "complained",
}

// HandleProviderEvent applies a verified delivery-status event once per delivery id: the send's
// status moves forward, bounces and complaints suppress the address, and delivered/bounced are
// emitted outbound. A redelivered id changes nothing.
func (m *Mailer) HandleProviderEvent(ctx context.Context, deliveryID string, ev email.ProviderEvent) error {
	var emitted bool
	err := store.WithTx(ctx, m.cfg.DB, func(tx pgx.Tx) error {
		emitted = false
		fresh, err := store.RecordProviderEvent(ctx, tx, deliveryID, "resend", ev.Type)
		if err != nil || !fresh {
			return err
		}
		if err := m.applyProviderEvent(ctx, tx, ev, &emitted); err != nil {
			return err
		}
		// The application's handler runs last, inside the transaction: if it fails, the delivery
		// is not marked processed and the provider's retry runs everything again.
		if h := m.cfg.WebhookHandlers[ev.Type]; h != nil {
			return h(ctx, ev)
		}
		return nil
	})
	if err == nil && emitted {
		m.kick()
	}
	return err
}

// applyProviderEvent is the engine's part of a provider event.
func (m *Mailer) applyProviderEvent(ctx context.Context, tx pgx.Tx, ev email.ProviderEvent, emitted *bool) error {

	status, known := providerStatus[ev.Type]
	if !known || ev.Data.EmailID == "" {
		return nil
	}
	if _, err := store.AdvanceEmailStatus(ctx, tx, ev.Data.EmailID, status); err != nil {
		return err
	}
	if ev.Type == email.EventBounced && ev.Data.Bounce != nil {
		if err := store.SetBounceDetail(ctx, tx, ev.Data.EmailID, ev.Data.Bounce.Type, ev.Data.Bounce.Message); err != nil {
			return err
		}
	}
	sends, err := store.SendContextsByProviderID(ctx, tx, ev.Data.EmailID)
	if err != nil {
		return err
	}
	if len(ev.Data.To) > 0 && (ev.Type == email.EventBounced || ev.Type == email.EventComplained) {
		to := strings.ToLower(strings.TrimSpace(ev.Data.To[0]))
		userKey := to
		if len(sends) > 0 {
			userKey = sends[0].UserID
		}
		if ev.Type == email.EventComplained {
			err = store.RecordComplaint(ctx, tx, userKey, to)
		} else {
			hard := false
			if ev.Data.Bounce != nil && m.cfg.SuppressOnHardBounce {
				t := strings.ToLower(ev.Data.Bounce.Type)
				hard = t == "permanent" || t == "hard"
			}
			err = store.RecordBounce(ctx, tx, userKey, to, m.cfg.BounceThreshold, hard)
		}
		if err != nil {
			return err
		}
	}
	if ev.Type != email.EventDelivered && ev.Type != email.EventBounced {
		return nil
	}
	var intents []outbox.Intent
	now := time.Now()
	for _, s := range sends {
		se := StatusEvent{EmailSendID: s.SendID, ResendID: ev.Data.EmailID, TemplateKey: s.TemplateKey, UserID: s.UserID, To: s.To, At: journey.Timestamp(now)}
		if ev.Data.Bounce != nil {
			se.BounceType, se.BounceReason = ev.Data.Bounce.Type, ev.Data.Bounce.Message
		}
		intents = append(intents, outbound.Emit(ev.Type, se, "", now))
	}
	if len(intents) > 0 {
		if _, err := outbox.Append(ctx, tx, intents); err != nil {
			return err
		}
		*emitted = true
	}
	return nil
}

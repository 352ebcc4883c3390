package ingest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

var uuidPattern = regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ContactByPathID finds a live contact by uuid, or by external id when the id is not a uuid.
func (s *Service) ContactByPathID(ctx context.Context, id string) (store.Contact, error) {
	return contactByPathID(ctx, s.DB, id)
}

func contactByPathID(ctx context.Context, db store.DBTX, id string) (store.Contact, error) {
	var c store.Contact
	var err error
	if uuidPattern.MatchString(id) {
		c, err = store.LiveContactByID(ctx, db, id)
	} else {
		c, err = store.LiveContactByExternalID(ctx, db, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return c, ErrContactNotFound
	}
	return c, err
}

// ContactUpdate is an admin PATCH.
type ContactUpdate struct {
	Email      *string
	Properties map[string]any
}

// PatchContact updates a contact from the admin plane. An email is only filled when the contact
// has none (an email owned by another contact merges the two); properties merge. It emits
// contact.updated when properties were given or the email differs from the current one.
func (s *Service) PatchContact(ctx context.Context, pathID string, u ContactUpdate) (store.Contact, error) {
	var out store.Contact
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		cur, err := contactByPathID(ctx, tx, pathID)
		if err != nil {
			return err
		}
		var intents []outbox.Intent
		hasKey := cur.ExternalID != nil || cur.Email != nil || cur.AnonymousID != nil
		if hasKey || u.Email != nil {
			in := contacts.Identity{UserID: ptr.Deref(cur.ExternalID), Email: ptr.Deref(cur.Email), AnonymousID: ptr.Deref(cur.AnonymousID), Patch: u.Properties}
			if u.Email != nil {
				in.Email = *u.Email
			}
			r, err := contacts.Resolve(ctx, tx, in)
			if err != nil {
				return err
			}
			out = r.Contact // the resolver's survivor, even when a merge retired this contact
			intents = cancelIntents(r.Exited)
		} else if out, err = store.PatchContactProperties(ctx, tx, cur.ID, u.Properties); err != nil {
			return err
		}
		if len(u.Properties) > 0 || (u.Email != nil && contacts.NormalizeEmail(*u.Email) != ptr.Deref(cur.Email)) {
			intents = append(intents, outbound.Emit(outbound.ContactUpdated, Public(out), "", s.now()))
		}
		_, err = outbox.Append(ctx, tx, intents)
		return err
	})
	if err != nil {
		return store.Contact{}, err
	}
	s.kick()
	return out, nil
}

// DeleteContact soft-deletes one contact by path id (no outbound event, as in the reference).
func (s *Service) DeleteContact(ctx context.Context, pathID string) error {
	c, err := s.ContactByPathID(ctx, pathID)
	if err != nil {
		return err
	}
	return store.SoftDeleteContacts(ctx, s.DB, []string{c.ID})
}

// ErrNoPreferences is returned when a contact has no preference row.
var ErrNoPreferences = errors.New("no preferences found for this contact")

// ErrNoEmail is returned when preferences are written for a contact without an email.
var ErrNoEmail = errors.New("contact has no email address")

// Preferences returns the contact's first preference row.
func (s *Service) Preferences(ctx context.Context, c store.Contact) (store.Preferences, error) {
	p, err := store.PreferencesOf(ctx, s.DB, c.PreferenceKey())
	if errors.Is(err, store.ErrNotFound) {
		return p, ErrNoPreferences
	}
	return p, err
}

// SetPreferences writes the supplied preference fields of a contact's email; an opt-out
// (unsubscribe from everything, or a category set false) emits contact.unsubscribed.
func (s *Service) SetPreferences(ctx context.Context, pathID string, u store.PreferencesUpdate) (store.Preferences, error) {
	var out store.Preferences
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		c, err := contactByPathID(ctx, tx, pathID)
		if err != nil {
			return err
		}
		if c.Email == nil {
			return ErrNoEmail
		}
		if out, err = store.UpsertPreferences(ctx, tx, c.PreferenceKey(), *c.Email, u); err != nil {
			return err
		}
		var intents []outbox.Intent
		if u.UnsubscribedAll != nil && *u.UnsubscribedAll {
			intents = append(intents, outbound.Emit(outbound.ContactUnsubscribed, map[string]any{
				"externalId": c.PreferenceKey(), "email": *c.Email, "category": nil, "scope": "all"}, "", s.now()))
		}
		for _, id := range sortedKeys(u.Categories) {
			if !u.Categories[id] {
				intents = append(intents, outbound.Emit(outbound.ContactUnsubscribed, map[string]any{
					"externalId": c.PreferenceKey(), "email": *c.Email, "category": id, "scope": "category"}, "", s.now()))
			}
		}
		_, err = outbox.Append(ctx, tx, intents)
		return err
	})
	if err != nil {
		return store.Preferences{}, err
	}
	s.kick()
	return out, nil
}

// ReplayResult counts a replay.
type ReplayResult struct {
	Replayed int `json:"replayed"`
	Errors   int `json:"errors"`
}

// Replay re-ingests stored events as new events now (no idempotency key, no contact
// properties), so they run through journeys and buckets again. Each targets the live contact
// that owns the stored key; only when none does is the key used as a user id.
func (s *Service) Replay(ctx context.Context, events []store.Event) ReplayResult {
	var (
		mu  sync.Mutex
		res ReplayResult
		sem = make(chan struct{}, 25)
		wg  sync.WaitGroup
	)
	for _, e := range events {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := s.replayOne(ctx, e)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Errors++
			} else {
				res.Replayed++
			}
		})
	}
	wg.Wait()
	return res
}

func (s *Service) replayOne(ctx context.Context, e store.Event) error {
	ev := Event{Name: e.Name, UserID: e.UserID, EventProperties: e.Properties}
	c, err := store.LiveContactByKey(ctx, s.DB, e.UserID)
	switch {
	case err == nil && c.ExternalID != nil:
		ev.UserID = *c.ExternalID
	case err == nil && c.AnonymousID != nil:
		ev.UserID, ev.AnonymousID = "", *c.AnonymousID
	case err == nil && c.Email != nil:
		ev.UserID, ev.Email = "", *c.Email
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	if _, err := s.Ingest(ctx, ev); err != nil {
		return fmt.Errorf("replay event %s: %w", e.ID, err)
	}
	return nil
}

// ListContacts pages live contacts matching the search.
func (s *Service) ListContacts(ctx context.Context, search string, limit, offset int) ([]store.Contact, int, error) {
	return store.ListContacts(ctx, s.DB, store.ContactFilter{Search: search}, limit, offset)
}

// ExportContacts streams up to limit live contacts matching the search, newest first.
func (s *Service) ExportContacts(ctx context.Context, search string, limit int, fn func(store.Contact) error) error {
	return store.EachContactForExport(ctx, s.DB, store.ContactFilter{Search: search}, limit, fn)
}

// ListEvents pages stored events.
func (s *Service) ListEvents(ctx context.Context, f store.EventFilter, limit, offset int) ([]store.Event, int, error) {
	return store.ListEvents(ctx, s.DB, f, limit, offset)
}

// ErrEventNotFound is returned for an unknown event id.
var ErrEventNotFound = errors.New("event not found")

// Event returns one stored event.
func (s *Service) Event(ctx context.Context, id string) (store.Event, error) {
	e, err := store.EventByID(ctx, s.DB, id)
	if errors.Is(err, store.ErrNotFound) {
		return e, ErrEventNotFound
	}
	return e, err
}

// EventsForReplay selects events by id (when ids are given) or by filter, newest first.
func (s *Service) EventsForReplay(ctx context.Context, ids []string, f store.EventFilter, limit int) ([]store.Event, error) {
	if len(ids) > 0 {
		return store.EventsByIDs(ctx, s.DB, ids)
	}
	list, _, err := store.ListEvents(ctx, s.DB, f, limit, 0)
	return list, err
}

// Timeline merges a contact's events, journey runs and journey sends, newest first.
func (s *Service) Timeline(ctx context.Context, c store.Contact, types []string, limit, offset int) ([]store.TimelineEntry, int, error) {
	return store.Timeline(ctx, s.DB, c.Key(), types, limit, offset)
}

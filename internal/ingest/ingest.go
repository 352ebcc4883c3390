// Package ingest is the engine's data plane: event ingestion (one at a time, batched, group
// committed), contact upserts and deletes, and list flags; identities resolve in contacts.
// Everything an event causes beyond Postgres is recorded as outbox intents in the same
// transaction and performed after commit, so an acknowledged event never loses its
// consequences.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Event is one event to ingest.
type Event struct {
	Name        string
	UserID      string
	Email       string
	AnonymousID string // internal producers only
	// EventProperties are stored with the event and seen by journeys; never merged onto the contact.
	EventProperties map[string]any
	// ContactProperties merge onto the contact (null removes a key); nil = no patch.
	ContactProperties map[string]any
	// IdempotencyKey dedupes globally and forever; a duplicate changes nothing.
	IdempotencyKey string
	// OccurredAt backdates the event; nil = now.
	OccurredAt *time.Time
	// ID is the stored event's id; "" = a new one. The group committer sets it before the event
	// is queued, so retrying a batch whose commit outcome is unknown cannot store it twice.
	ID string
}

// ExitResult is one journey run an event ended (or matched without ending).
type ExitResult struct {
	JourneyID string `json:"journeyId"`
	StateID   string `json:"stateId"`
	Exited    bool   `json:"exited"`
}

// Result is the outcome of an ingest.
type Result struct {
	Stored  bool
	EventID string
	Contact store.Contact
	Exits   []ExitResult // never nil
}

// StoredEvent is what consumers see of a freshly stored event.
type StoredEvent struct {
	ID                string
	Name              string
	UserKey           string // the contact's canonical key at ingest time
	ContactID         string
	UserEmail         string // as sent, "" when none
	ContactEmail      string // the contact's stored email, "" when none
	Properties        map[string]any
	ContactProperties map[string]any
	OccurredAt        time.Time
}

// Effects collects what consumers decide inside the ingest transaction.
type Effects struct {
	Intents []outbox.Intent
	Exits   []ExitResult
}

// Consumer reacts to every stored event inside the ingest transaction: journeys (start, exit,
// wake), buckets and outbound webhooks plug in here without touching ingest. A consumer writes
// only through tx and asks for follow-ups through fx; an error fails the event.
type Consumer interface {
	ConsumeEvent(ctx context.Context, tx pgx.Tx, ev *StoredEvent, fx *Effects) error
}

// BatchConsumer is a Consumer that can take the events of one transaction at once, in order
// (fxs[i] belongs to evs[i]): the set-based ingest path calls it instead of ConsumeEvent.
type BatchConsumer interface {
	Consumer
	ConsumeEvents(ctx context.Context, tx pgx.Tx, evs []*StoredEvent, fxs []*Effects) error
}

// Service runs ingest against a database.
type Service struct {
	DB        store.DBTX
	Consumers []Consumer
	Outbox    outbox.Kicker // nil: rows wait for the dispatcher's sweep
	Now       func() time.Time

	group *GroupCommit
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) kick() {
	if s.Outbox != nil {
		s.Outbox.Kick()
	}
}

// ValidationError is bad input to ingest; nothing was written.
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

// errDuplicate rolls back an ingest whose key lost a race to a concurrent duplicate.
var errDuplicate = errors.New("duplicate idempotency key")

// Ingest stores one event and dispatches its intents after commit: through the group
// committer when one is enabled, else in a transaction of its own.
func (s *Service) Ingest(ctx context.Context, ev Event) (Result, error) {
	if s.group != nil {
		ev.ID = cmp.Or(ev.ID, uuid.NewString())
		it, err := s.group.c.Do(ctx, ev)
		if err == nil {
			err = it.Err
		}
		if err != nil {
			return Result{Exits: []ExitResult{}}, err
		}
		return it.Result, nil
	}
	return s.ingestAlone(ctx, ev)
}

// Close stops the group committer, if any, after the events it holds are committed.
func (s *Service) Close() {
	if s.group != nil {
		s.group.c.Close()
		s.group.u.Close()
	}
}

// ingestAlone stores one event in its own transaction.
func (s *Service) ingestAlone(ctx context.Context, ev Event) (Result, error) {
	var res Result
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		var err error
		res, err = s.IngestTx(ctx, tx, ev)
		return err
	})
	if err != nil {
		return Result{Exits: []ExitResult{}}, err
	}
	s.kick()
	return res, nil
}

// IngestTx stores one event inside the caller's transaction (apps enqueue atomically with their
// own writes); call Kick after commit. A duplicate idempotency key returns Stored=false and
// writes nothing.
func (s *Service) IngestTx(ctx context.Context, tx pgx.Tx, ev Event) (Result, error) {
	none := Result{Exits: []ExitResult{}}
	ev, identity, err := prepare(ev)
	if err != nil {
		return none, err
	}
	var key *string
	if ev.IdempotencyKey != "" {
		key = &ev.IdempotencyKey
	}
	var res Result
	// A savepoint: losing an idempotency race, or any failure, undoes this event's writes and
	// leaves the caller's transaction usable (a batch continues with the next event).
	err = store.WithTx(ctx, tx, func(sp pgx.Tx) error {
		if key != nil {
			// Checked before the contact is touched: a duplicate changes nothing at all.
			if exists, err := store.EventKeyExists(ctx, sp, *key); err != nil {
				return err
			} else if exists {
				return errDuplicate
			}
		}
		r, err := contacts.Resolve(ctx, sp, identity)
		if err != nil {
			return err
		}
		res, err = s.storeFor(ctx, sp, r.Contact, ev, key, cancelIntents(r.Exited))
		return err
	})
	if errors.Is(err, errDuplicate) {
		return none, nil
	}
	if err != nil {
		return none, err
	}
	return res, nil
}

// EmitTx ingests an event the engine makes about a contact it already resolved (a bucket
// transition), inside the caller's transaction: there is no identity resolution, so a uuid or
// anonymous key is never taken for an external id. A duplicate idempotency key stores nothing
// (Stored false); consumers see the event as any other.
func (s *Service) EmitTx(ctx context.Context, tx pgx.Tx, contact store.Contact, ev Event) (Result, error) {
	none := Result{Exits: []ExitResult{}}
	var key *string
	if ev.IdempotencyKey != "" {
		key = &ev.IdempotencyKey
	}
	var res Result
	err := store.WithTx(ctx, tx, func(sp pgx.Tx) error {
		var err error
		res, err = s.storeFor(ctx, sp, contact, ev, key, nil)
		return err
	})
	if errors.Is(err, errDuplicate) {
		return none, nil
	}
	if err != nil {
		return none, err
	}
	return res, nil
}

// storeFor stores ev for contact, runs the consumers and records their intents (and extra).
func (s *Service) storeFor(ctx context.Context, tx pgx.Tx, contact store.Contact, ev Event, key *string, extra []outbox.Intent) (Result, error) {
	props := ev.EventProperties
	if props == nil {
		props = map[string]any{}
	}
	id, at, inserted, err := store.InsertEvent(ctx, tx, store.NewEvent{ID: ev.ID, UserKey: contact.Key(), Name: ev.Name,
		Properties: props, IdempotencyKey: key, OccurredAt: ev.OccurredAt})
	if err != nil {
		return Result{}, fmt.Errorf("store event: %w", err)
	}
	if !inserted {
		return Result{}, errDuplicate
	}
	stored := &StoredEvent{ID: id, Name: ev.Name, UserKey: contact.Key(), ContactID: contact.ID,
		UserEmail: ev.Email, ContactEmail: ptr.Deref(contact.Email), Properties: props, ContactProperties: ev.ContactProperties, OccurredAt: at}
	fx := &Effects{Exits: []ExitResult{}}
	for _, c := range s.Consumers {
		if err := c.ConsumeEvent(ctx, tx, stored, fx); err != nil {
			return Result{}, err
		}
	}
	fx.Intents = append(fx.Intents, extra...)
	if _, err := outbox.Append(ctx, tx, fx.Intents); err != nil {
		return Result{}, fmt.Errorf("record event intents: %w", err)
	}
	return Result{Stored: true, EventID: id, Contact: contact, Exits: fx.Exits}, nil
}

// prepare validates an event and cleans its identity.
func prepare(ev Event) (Event, contacts.Identity, error) {
	ev.Name = strings.TrimSpace(ev.Name)
	if ev.Name == "" {
		return ev, contacts.Identity{}, &ValidationError{Msg: "event name is required"}
	}
	identity := contacts.Identity{UserID: ev.UserID, Email: ev.Email, AnonymousID: ev.AnonymousID, Patch: ev.ContactProperties}.Clean()
	if identity.Empty() {
		return ev, identity, &ValidationError{Msg: contacts.ErrNoIdentity.Error()}
	}
	return ev, identity, nil
}

// Kick tells the dispatcher that committed intents are waiting (after IngestTx's commit).
func (s *Service) Kick() { s.kick() }

// cancelIntents cancels the workflows of runs a merge ended.
func cancelIntents(runs []store.ExitedRun) []outbox.Intent {
	var out []outbox.Intent
	for _, r := range runs {
		if r.WorkflowID != nil && *r.WorkflowID != "" {
			out = append(out, outbox.Cancel(*r.WorkflowID))
		}
	}
	return out
}

// PublicContact is the data-plane and webhook shape of a contact.
type PublicContact struct {
	ID          string         `json:"id"`
	ExternalID  *string        `json:"externalId"`
	Email       *string        `json:"email"`
	Properties  map[string]any `json:"properties"`
	FirstSeenAt string         `json:"firstSeenAt"`
	LastSeenAt  string         `json:"lastSeenAt"`
	CreatedAt   string         `json:"createdAt"`
	UpdatedAt   string         `json:"updatedAt"`
}

// Public renders a contact for the data plane and webhooks.
func Public(c store.Contact) PublicContact {
	props := c.Properties
	if props == nil {
		props = map[string]any{}
	}
	return PublicContact{ID: c.ID, ExternalID: c.ExternalID, Email: c.Email, Properties: props,
		FirstSeenAt: journey.Timestamp(c.FirstSeenAt), LastSeenAt: journey.Timestamp(c.LastSeenAt),
		CreatedAt: journey.Timestamp(c.CreatedAt), UpdatedAt: journey.Timestamp(c.UpdatedAt)}
}

// Upsert resolves a contact from the data plane (PUT /v1/contacts, admin create) and emits
// contact.created, or contact.updated when an existing contact got properties: through the
// group committer when one is enabled, else in a transaction of its own.
func (s *Service) Upsert(ctx context.Context, in contacts.Identity) (contacts.Resolution, error) {
	if s.group != nil {
		u, err := s.group.u.Do(ctx, in)
		if err == nil {
			err = u.err
		}
		return u.res, err
	}
	return s.upsertAlone(ctx, in)
}

func (s *Service) upsertAlone(ctx context.Context, in contacts.Identity) (contacts.Resolution, error) {
	var res contacts.Resolution
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		var err error
		res, err = s.upsertTx(ctx, tx, in)
		return err
	})
	if err != nil {
		return contacts.Resolution{}, err
	}
	s.kick()
	return res, nil
}

// upserted is one upsert's outcome in a batch.
type upserted struct {
	res contacts.Resolution
	err error
}

// upsertBatch resolves identities in one transaction: the new people of the batch together in
// a few statements (contacts.CreateNew, one fan-out of their contact.created), the others one
// at a time. Unlike an event, an upsert has nothing of its own to undo (Resolve refuses an
// empty identity before it writes), so there are no savepoints: any other error fails the batch
// and each item runs alone.
func (s *Service) upsertBatch(ctx context.Context, ids []contacts.Identity) ([]upserted, error) {
	out := make([]upserted, len(ids))
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		created, err := contacts.CreateNew(ctx, tx, ids)
		if err != nil {
			return err
		}
		var public []any
		for i, c := range created {
			if c != nil {
				out[i].res = contacts.Resolution{Contact: *c, Created: true}
				public = append(public, Public(*c))
			}
		}
		if _, err := outbox.Append(ctx, tx, []outbox.Intent{outbound.EmitEach(outbound.ContactCreated, public, s.now())}); err != nil {
			return err
		}
		for i, in := range ids {
			if created[i] != nil {
				continue
			}
			res, err := s.upsertTx(ctx, tx, in)
			if err != nil && !errors.Is(err, contacts.ErrNoIdentity) {
				return err
			}
			out[i] = upserted{res: res, err: err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.kick()
	return out, nil
}

func (s *Service) upsertTx(ctx context.Context, tx pgx.Tx, in contacts.Identity) (contacts.Resolution, error) {
	res, err := contacts.Resolve(ctx, tx, in)
	if err != nil {
		return contacts.Resolution{}, err
	}
	intents := cancelIntents(res.Exited)
	switch {
	case res.Created:
		intents = append(intents, outbound.Emit(outbound.ContactCreated, Public(res.Contact), "", s.now()))
	case len(in.Patch) > 0:
		intents = append(intents, outbound.Emit(outbound.ContactUpdated, Public(res.Contact), "", s.now()))
	}
	if _, err := outbox.Append(ctx, tx, intents); err != nil {
		return contacts.Resolution{}, err
	}
	return res, nil
}

// Find returns live contacts by email or user id (aliases are not followed).
func (s *Service) Find(ctx context.Context, email, userID string) ([]store.Contact, error) {
	return store.FindContacts(ctx, s.DB, ptr.NonZero(contacts.NormalizeEmail(email)), ptr.NonZero(strings.TrimSpace(userID)))
}

// ErrContactNotFound is returned when no live contact matches.
var ErrContactNotFound = errors.New("contact not found")

// Delete soft-deletes every live contact with the email or user id and emits contact.deleted
// for the first of them.
func (s *Service) Delete(ctx context.Context, email, userID string) error {
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		deleted, err := store.SoftDeleteContactsByIdentity(ctx, tx, ptr.NonZero(contacts.NormalizeEmail(email)), ptr.NonZero(strings.TrimSpace(userID)))
		if err != nil {
			return err
		}
		if len(deleted) == 0 {
			return ErrContactNotFound
		}
		c := deleted[0]
		_, err = outbox.Append(ctx, tx, []outbox.Intent{outbound.Emit(outbound.ContactDeleted,
			map[string]any{"id": c.ID, "externalId": c.ExternalID, "email": c.Email}, "", s.now())})
		return err
	})
	if err != nil {
		return err
	}
	s.kick()
	return nil
}

// ErrNoRecipient means list flags were given for a contact without an email address.
var ErrNoRecipient = errors.New("contact has no email; cannot manage list membership")

// SetLists records list opt-ins and opt-outs for the recipient named by email or user id; each
// opt-out emits contact.unsubscribed.
func (s *Service) SetLists(ctx context.Context, userID, email string, lists map[string]bool) error {
	if len(lists) == 0 {
		return nil
	}
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		prefKey, address, err := recipient(ctx, tx, strings.TrimSpace(userID), contacts.NormalizeEmail(email))
		if err != nil {
			return err
		}
		if err := store.SetCategoryFlags(ctx, tx, prefKey, address, lists); err != nil {
			return fmt.Errorf("set list flags: %w", err)
		}
		var intents []outbox.Intent
		for _, id := range sortedKeys(lists) {
			if !lists[id] {
				intents = append(intents, outbound.Emit(outbound.ContactUnsubscribed, map[string]any{
					"externalId": prefKey, "email": address, "category": id, "scope": "category"}, "", s.now()))
			}
		}
		_, err = outbox.Append(ctx, tx, intents)
		return err
	})
	if err != nil {
		return err
	}
	s.kick()
	return nil
}

// recipient resolves where list flags go: by email (live contact, alias, or the bare address
// itself), else by user id (the contact must have an email). The preference key is the
// contact's external id, else its id (else the address).
func recipient(ctx context.Context, db store.DBTX, userID, email string) (prefKey, address string, err error) {
	if email != "" {
		c, err := store.ContactByIdentity(ctx, db, store.KindEmail, email)
		if errors.Is(err, store.ErrNotFound) {
			return email, email, nil
		}
		if err != nil {
			return "", "", err
		}
		return c.PreferenceKey(), email, nil
	}
	c, err := store.ContactByIdentity(ctx, db, store.KindExternal, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Email == nil) {
		return "", "", ErrNoRecipient
	}
	if err != nil {
		return "", "", err
	}
	return c.PreferenceKey(), *c.Email, nil
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

// MaxBatch is the most events one batch may hold.
const MaxBatch = 500

// BatchItem is the outcome of one event of a batch: a result or its own error.
type BatchItem struct {
	Result Result
	Err    error
}

// IngestBatch stores events in one transaction, then hands their intents to the dispatcher;
// each event succeeds or fails on its own (a bad event never fails its neighbours). Group
// commit runs its batches through it too.
func (s *Service) IngestBatch(ctx context.Context, events []Event) ([]BatchItem, error) {
	var items []BatchItem
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		var err error
		items, err = s.IngestManyTx(ctx, tx, events)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.kick()
	return items, nil
}

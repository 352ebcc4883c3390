package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// IngestManyTx stores many events in the caller's transaction, each with its own outcome.
//
// Most events belong to a contact that already exists and change nothing about it; those take a
// set-based path: a handful of statements for the whole set instead of several per event. Every
// other event (a new person, a key to attach, a merge, contact properties, an alias, a repeated
// idempotency key) goes through IngestTx one by one, after the set-based ones, so history moves
// made by a link or merge include them.
func (s *Service) IngestManyTx(ctx context.Context, tx pgx.Tx, events []Event) ([]BatchItem, error) {
	m := &many{s: s, tx: tx, events: events, items: make([]BatchItem, len(events))}
	cands := m.sort()
	fastCands, found, err := m.knownContacts(ctx, cands)
	if err != nil {
		return nil, err
	}
	if err := m.lock(ctx, fastCands); err != nil {
		return nil, err
	}
	fast, err := m.recheck(ctx, fastCands, found)
	if err != nil {
		return nil, err
	}
	if err := m.storeFast(ctx, fast); err != nil {
		return nil, err
	}
	if err := m.ingestSlow(ctx); err != nil {
		return nil, err
	}
	return m.items, nil
}

// many is one IngestManyTx call: the events, their outcomes, and those left to the full path.
type many struct {
	s      *Service
	tx     pgx.Tx
	events []Event
	items  []BatchItem
	slow   []int // indexes into events
}

// candidate is an event that may take the set-based path.
type candidate struct {
	i  int
	ev Event
	id contacts.Identity
}

// fastEvent is a candidate confirmed for the set-based path, with its row and, once stored,
// what the consumers see and decide.
type fastEvent struct {
	candidate
	ref    store.ContactRef
	row    store.BulkEvent
	stored *StoredEvent
	fx     *Effects
}

func (m *many) fail(i int, err error) {
	m.items[i] = BatchItem{Result: Result{Exits: []ExitResult{}}, Err: err}
}

// sort validates the events and sends repeats inside the set and contact patches to the full path.
func (m *many) sort() []candidate {
	var cands []candidate
	seenKey := map[string]bool{}
	for i, ev := range m.events {
		ev, id, err := prepare(ev)
		if err != nil {
			m.fail(i, err)
			continue
		}
		if ev.IdempotencyKey != "" {
			if seenKey[ev.IdempotencyKey] {
				m.slow = append(m.slow, i) // a repeat inside the set: decided after the first
				continue
			}
			seenKey[ev.IdempotencyKey] = true
		}
		if len(ev.ContactProperties) > 0 {
			m.slow = append(m.slow, i)
			continue
		}
		cands = append(cands, candidate{i: i, ev: ev, id: id})
	}
	return cands
}

// knownContacts settles duplicates and keeps the candidates whose contact exists with every
// given key; the others take the full path.
func (m *many) knownContacts(ctx context.Context, cands []candidate) ([]candidate, contactsByKey, error) {
	var idemKeys []string
	for _, c := range cands {
		if c.ev.IdempotencyKey != "" {
			idemKeys = append(idemKeys, c.ev.IdempotencyKey)
		}
	}
	dups, err := store.ExistingEventKeys(ctx, m.tx, idemKeys)
	if err != nil {
		return nil, nil, err
	}
	found, err := lookupAll(ctx, m.tx, cands, func(c candidate) contacts.Identity { return c.id })
	if err != nil {
		return nil, nil, err
	}
	var fast []candidate
	for _, c := range cands {
		if c.ev.IdempotencyKey != "" && dups[c.ev.IdempotencyKey] {
			m.items[c.i] = BatchItem{Result: Result{Exits: []ExitResult{}}}
			continue
		}
		if _, ok := oneContact(c.id, found); ok {
			fast = append(fast, c)
		} else {
			m.slow = append(m.slow, c.i)
		}
	}
	return fast, found, nil
}

// lock takes exclusively the identities that resolution may change, shared the ones only read.
func (m *many) lock(ctx context.Context, fast []candidate) error {
	var exclusive, shared []string
	for _, i := range m.slow {
		if _, id, err := prepare(m.events[i]); err == nil {
			exclusive = append(exclusive, id.LockKeys()...)
		}
	}
	for _, c := range fast {
		shared = append(shared, c.id.LockKeys()...)
	}
	return store.LockIdentities(ctx, m.tx, exclusive, shared)
}

// recheck confirms, under the lock, that no concurrent resolution changed a candidate's
// contact, and builds the event rows of those that stay on the set-based path.
func (m *many) recheck(ctx context.Context, cands []candidate, found contactsByKey) ([]*fastEvent, error) {
	locked, err := lookupAll(ctx, m.tx, cands, func(c candidate) contacts.Identity { return c.id })
	if err != nil {
		return nil, err
	}
	var fast []*fastEvent
	for _, c := range cands {
		ref, ok := oneContact(c.id, locked)
		if before, _ := oneContact(c.id, found); !ok || ref.ID != before.ID || ref.Key != before.Key {
			m.slow = append(m.slow, c.i) // changed by a concurrent resolution: take the full path
			continue
		}
		if c.ev.EventProperties == nil {
			c.ev.EventProperties = map[string]any{}
		}
		body, err := json.Marshal(c.ev.EventProperties)
		if err != nil {
			m.fail(c.i, &ValidationError{Msg: fmt.Sprintf("eventProperties: %v", err)})
			continue
		}
		fast = append(fast, &fastEvent{candidate: c, ref: ref, row: store.BulkEvent{ID: cmp.Or(c.ev.ID, uuid.NewString()), UserKey: ref.Key,
			Name: c.ev.Name, Properties: body, IdempotencyKey: ptr.NonZero(c.ev.IdempotencyKey), OccurredAt: c.ev.OccurredAt}})
	}
	return fast, nil
}

// storeFast inserts the set-based events in one statement, marks their contacts seen, runs the
// consumers over them and records their intents.
func (m *many) storeFast(ctx context.Context, fast []*fastEvent) error {
	if len(fast) == 0 {
		return nil
	}
	rows := make([]store.BulkEvent, len(fast))
	touched := map[string]bool{}
	var touchIDs []string
	for k, f := range fast {
		rows[k] = f.row
		if !touched[f.ref.ID] {
			touched[f.ref.ID] = true
			touchIDs = append(touchIDs, f.ref.ID)
		}
	}
	inserted, err := store.InsertEvents(ctx, m.tx, rows)
	if err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	if err := store.TouchContacts(ctx, m.tx, touchIDs); err != nil {
		return fmt.Errorf("mark contacts seen: %w", err)
	}
	var stored []*fastEvent
	for _, f := range fast {
		at, ok := inserted[f.row.ID]
		if !ok { // its key was stored concurrently, before our lock
			m.items[f.i] = BatchItem{Result: Result{Exits: []ExitResult{}}}
			continue
		}
		f.stored = &StoredEvent{ID: f.row.ID, Name: f.ev.Name, UserKey: f.ref.Key, ContactID: f.ref.ID, UserEmail: f.ev.Email,
			ContactEmail: ptr.Deref(f.ref.Email), Properties: f.ev.EventProperties, OccurredAt: at}
		f.fx = &Effects{Exits: []ExitResult{}}
		stored = append(stored, f)
	}
	if err := m.consume(ctx, stored); err != nil {
		return err
	}
	var intents []outbox.Intent
	for _, f := range stored {
		intents = append(intents, f.fx.Intents...)
		m.items[f.i] = BatchItem{Result: Result{Stored: true, EventID: f.stored.ID, Exits: f.fx.Exits,
			Contact: store.Contact{ID: f.ref.ID, ExternalID: f.ref.ExternalID, Email: f.ref.Email, AnonymousID: f.ref.AnonymousID}}}
	}
	if _, err := outbox.Append(ctx, m.tx, intents); err != nil {
		return fmt.Errorf("record event intents: %w", err)
	}
	return nil
}

// consume hands the stored events to every consumer, all at once to those that take batches.
func (m *many) consume(ctx context.Context, fast []*fastEvent) error {
	evs := make([]*StoredEvent, len(fast))
	fxs := make([]*Effects, len(fast))
	for k, f := range fast {
		evs[k], fxs[k] = f.stored, f.fx
	}
	for _, consumer := range m.s.Consumers {
		if bc, ok := consumer.(BatchConsumer); ok {
			if err := bc.ConsumeEvents(ctx, m.tx, evs, fxs); err != nil {
				return err
			}
			continue
		}
		for k, ev := range evs {
			if err := consumer.ConsumeEvent(ctx, m.tx, ev, fxs[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ingestSlow runs the full path, in the events' order, for every event the set-based path left.
func (m *many) ingestSlow(ctx context.Context) error {
	slices.Sort(m.slow)
	for _, i := range m.slow {
		m.items[i].Result, m.items[i].Err = m.s.IngestTx(ctx, m.tx, m.events[i])
		if m.items[i].Err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// contactsByKey are live contacts by identity kind and value.
type contactsByKey = map[store.IdentityKind]map[string]store.ContactRef

// lookupAll finds the live contacts of every key of the items, one query per identity kind.
func lookupAll[T any](ctx context.Context, tx pgx.Tx, items []T, identity func(T) contacts.Identity) (map[store.IdentityKind]map[string]store.ContactRef, error) {
	byKind := map[store.IdentityKind][]string{}
	for _, it := range items {
		for _, k := range identity(it).Keys() {
			byKind[k.Kind] = append(byKind[k.Kind], k.Value)
		}
	}
	found := map[store.IdentityKind]map[string]store.ContactRef{}
	for kind, values := range byKind {
		var err error
		if found[kind], err = store.LiveContactsByKeys(ctx, tx, kind, values); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// oneContact reports the contact an identity names when every given key finds the same live
// contact (then nothing about the contact needs to change).
func oneContact(id contacts.Identity, found map[store.IdentityKind]map[string]store.ContactRef) (store.ContactRef, bool) {
	var ref store.ContactRef
	for n, k := range id.Keys() {
		c, ok := found[k.Kind][k.Value]
		if !ok || (n > 0 && c.ID != ref.ID) {
			return store.ContactRef{}, false
		}
		ref = c
	}
	return ref, ref.ID != ""
}

package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
	items := make([]BatchItem, len(events))
	type candidate struct {
		i  int
		ev Event
		id Identity
	}
	var cands []candidate
	var slow []int
	seenKey := map[string]bool{}
	for i, ev := range events {
		ev, id, err := prepare(ev)
		if err != nil {
			items[i] = BatchItem{Result: Result{Exits: []ExitResult{}}, Err: err}
			continue
		}
		if ev.IdempotencyKey != "" {
			if seenKey[ev.IdempotencyKey] {
				slow = append(slow, i) // a repeat inside the set: decided after the first
				continue
			}
			seenKey[ev.IdempotencyKey] = true
		}
		if len(ev.ContactProperties) > 0 {
			slow = append(slow, i)
			continue
		}
		cands = append(cands, candidate{i: i, ev: ev, id: id})
	}

	// Which candidates are duplicates, and whose contact exists with every given key.
	var idemKeys []string
	for _, c := range cands {
		if c.ev.IdempotencyKey != "" {
			idemKeys = append(idemKeys, c.ev.IdempotencyKey)
		}
	}
	dups, err := store.ExistingEventKeys(ctx, tx, idemKeys)
	if err != nil {
		return nil, err
	}
	found, err := lookupAll(ctx, tx, cands, func(c candidate) Identity { return c.id })
	if err != nil {
		return nil, err
	}
	var fastCands []candidate
	for _, c := range cands {
		if c.ev.IdempotencyKey != "" && dups[c.ev.IdempotencyKey] {
			items[c.i] = BatchItem{Result: Result{Exits: []ExitResult{}}}
			continue
		}
		if _, ok := oneContact(c.id, found); ok {
			fastCands = append(fastCands, c)
		} else {
			slow = append(slow, c.i)
		}
	}

	// Lock: exclusively the identities that resolution may change, shared the ones only read;
	// then check the read ones did not change before the lock was granted.
	var exclusive, shared []string
	for _, i := range slow {
		if _, id, err := prepare(events[i]); err == nil {
			exclusive = append(exclusive, id.lockKeys()...)
		}
	}
	for _, c := range fastCands {
		shared = append(shared, c.id.lockKeys()...)
	}
	if err := store.LockIdentities(ctx, tx, exclusive, shared); err != nil {
		return nil, err
	}
	locked, err := lookupAll(ctx, tx, fastCands, func(c candidate) Identity { return c.id })
	if err != nil {
		return nil, err
	}

	var rows []store.BulkEvent
	var fast []candidate
	var refs []store.ContactRef
	touched := map[string]bool{}
	var touchIDs []string
	for _, c := range fastCands {
		ref, ok := oneContact(c.id, locked)
		if before, _ := oneContact(c.id, found); !ok || ref.ID != before.ID || ref.Key != before.Key {
			slow = append(slow, c.i) // changed by a concurrent resolution: take the full path
			continue
		}
		props := c.ev.EventProperties
		if props == nil {
			props = map[string]any{}
		}
		body, err := json.Marshal(props)
		if err != nil {
			items[c.i] = BatchItem{Result: Result{Exits: []ExitResult{}}, Err: &ValidationError{Msg: fmt.Sprintf("eventProperties: %v", err)}}
			continue
		}
		c.ev.EventProperties = props
		var key *string
		if c.ev.IdempotencyKey != "" {
			k := c.ev.IdempotencyKey
			key = &k
		}
		rows = append(rows, store.BulkEvent{ID: uuid.NewString(), UserKey: ref.Key, Name: c.ev.Name, Properties: body,
			IdempotencyKey: key, OccurredAt: c.ev.OccurredAt})
		fast = append(fast, c)
		refs = append(refs, ref)
		if !touched[ref.ID] {
			touched[ref.ID] = true
			touchIDs = append(touchIDs, ref.ID)
		}
	}
	if len(rows) > 0 {
		inserted, err := store.InsertEvents(ctx, tx, rows)
		if err != nil {
			return nil, fmt.Errorf("store events: %w", err)
		}
		if err := store.TouchContacts(ctx, tx, touchIDs); err != nil {
			return nil, fmt.Errorf("mark contacts seen: %w", err)
		}
		var stored []*StoredEvent
		var fxs []*Effects
		var storedAt []int // index into fast
		for j, c := range fast {
			at, ok := inserted[rows[j].ID]
			if !ok { // its key was stored concurrently, before our lock
				items[c.i] = BatchItem{Result: Result{Exits: []ExitResult{}}}
				continue
			}
			ref := refs[j]
			stored = append(stored, &StoredEvent{ID: rows[j].ID, Name: c.ev.Name, UserKey: ref.Key, ContactID: ref.ID, UserEmail: c.ev.Email,
				ContactEmail: ptr.Deref(ref.Email), Properties: c.ev.EventProperties, OccurredAt: at})
			fxs = append(fxs, &Effects{Exits: []ExitResult{}})
			storedAt = append(storedAt, j)
		}
		for _, consumer := range s.Consumers {
			if bc, ok := consumer.(BatchConsumer); ok {
				if err := bc.ConsumeEvents(ctx, tx, stored, fxs); err != nil {
					return nil, err
				}
				continue
			}
			for k, ev := range stored {
				if err := consumer.ConsumeEvent(ctx, tx, ev, fxs[k]); err != nil {
					return nil, err
				}
			}
		}
		var intents []outbox.Intent
		for k, ev := range stored {
			c, ref := fast[storedAt[k]], refs[storedAt[k]]
			intents = append(intents, fxs[k].Intents...)
			items[c.i] = BatchItem{Result: Result{Stored: true, EventID: ev.ID, Exits: fxs[k].Exits,
				Contact: store.Contact{ID: ref.ID, ExternalID: ref.ExternalID, Email: ref.Email, AnonymousID: ref.AnonymousID}}}
		}
		if _, err := outbox.Append(ctx, tx, intents); err != nil {
			return nil, fmt.Errorf("record event intents: %w", err)
		}
	}

	slices.Sort(slow)
	for _, i := range slow {
		items[i].Result, items[i].Err = s.IngestTx(ctx, tx, events[i])
		if items[i].Err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return items, nil
}

// lookupAll finds the live contacts of every key of the items, one query per identity kind.
func lookupAll[T any](ctx context.Context, tx pgx.Tx, items []T, identity func(T) Identity) (map[store.IdentityKind]map[string]store.ContactRef, error) {
	byKind := map[store.IdentityKind][]string{}
	for _, it := range items {
		for _, k := range identity(it).keys() {
			byKind[k.kind] = append(byKind[k.kind], k.value)
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
func oneContact(id Identity, found map[store.IdentityKind]map[string]store.ContactRef) (store.ContactRef, bool) {
	var ref store.ContactRef
	for n, k := range id.keys() {
		c, ok := found[k.kind][k.value]
		if !ok || (n > 0 && c.ID != ref.ID) {
			return store.ContactRef{}, false
		}
		ref = c
	}
	return ref, ref.ID != ""
}

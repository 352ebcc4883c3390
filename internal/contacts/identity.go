// Package contacts resolves who an event is about: an identity (user id, email, anonymous id)
// finds, links, merges or creates one contact, inside the caller's transaction, serialised per
// key so concurrent first events of a person create one contact.
package contacts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// Identity is what a caller knows about a person: any of the three keys and a property patch.
type Identity struct {
	UserID      string
	Email       string
	AnonymousID string
	// Patch merges into the contact's properties: additive, a null value removes the key.
	// nil means no patch.
	Patch map[string]any
}

// Clean trims the keys and lower-cases the email, as every identity is stored.
func (id Identity) Clean() Identity {
	id.UserID = strings.TrimSpace(id.UserID)
	id.Email = NormalizeEmail(id.Email)
	id.AnonymousID = strings.TrimSpace(id.AnonymousID)
	return id
}

// NormalizeEmail trims and lower-cases an email used as an identity key.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Empty reports whether no key is left.
func (id Identity) Empty() bool { return id.UserID == "" && id.Email == "" && id.AnonymousID == "" }

// Key is one identity key with its kind.
type Key = store.IdentityKey

// Keys are the identity's non-empty keys, external id first.
func (id Identity) Keys() []Key {
	var out []Key
	for _, k := range []Key{{Kind: store.KindExternal, Value: id.UserID}, {Kind: store.KindEmail, Value: id.Email}, {Kind: store.KindAnonymous, Value: id.AnonymousID}} {
		if k.Value != "" {
			out = append(out, k)
		}
	}
	return out
}

// LockKeys are the advisory lock strings of the identity's keys ("external:u1", …).
func (id Identity) LockKeys() []string {
	var out []string
	for _, k := range id.Keys() {
		out = append(out, string(k.Kind)+":"+k.Value)
	}
	return out
}

func (id Identity) asNew() store.NewContact {
	return store.NewContact{ExternalID: ptr.NonZero(id.UserID), Email: ptr.NonZero(id.Email), AnonymousID: ptr.NonZero(id.AnonymousID), Properties: id.Patch}
}

// Resolution is the outcome of resolving an identity.
type Resolution struct {
	Contact store.Contact
	Created bool
	Linked  bool // an existing contact matched
	Merged  bool
	// Exited are live journey runs a merge ended; their workflows must be cancelled.
	Exited []store.ExitedRun
}

// ErrNoIdentity means no usable key was given.
var ErrNoIdentity = errors.New("email or userId is required")

// Resolve finds, links, merges or creates the contact of an identity inside tx. Concurrent
// resolutions touching a key serialise on an advisory lock per key, so they link instead of
// creating duplicates.
func Resolve(ctx context.Context, tx pgx.Tx, in Identity) (Resolution, error) {
	in = in.Clean()
	if in.Empty() {
		return Resolution{}, ErrNoIdentity
	}
	found, err := store.LockAndFindIdentities(ctx, tx, in.LockKeys(), in.Keys())
	if err != nil {
		return Resolution{}, err
	}
	var candidates []store.Contact
	for _, c := range found {
		if c != nil && !slices.ContainsFunc(candidates, func(x store.Contact) bool { return x.ID == c.ID }) {
			candidates = append(candidates, *c)
		}
	}
	switch len(candidates) {
	case 0:
		c, err := store.InsertContact(ctx, tx, in.asNew())
		if err != nil {
			return Resolution{}, fmt.Errorf("create contact: %w", err)
		}
		return Resolution{Contact: c, Created: true}, nil
	case 1:
		c, exited, err := fillIn(ctx, tx, candidates[0], in)
		if err != nil {
			return Resolution{}, err
		}
		return Resolution{Contact: c, Linked: true, Exited: exited}, nil
	default:
		c, exited, err := merge(ctx, tx, candidates, in)
		if err != nil {
			return Resolution{}, err
		}
		return Resolution{Contact: c, Linked: true, Merged: true, Exited: exited}, nil
	}
}

// CreateNew creates, in a few statements for the whole set, the contacts of identities none of
// whose keys is known: what Resolve does to each, one at a time, when it finds no contact. It
// returns one entry per identity, nil where the identity must go through Resolve instead (no
// key, a key already taken, or a key another identity of the set also has). Its locks are held
// as Resolve's are, and taken in one statement in lock-id order.
func CreateNew(ctx context.Context, tx pgx.Tx, in []Identity) ([]*store.Contact, error) {
	ids := make([]Identity, len(in))
	seen := map[Key]int{}
	for i := range in {
		ids[i] = in[i].Clean()
		for _, k := range ids[i].Keys() {
			seen[k]++
		}
	}
	var cands []int
	var locks []string
	var keys []Key
	for i, id := range ids {
		if !id.Empty() && !slices.ContainsFunc(id.Keys(), func(k Key) bool { return seen[k] > 1 }) {
			cands = append(cands, i)
			locks, keys = append(locks, id.LockKeys()...), append(keys, id.Keys()...)
		}
	}
	out := make([]*store.Contact, len(ids))
	if len(cands) == 0 {
		return out, nil
	}
	found, err := store.LockAndFindIdentities(ctx, tx, locks, keys)
	if err != nil {
		return nil, err
	}
	var fresh []int
	var rows []store.NewContact
	for _, i := range cands {
		n := len(ids[i].Keys())
		if !slices.ContainsFunc(found[:n], func(c *store.Contact) bool { return c != nil }) {
			fresh, rows = append(fresh, i), append(rows, ids[i].asNew())
		}
		found = found[n:]
	}
	if len(rows) == 0 {
		return out, nil
	}
	created, err := store.InsertContacts(ctx, tx, rows)
	if err != nil {
		return nil, fmt.Errorf("create contacts: %w", err)
	}
	for j, i := range fresh {
		out[i] = &created[j]
	}
	return out, nil
}

// fillIn attaches the keys the contact lacks (a differing key is ignored), merges the patch and,
// when the canonical key changed, moves the contact's history to the new key.
func fillIn(ctx context.Context, tx pgx.Tx, c store.Contact, in Identity) (store.Contact, []store.ExitedRun, error) {
	oldKey := c.Key()
	filled, err := store.FillContact(ctx, tx, c.ID, in.asNew(), in.Patch)
	if err != nil {
		return store.Contact{}, nil, fmt.Errorf("update contact: %w", err)
	}
	for _, k := range []struct {
		kind        store.IdentityKind
		before, now *string
	}{{store.KindExternal, c.ExternalID, filled.ExternalID}, {store.KindEmail, c.Email, filled.Email}, {store.KindAnonymous, c.AnonymousID, filled.AnonymousID}} {
		if k.before == nil && k.now != nil {
			if err := store.UpsertAlias(ctx, tx, c.ID, k.kind, *k.now, nil, "promote"); err != nil {
				return store.Contact{}, nil, fmt.Errorf("record %s alias: %w", k.kind, err)
			}
		}
	}
	exited, err := moveHistory(ctx, tx, []string{oldKey}, filled)
	return filled, exited, err
}

// moveHistory re-keys every history table from the from keys to the contact's key.
func moveHistory(ctx context.Context, tx pgx.Tx, from []string, to store.Contact) ([]store.ExitedRun, error) {
	key := to.Key()
	from = slices.DeleteFunc(slices.Clone(from), func(k string) bool { return k == key })
	if len(from) == 0 {
		return nil, nil
	}
	if err := store.MoveEvents(ctx, tx, from, key); err != nil {
		return nil, fmt.Errorf("move events: %w", err)
	}
	exited, err := store.FoldJourneyStates(ctx, tx, from, key, to.Email)
	if err != nil {
		return nil, err
	}
	if err := store.MoveEmailSends(ctx, tx, from, key, to.Email); err != nil {
		return nil, fmt.Errorf("move email sends: %w", err)
	}
	if err := store.FoldBucketMemberships(ctx, tx, from, key); err != nil {
		return nil, fmt.Errorf("move bucket memberships: %w", err)
	}
	if err := store.FoldEmailPreferences(ctx, tx, from, key); err != nil {
		return nil, fmt.Errorf("move email preferences: %w", err)
	}
	return exited, nil
}

// survivorFirst orders merge candidates: identified (with an external id) first, then the
// earliest seen, then the lowest id.
func survivorFirst(a, b store.Contact) int {
	if (a.ExternalID != nil) != (b.ExternalID != nil) {
		if a.ExternalID != nil {
			return -1
		}
		return 1
	}
	if c := a.FirstSeenAt.Compare(b.FirstSeenAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// merge folds two or three contacts into the survivor: history moves to the survivor's key,
// the losers' keys become aliases, properties combine (survivor over losers, the call's patch
// over both) and the losers are soft-deleted.
func merge(ctx context.Context, tx pgx.Tx, candidates []store.Contact, in Identity) (store.Contact, []store.ExitedRun, error) {
	slices.SortFunc(candidates, survivorFirst)
	s, losers := candidates[0], candidates[1:]
	survivorKey := s.Key()
	var exited []store.ExitedRun
	for _, l := range losers {
		ex, err := absorb(ctx, tx, s, l)
		if err != nil {
			return store.Contact{}, nil, err
		}
		exited = append(exited, ex...)
	}
	merged := combined(s, losers, in)

	// Losers go first: the partial unique indexes only admit the keys once they are deleted.
	loserIDs := make([]string, len(losers))
	for i, l := range losers {
		loserIDs[i] = l.ID
	}
	if err := store.SoftDeleteContacts(ctx, tx, loserIDs); err != nil {
		return store.Contact{}, nil, fmt.Errorf("delete merged contacts: %w", err)
	}
	out, err := store.ReplaceMergedContact(ctx, tx, merged)
	if err != nil {
		return store.Contact{}, nil, fmt.Errorf("update merge survivor: %w", err)
	}
	// The survivor's own key can change too (an email-only survivor gaining an external id).
	ex, err := moveHistory(ctx, tx, []string{survivorKey}, out)
	if err != nil {
		return store.Contact{}, nil, err
	}
	return out, append(exited, ex...), nil
}

// absorb moves a loser's history to the survivor and records the loser's keys as aliases.
func absorb(ctx context.Context, tx pgx.Tx, survivor, l store.Contact) ([]store.ExitedRun, error) {
	var loserKeys []string
	for _, k := range []*string{l.ExternalID, l.AnonymousID, &l.ID} {
		if k != nil {
			loserKeys = append(loserKeys, *k)
		}
	}
	exited, err := moveHistory(ctx, tx, loserKeys, survivor)
	if err != nil {
		return nil, err
	}
	from := l.ID
	for _, k := range []struct {
		kind  store.IdentityKind
		value *string
	}{{store.KindExternal, l.ExternalID}, {store.KindEmail, l.Email}, {store.KindAnonymous, l.AnonymousID}} {
		if k.value != nil {
			if err := store.UpsertAlias(ctx, tx, survivor.ID, k.kind, *k.value, &from, "merge"); err != nil {
				return nil, fmt.Errorf("record merge alias: %w", err)
			}
		}
	}
	return exited, nil
}

// combined is the survivor as the merge leaves it: properties survivor over losers and the
// call's patch over both (null removes), each key the survivor's own, else the call's, else
// the first loser's, and the earliest first-seen time.
func combined(s store.Contact, losers []store.Contact, in Identity) store.Contact {
	merged := s
	props := map[string]any{}
	for _, l := range losers {
		maps.Copy(props, l.Properties)
	}
	maps.Copy(props, s.Properties)
	maps.Copy(props, in.Patch)
	maps.DeleteFunc(props, func(_ string, v any) bool { return v == nil })
	merged.Properties = props
	firstKey := func(call string, own *string, pick func(store.Contact) *string) *string {
		if own != nil {
			return own
		}
		if call != "" {
			return &call
		}
		for _, l := range losers {
			if v := pick(l); v != nil {
				return v
			}
		}
		return nil
	}
	merged.ExternalID = firstKey(in.UserID, s.ExternalID, func(c store.Contact) *string { return c.ExternalID })
	merged.Email = firstKey(in.Email, s.Email, func(c store.Contact) *string { return c.Email })
	merged.AnonymousID = firstKey(in.AnonymousID, s.AnonymousID, func(c store.Contact) *string { return c.AnonymousID })
	merged.Timezone = firstKey("", s.Timezone, func(c store.Contact) *string { return c.Timezone })
	for _, l := range losers {
		if l.FirstSeenAt.Before(merged.FirstSeenAt) {
			merged.FirstSeenAt = l.FirstSeenAt
		}
	}
	return merged
}

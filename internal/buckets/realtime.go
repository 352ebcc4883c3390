// Package buckets keeps bucket memberships: the real-time check inside the ingest transaction,
// and the one emission function every producer of a transition uses.
package buckets

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Consumer is the real-time membership check, run for every stored event inside its ingest
// transaction: a join or leave and its transition event commit with the event that caused
// them, so a client reads the membership as soon as it has the 202.
type Consumer struct {
	Registry *bucket.Registry
	// Journeys decides whether the generic bucket:entered / bucket:left events are written
	// (only when a journey triggers on them).
	Journeys *journey.Registry
	// Ingest stores transition events (set after the ingest service is built: it holds this
	// consumer).
	Ingest *ingest.Service
	Logger *slog.Logger
	Now    func() time.Time

	mu       sync.Mutex
	switches map[string]bool // admin switches (bucket_configs), re-read every DisabledTTL
	readAt   time.Time
}

// DisabledTTL is how long the admin switches are trusted before they are read again.
const DisabledTTL = 5 * time.Second

// Transition is one membership change the check made (a test seam).
type Transition struct {
	BucketID, Kind string
	row            store.Membership // the new row of a join
}

func (c *Consumer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ConsumeEvent implements ingest.Consumer.
func (c *Consumer) ConsumeEvent(ctx context.Context, tx pgx.Tx, ev *ingest.StoredEvent, fx *ingest.Effects) error {
	return c.ConsumeEvents(ctx, tx, []*ingest.StoredEvent{ev}, []*ingest.Effects{fx})
}

// ConsumeEvents implements ingest.BatchConsumer.
func (c *Consumer) ConsumeEvents(ctx context.Context, tx pgx.Tx, evs []*ingest.StoredEvent, fxs []*ingest.Effects) error {
	_, err := c.Check(ctx, tx, evs, fxs)
	return err
}

// Check evaluates, for each event in order, the buckets it may change for its contact, and
// applies joins and leaves. However many events, the common case — nothing changes — costs
// three reads for all of them: the contacts, their memberships among the candidates, and every
// event count asked for. A transition writes in a savepoint: a failing one is rolled back and
// logged; the event stands.
func (c *Consumer) Check(ctx context.Context, tx pgx.Tx, evs []*ingest.StoredEvent, fxs []*ingest.Effects) ([]Transition, error) {
	cands := make([][]*bucket.Bucket, len(evs))
	var keys, ids []string
	seenKey, seenID := map[string]bool{}, map[string]bool{}
	var switches map[string]bool
	for i, ev := range evs {
		for _, b := range c.Registry.Candidates(ev.Name, ev.Properties, ev.ContactProperties) {
			if switches == nil {
				var err error
				if switches, err = c.adminSwitches(ctx, tx); err != nil {
					return nil, err
				}
			}
			if switchedOff(switches, b.ID) {
				continue
			}
			cands[i] = append(cands[i], b)
			if !seenID[b.ID] {
				seenID[b.ID], ids = true, append(ids, b.ID)
			}
		}
		if len(cands[i]) > 0 && !seenKey[ev.UserKey] {
			seenKey[ev.UserKey], keys = true, append(keys, ev.UserKey)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	contacts, err := store.LiveContactsOfKeys(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	members, err := store.ActiveMembershipsOf(ctx, tx, keys, ids)
	if err != nil {
		return nil, err
	}
	now := c.now()
	counts, err := countAll(ctx, tx, evs, cands, now)
	if err != nil {
		return nil, err
	}
	var out []Transition
	var touch []string
	touched := map[string]bool{}
	for i, ev := range evs {
		contact, live := contacts[ev.UserKey]
		if !live {
			continue // deleted (or merged away): no evaluation, no emission
		}
		key := contact.Key()
		for _, b := range cands[i] {
			is, err := condition.Evaluate(ctx, b.Criteria, contact.Properties, pageFacts{counts: counts, key: key}, now)
			if err != nil {
				return nil, err
			}
			was, member := members[key][b.ID]
			if member && is {
				if !touched[was.ID] {
					touched[was.ID], touch = true, append(touch, was.ID)
				}
				continue
			}
			if member == is {
				continue
			}
			var t *Transition
			err = store.WithTx(ctx, tx, func(sp pgx.Tx) error {
				var err error
				t, err = c.apply(ctx, sp, b, contact, was, is, now, fxs[i])
				return err
			})
			if err != nil {
				c.log().Error("bucket transition failed; the event stands", "bucketId", b.ID, "event", ev.Name, "error", err)
				continue
			}
			if t != nil {
				// Later events of this contact in the batch see the change.
				if members[key] == nil {
					members[key] = map[string]store.Membership{}
				}
				if t.Kind == bucket.Entered {
					members[key][b.ID] = t.row
				} else {
					delete(members[key], b.ID)
				}
				out = append(out, *t)
			}
		}
	}
	if len(touch) > 0 {
		if err := store.TouchMemberships(ctx, tx, touch, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// countAll takes every event count the events' candidates ask for, in one round trip; the
// counts see every event of the batch (they are stored before consumers run).
func countAll(ctx context.Context, db store.DBTX, evs []*ingest.StoredEvent, cands [][]*bucket.Bucket, now time.Time) (map[string]map[string]int, error) {
	var windows []store.KeyedWindow
	seen := map[string]bool{}
	for i, ev := range evs {
		for _, b := range cands[i] {
			for _, l := range condition.Leaves(b.Criteria) {
				leaf, ok := l.(condition.EventLeaf)
				if !ok {
					continue
				}
				w := store.KeyedWindow{Key: ev.UserKey, EventWindow: store.EventWindow{Name: leaf.Name}}
				if leaf.Within != nil {
					t := now.Add(-leaf.Within.Duration())
					w.Since = &t
				}
				if id := w.Key + " " + countID(w.Name, w.Since); !seen[id] {
					seen[id] = true
					windows = append(windows, w)
				}
			}
		}
	}
	counts := map[string]map[string]int{}
	if len(windows) == 0 {
		return counts, nil
	}
	n, err := store.CountKeyedWindows(ctx, db, windows)
	if err != nil {
		return nil, err
	}
	for i, w := range windows {
		id := countID(w.Name, w.Since)
		if counts[id] == nil {
			counts[id] = map[string]int{}
		}
		counts[id][w.Key] = n[i]
	}
	return counts, nil
}

// apply makes one bucket's join or leave and announces it.
func (c *Consumer) apply(ctx context.Context, tx pgx.Tx, b *bucket.Bucket, contact store.Contact, was store.Membership, is bool,
	now time.Time, fx *ingest.Effects) (*Transition, error) {
	key := contact.Key()
	if is {
		j, ok, err := store.JoinBucket(ctx, tx, store.NewMembership{UserKey: key, BucketID: b.ID, UserEmail: ptr.Deref(contact.Email),
			Source: SourceEvent, ExpiresAt: expiresAt(b, now), MaxDwellAt: after(now, b.MaxDwell), Now: now})
		if err != nil || !ok {
			return nil, err // a concurrent join won: it emits
		}
		if EmitJoin(b, j, now) {
			if err := c.emit(ctx, tx, fx, contact, Emission{Bucket: b, Kind: bucket.Entered, Epoch: j.EntryCount, Source: SourceEvent}, now); err != nil {
				return nil, err
			}
		}
		if at := expiresAt(b, now); b.FastExpiry && at != nil {
			arm, err := armExpiry(contract.Expiry{RowID: j.ID, BucketID: b.ID, UserKey: key, ArmedExpiresAt: *at})
			if err != nil {
				return nil, err
			}
			fx.Intents = append(fx.Intents, arm)
		}
		return &Transition{BucketID: b.ID, Kind: bucket.Entered,
			row: store.Membership{ID: j.ID, UserID: key, EnteredAt: now, EntryCount: j.EntryCount}}, nil
	}
	if d := b.MinDwell.Duration(); d > 0 && now.Sub(was.EnteredAt) < d {
		return nil, store.DeferLeave(ctx, tx, was.ID, was.EnteredAt.Add(d), now)
	}
	left, ok, err := store.LeaveBucket(ctx, tx, was.ID, now)
	if err != nil || !ok {
		return nil, err
	}
	if err := c.emit(ctx, tx, fx, contact, Emission{Bucket: b, Kind: bucket.Left, Epoch: left.EntryCount, Source: SourceEvent,
		Reason: bucket.ReasonCriteria}, now); err != nil {
		return nil, err
	}
	return &Transition{BucketID: b.ID, Kind: bucket.Left}, nil
}

// EmitJoin is the entry-limit gate of a join's entered event (the row is written either way):
// a first join always emits; once never again; once_per_period when the cooldown since the
// last leave has passed.
func EmitJoin(b *bucket.Bucket, j store.Joined, now time.Time) bool {
	switch {
	case j.EntryCount <= 1, b.EntryLimit == bucket.EntryUnlimited:
		return true
	case b.EntryLimit == bucket.EntryOnce:
		return false
	}
	period := b.EntryPeriod.Duration()
	return period <= 0 || j.LastLeaveAt == nil || now.Sub(*j.LastLeaveAt) >= period
}

// expiresAt is the deadline a join stamps: the first window from now, for buckets that asked
// to be time-based or to expire fast.
func expiresAt(b *bucket.Bucket, now time.Time) *time.Time {
	if w := condition.FirstWindow(b.Criteria); w != nil && (b.TimeBased || b.FastExpiry) {
		t := now.Add(w.Duration())
		return &t
	}
	return nil
}

func after(now time.Time, d bucket.Duration) *time.Time {
	if d.IsZero() {
		return nil
	}
	t := now.Add(d.Duration())
	return &t
}

func (c *Consumer) adminSwitches(ctx context.Context, db store.DBTX) (map[string]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.switches != nil && time.Since(c.readAt) < DisabledTTL {
		return c.switches, nil
	}
	switches, err := store.BucketSwitches(ctx, db)
	if err != nil {
		return nil, err
	}
	c.switches, c.readAt = switches, time.Now()
	return switches, nil
}

// switchedOff reports a bucket an admin turned off (switches from store.BucketSwitches).
func switchedOff(switches map[string]bool, id string) bool {
	on, set := switches[id]
	return set && !on
}

// Forget drops the cached admin switches (after a PATCH in this process).
func (c *Consumer) Forget() {
	c.mu.Lock()
	c.switches = nil
	c.mu.Unlock()
}

func (c *Consumer) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Transition sources.
const (
	SourceEvent     = "event"
	SourceReconcile = "reconcile"
	SourceBackfill  = "backfill"
)

// Emission is one transition to announce.
type Emission struct {
	Bucket *bucket.Bucket
	Kind   string // bucket.Entered, Left or Dwelled
	Epoch  int
	Source string
	Reason string // leaves
	Label  string // dwell
	Count  int    // dwell ordinal
}

// Name is the transition's event name.
func (e Emission) Name() string {
	switch e.Kind {
	case bucket.Entered:
		return bucket.EnteredEvent(e.Bucket.ID)
	case bucket.Left:
		return bucket.LeftEvent(e.Bucket.ID)
	}
	return bucket.DwellEvent(e.Bucket.ID, e.Label)
}

// Key is the transition's idempotency key: every producer computes the same one, so they meet
// on one stored event. Dwell keys carry the epoch, so a re-joined member dwells again.
func (e Emission) Key(userKey string) string {
	base := "bucket:" + e.Bucket.ID + ":" + userKey + ":"
	if e.Kind == bucket.Dwelled {
		return fmt.Sprintf("%sdwell:%s:%d:%d", base, e.Label, e.Epoch, e.Count)
	}
	return fmt.Sprintf("%s%s:%d", base, e.Kind, e.Epoch)
}

// Properties are the transition event's properties (what reaction journeys receive).
func (e Emission) Properties(userKey string) map[string]any {
	p := map[string]any{"bucketId": e.Bucket.ID, "bucketName": e.Bucket.Name, "userId": userKey,
		"transition": e.Kind, "source": e.Source, "entryCount": e.Epoch}
	if e.Kind == bucket.Left && e.Reason != "" {
		p["reason"] = e.Reason
	}
	if e.Kind == bucket.Dwelled {
		p["dwellCount"] = e.Count
	}
	return p
}

// OutboundEvent is the payload of bucket.entered / bucket.left.
type OutboundEvent struct {
	BucketID   string  `json:"bucketId"`
	BucketName string  `json:"bucketName"`
	UserID     string  `json:"userId"`
	UserEmail  *string `json:"userEmail"`
	Transition string  `json:"transition"`
	EntryCount int     `json:"entryCount"`
	Source     string  `json:"source"`
	Reason     string  `json:"reason,omitempty"`
}

// emit ingests the transition event for contact inside tx (journeys trigger and exit on it),
// the generic alias when a journey listens to it, and records the outbound event.
func (c *Consumer) emit(ctx context.Context, tx pgx.Tx, fx *ingest.Effects, contact store.Contact, e Emission, now time.Time) error {
	key := contact.Key()
	props := e.Properties(key)
	ev := ingest.Event{Name: e.Name(), Email: ptr.Deref(contact.Email), EventProperties: props, IdempotencyKey: e.Key(key), OccurredAt: &now}
	if _, err := c.Ingest.EmitTx(ctx, tx, contact, ev); err != nil {
		return fmt.Errorf("emit %s: %w", ev.Name, err)
	}
	if generic := "bucket:" + e.Kind; c.Journeys != nil && len(c.Journeys.Triggered(generic)) > 0 {
		alias := ev
		alias.Name, alias.IdempotencyKey = generic, ev.IdempotencyKey+":generic"
		if _, err := c.Ingest.EmitTx(ctx, tx, contact, alias); err != nil {
			return fmt.Errorf("emit %s: %w", generic, err)
		}
	}
	if e.Kind == bucket.Dwelled {
		return nil
	}
	eventType := outbound.BucketEntered
	if e.Kind == bucket.Left {
		eventType = outbound.BucketLeft
	}
	fx.Intents = append(fx.Intents, outbound.Emit(eventType, OutboundEvent{BucketID: e.Bucket.ID, BucketName: e.Bucket.Name,
		UserID: key, UserEmail: contact.Email, Transition: e.Kind, EntryCount: e.Epoch, Source: e.Source, Reason: e.Reason},
		e.Key(key), now))
	return nil
}

// armExpiry starts a membership's fast-expiry timer through the outbox (with the join).
func armExpiry(e contract.Expiry) (outbox.Intent, error) {
	arg, err := json.Marshal(e)
	if err != nil {
		return outbox.Intent{}, err
	}
	return outbox.Start(outbox.StartWorkflow{WorkflowID: contract.BucketExpiryID(e.RowID), WorkflowType: contract.BucketExpiryWorkflow,
		Args: []json.RawMessage{arg}}), nil
}

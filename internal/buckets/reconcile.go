package buckets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// The sweep's passes, in the order they run for a bucket (the order matters: a member the TTL
// pass removes does not dwell in the same tick).
const (
	PassLeaves = "leaves" // time-based buckets: members the clock made stop matching
	PassJoins  = "joins"  // absence buckets: contacts the clock made match
	PassTTL    = "ttl"    // maxDwell
	PassDwell  = "dwell"  // dwell reactions
)

// Page sizes of one pass call (the reference's 500; a set-based leave page is cheap, so larger).
const (
	evaluatePage = 500
	countPage    = 1000
)

// Plan is the passes one bucket needs this tick; PassResult one bounded batch of a pass (the
// workflow's contract types).
type (
	Plan       = contract.ReconcilePlan
	PassResult = contract.PassResult
)

// Reconciler is the clock's side of bucket membership. Every flip and its transition intent
// commit together; the dispatcher announces the transitions in parallel.
type Reconciler struct {
	DB       store.DBTX
	Registry *bucket.Registry
	Logger   *slog.Logger
	Now      func() time.Time
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Plan lists the enabled buckets (code and admin switch) the sweep visits, with their passes.
func (r *Reconciler) Plan(ctx context.Context) ([]Plan, error) {
	switches, err := store.BucketSwitches(ctx, r.DB)
	if err != nil {
		return nil, err
	}
	var out []Plan
	for _, b := range r.Registry.All() {
		if !b.Enabled || switchedOff(switches, b.ID) || b.Criteria == nil {
			continue
		}
		var passes []string
		if b.IsTimeBased() {
			passes = append(passes, PassLeaves)
			if _, ok := absenceEvent(b); ok && joinsOn(b) {
				passes = append(passes, PassJoins)
			}
		}
		if !b.MaxDwell.IsZero() {
			passes = append(passes, PassTTL)
		}
		for _, re := range b.Reactions() {
			if re.Kind == bucket.Dwelled {
				passes = append(passes, PassDwell)
				break
			}
		}
		if len(passes) > 0 {
			out = append(out, Plan{BucketID: b.ID, Passes: passes})
		}
	}
	return out, nil
}

// joinsOn: an explicit ReconcileJoins wins; unset, the safe absence shapes join.
func joinsOn(b *bucket.Bucket) bool { return b.ReconcileJoins == nil || *b.ReconcileJoins }

// absenceEvent recognises the two absence shapes whose members are exactly "fired X once, not
// within the window": a windowed not_exists leaf alone, or that leaf and-ed with an exists of
// the same event. It returns the leaf.
func absenceEvent(b *bucket.Bucket) (condition.EventLeaf, bool) {
	switch root := b.Criteria.(type) {
	case condition.EventLeaf:
		return root, root.Check == condition.EventNotExists && root.Within != nil
	case condition.Composite:
		if root.Op != "and" || len(root.Conditions) != 2 {
			return condition.EventLeaf{}, false
		}
		a, ok1 := root.Conditions[0].(condition.EventLeaf)
		z, ok2 := root.Conditions[1].(condition.EventLeaf)
		if !ok1 || !ok2 || a.Name != z.Name {
			return condition.EventLeaf{}, false
		}
		if a.Check == condition.EventNotExists {
			a, z = z, a
		}
		return z, a.Check == condition.EventExists && a.Within == nil && z.Check == condition.EventNotExists && z.Within != nil
	}
	return condition.EventLeaf{}, false
}

// ErrUnknownPass is a pass name the sweep does not know.
var ErrUnknownPass = errors.New("unknown reconcile pass")

// Pass runs one bounded batch of a pass over a bucket.
func (r *Reconciler) Pass(ctx context.Context, bucketID, pass, cursor string) (PassResult, error) {
	b, ok := r.Registry.Get(bucketID)
	if !ok {
		return PassResult{}, nil // unregistered since the plan: nothing to do
	}
	var res PassResult
	err := store.WithTx(ctx, r.DB, func(tx pgx.Tx) error {
		var err error
		switch pass {
		case PassLeaves:
			res, err = r.leaves(ctx, tx, b, cursor)
		case PassJoins:
			res, err = r.joins(ctx, tx, b)
		case PassTTL:
			res, err = r.ttl(ctx, tx, b)
		case PassDwell:
			res, err = r.dwell(ctx, tx, b)
		default:
			err = fmt.Errorf("%w %q", ErrUnknownPass, pass)
		}
		return err
	})
	return res, err
}

func (r *Reconciler) leaves(ctx context.Context, tx pgx.Tx, b *bucket.Bucket, cursor string) (PassResult, error) {
	now := r.now()
	var leavers []string
	res := PassResult{}
	if leaf, single := b.Criteria.(condition.EventLeaf); single {
		var since *time.Time
		if leaf.Within != nil {
			t := now.Add(-leaf.Within.Duration())
			since = &t
		}
		// Three statements a page, each an index walk of the page: the rows, their live contacts
		// (locked), their counts.
		page, err := store.ActiveMembersAfter(ctx, tx, b.ID, cursor, countPage)
		if err != nil {
			return res, err
		}
		keys := make([]string, len(page))
		for i, m := range page {
			keys[i] = m.UserKey
		}
		live, err := store.LiveContactsOfKeys(ctx, tx, keys)
		if err != nil {
			return res, err
		}
		counts, err := store.EventCounts(ctx, tx, keys, leaf.Name, since)
		if err != nil {
			return res, err
		}
		for _, m := range page {
			if _, ok := live[m.UserKey]; ok && !leaf.MatchCount(counts[m.UserKey]) {
				leavers = append(leavers, m.ID)
			}
		}
		res.Processed, res.More = len(page), len(page) == countPage
		if len(page) > 0 {
			res.Cursor = page[len(page)-1].ID
		}
	} else {
		// Any other shape: the least recently evaluated page, fully evaluated; the cursor is
		// last_evaluated_at, so coverage of N members takes N/500 ticks.
		page, err := store.MembersToEvaluate(ctx, tx, b.ID, evaluatePage)
		if err != nil {
			return res, err
		}
		ids, keys, props := make([]string, len(page)), make([]string, len(page)), map[string]map[string]any{}
		for i, m := range page {
			ids[i], keys[i], props[m.UserKey] = m.ID, m.UserKey, m.Properties
		}
		match, err := evaluateAll(ctx, tx, b, keys, props, now)
		if err != nil {
			return res, err
		}
		for _, m := range page {
			if !match[m.UserKey] {
				leavers = append(leavers, m.ID)
			}
		}
		if err := store.TouchMemberships(ctx, tx, ids, now); err != nil {
			return res, err
		}
		res.Processed = len(page)
	}
	n, err := r.leave(ctx, tx, b, leavers, bucket.ReasonCriteria, now)
	res.Changed = n
	return res, err
}

func (r *Reconciler) ttl(ctx context.Context, tx pgx.Tx, b *bucket.Bucket) (PassResult, error) {
	now := r.now()
	ids, err := store.OverstayedMembers(ctx, tx, b.ID, now, evaluatePage)
	if err != nil {
		return PassResult{}, err
	}
	n, err := r.leave(ctx, tx, b, ids, bucket.ReasonMaxDwell, now)
	return PassResult{Processed: len(ids), Changed: n, More: len(ids) == evaluatePage && n > 0}, err
}

// leave flips the rows (sparing those younger than minDwell) and records their transitions.
func (r *Reconciler) leave(ctx context.Context, tx pgx.Tx, b *bucket.Bucket, ids []string, reason string, now time.Time) (int, error) {
	return leaveAndAnnounce(ctx, tx, b, ids, b.MinDwell.Duration(), SourceReconcile, reason, now)
}

// leaveAndAnnounce flips active rows of b (sparing those younger than minDwell) and records the
// transition intent of each row it flipped, in tx.
func leaveAndAnnounce(ctx context.Context, tx pgx.Tx, b *bucket.Bucket, ids []string, minDwell time.Duration, source, reason string,
	now time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	left, err := store.LeaveMembers(ctx, tx, b.ID, ids, minDwell, now)
	if err != nil {
		return 0, err
	}
	intents := make([]outbox.Intent, len(left))
	for i, m := range left {
		intents[i] = transitionIntent(Emission{Bucket: b, Kind: bucket.Left, Epoch: m.EntryCount, Source: source, Reason: reason}, m.UserID)
	}
	_, err = outbox.Append(ctx, tx, intents)
	return len(left), err
}

func (r *Reconciler) joins(ctx context.Context, tx pgx.Tx, b *bucket.Bucket) (PassResult, error) {
	leaf, ok := absenceEvent(b)
	if !ok {
		return PassResult{}, nil
	}
	if done, err := store.BackfillDone(ctx, tx, b.ID); err != nil || !done {
		return PassResult{}, err // no historical blast before the first backfill
	}
	now := r.now()
	lapsed, err := store.LapsedContacts(ctx, tx, b.ID, leaf.Name, now.Add(-leaf.Within.Duration()), evaluatePage)
	if err != nil {
		return PassResult{}, err
	}
	var intents []outbox.Intent
	for _, c := range lapsed {
		j, ok, err := store.JoinBucket(ctx, tx, store.NewMembership{UserKey: c.Key(), BucketID: b.ID, UserEmail: ptr.Deref(c.Email),
			Source: SourceReconcile, ExpiresAt: expiresAt(b, now), MaxDwellAt: after(now, b.MaxDwell), Now: now})
		if err != nil {
			return PassResult{}, err
		}
		if ok && EmitJoin(b, j, now) {
			intents = append(intents, transitionIntent(Emission{Bucket: b, Kind: bucket.Entered, Epoch: j.EntryCount, Source: SourceReconcile}, c.Key()))
		}
	}
	if len(lapsed) == evaluatePage {
		r.log().Warn("bucket join page full; the rest joins next tick", "bucketId", b.ID)
	}
	_, err = outbox.Append(ctx, tx, intents)
	return PassResult{Processed: len(lapsed), Changed: len(intents)}, err
}

func (r *Reconciler) dwell(ctx context.Context, tx pgx.Tx, b *bucket.Bucket) (PassResult, error) {
	if done, err := store.BackfillDone(ctx, tx, b.ID); err != nil || !done {
		return PassResult{}, err
	}
	instant, res := r.now(), PassResult{}
	for _, re := range b.Reactions() {
		if re.Kind != bucket.Dwelled {
			continue
		}
		every := !re.Every.IsZero()
		offset := re.After.Duration()
		if every {
			offset = re.Every.Duration()
		}
		page, err := store.DwellCandidates(ctx, tx, b.ID, instant, offset, evaluatePage)
		if err != nil {
			return res, err
		}
		res.Processed += len(page)
		for _, m := range page {
			ordinal, fire := dwellOrdinal(m, re.Label, every, offset, instant)
			if !fire {
				continue
			}
			e := Emission{Bucket: b, Kind: bucket.Dwelled, Epoch: m.EntryCount, Source: SourceReconcile, Label: re.Label, Count: ordinal}
			if _, err := outbox.Append(ctx, tx, []outbox.Intent{transitionIntent(e, m.UserKey)}); err != nil {
				return res, err
			}
			if err := store.StampDwell(ctx, tx, m.ID, re.Label, instant, instant); err != nil {
				return res, err
			}
			res.Changed++
		}
	}
	return res, nil
}

// dwellOrdinal decides a dwell fire: after fires once (ordinal 1); every fires when an interval
// passed since the last fire, with the elapsed interval's index (a gap of several fires once).
func dwellOrdinal(m store.Member, label string, every bool, offset time.Duration, instant time.Time) (int, bool) {
	last, fired := m.DwellState[label]
	if !every {
		return 1, !fired
	}
	since := m.Anchor
	if fired {
		if t, err := time.Parse(time.RFC3339Nano, last); err == nil {
			since = t
		}
	}
	if instant.Sub(since) < offset || offset <= 0 {
		return 0, false
	}
	return int(instant.Sub(m.Anchor) / offset), true
}

func (r *Reconciler) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// KindTransition is the outbox kind of a transition the sweep made: written with its flip,
// announced by the dispatcher (its workers bound the parallelism of a mass leave).
const KindTransition = "bucket.transition"

type transitionPayload struct {
	BucketID string `json:"bucketId"`
	UserKey  string `json:"userKey"`
	Kind     string `json:"kind"`
	Epoch    int    `json:"epoch"`
	Source   string `json:"source"`
	Reason   string `json:"reason,omitempty"`
	Label    string `json:"label,omitempty"`
	Count    int    `json:"count,omitempty"`
}

func transitionIntent(e Emission, userKey string) outbox.Intent {
	return outbox.Intent{Kind: KindTransition, DedupeKey: KindTransition + ":" + e.Key(userKey), Payload: transitionPayload{
		BucketID: e.Bucket.ID, UserKey: userKey, Kind: e.Kind, Epoch: e.Epoch, Source: e.Source, Reason: e.Reason, Label: e.Label, Count: e.Count}}
}

// Register lets the outbox dispatcher announce the sweep's transitions through the one
// emission path (event ingested for the contact, generic alias, outbound event).
func (c *Consumer) Register(d *outbox.Dispatcher) {
	d.Handle(KindTransition, func(ctx context.Context, raw json.RawMessage) error {
		var p transitionPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			return outbox.Permanent(err)
		}
		b, ok := c.Registry.Get(p.BucketID)
		if !ok {
			return nil // unregistered since: nobody listens
		}
		err := store.WithTx(ctx, c.Ingest.DB, func(tx pgx.Tx) error {
			contact, err := store.LiveContactByKey(ctx, tx, p.UserKey)
			if errors.Is(err, store.ErrNotFound) {
				return nil // deleted meanwhile: no announcement
			}
			if err != nil {
				return err
			}
			fx := &ingest.Effects{}
			e := Emission{Bucket: b, Kind: p.Kind, Epoch: p.Epoch, Source: p.Source, Reason: p.Reason, Label: p.Label, Count: p.Count}
			if err := c.emit(ctx, tx, fx, contact, e, c.now()); err != nil {
				return err
			}
			_, err = outbox.Append(ctx, tx, fx.Intents)
			return err
		})
		if err == nil {
			c.Ingest.Kick()
		}
		return err
	})
}

// Expiry outcomes.
const (
	ExpiryLeft         = "left"
	ExpiryStillMember  = "still_member"
	ExpiryStale        = "re_armed_or_already_left"
	ExpiryUnregistered = "bucket_unregistered"
)

// Expire is a fast-expiry timer's check: the member is evaluated (its contact locked against a
// racing ingest) and left — with the transition intent, in one transaction — only if it no
// longer matches and its row still carries the deadline the timer was armed with.
func (r *Reconciler) Expire(ctx context.Context, in contract.Expiry) (string, error) {
	b, ok := r.Registry.Get(in.BucketID)
	if !ok {
		return ExpiryUnregistered, nil
	}
	outcome := ExpiryStale
	err := store.WithTx(ctx, r.DB, func(tx pgx.Tx) error {
		now := r.now()
		contacts, err := store.LiveContactsOfKeys(ctx, tx, []string{in.UserKey})
		if err != nil {
			return err
		}
		contact, live := contacts[in.UserKey]
		if live {
			match, err := evaluateAll(ctx, tx, b, []string{in.UserKey}, map[string]map[string]any{in.UserKey: contact.Properties}, now)
			if err != nil {
				return err
			}
			if match[in.UserKey] {
				outcome = ExpiryStillMember
				return nil
			}
		}
		left, ok, err := store.ExpireMembership(ctx, tx, in.RowID, in.ArmedExpiresAt, now)
		if err != nil || !ok {
			return err
		}
		outcome = ExpiryLeft
		_, err = outbox.Append(ctx, tx, []outbox.Intent{transitionIntent(Emission{Bucket: b, Kind: bucket.Left, Epoch: left.EntryCount,
			Source: SourceReconcile, Reason: bucket.ReasonCriteria}, left.UserID)})
		return err
	})
	return outcome, err
}

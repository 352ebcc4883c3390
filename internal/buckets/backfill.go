package buckets

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// Backfill modes (the workflow's contract).
const (
	ModeFirstTime = contract.BackfillFirstTime
	ModeReeval    = contract.BackfillReeval
)

// backfillPage is how many contacts or members one backfill call evaluates.
const backfillPage = 500

// Backfiller brings a bucket's membership in line with its criteria over existing data.
type Backfiller struct {
	DB       store.DBTX
	Registry *bucket.Registry
	Now      func() time.Time
}

func (f *Backfiller) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Due lists the backfills to run: every enabled bucket whose stored criteria hash is missing
// (first time) or differs (re-eval), each with its job row (created, or the open one reused).
func (f *Backfiller) Due(ctx context.Context) ([]contract.BackfillInput, error) {
	var out []contract.BackfillInput
	for _, b := range f.Registry.All() {
		if !b.Enabled || b.Criteria == nil {
			continue
		}
		hash, err := b.CriteriaHash()
		if err != nil {
			return nil, err
		}
		stored, err := store.BucketHash(ctx, f.DB, b.ID)
		if err != nil {
			return nil, err
		}
		if stored == hash {
			continue
		}
		mode, format := ModeFirstTime, store.FormatBackfill
		if stored != "" {
			mode, format = ModeReeval, store.FormatReeval
		}
		job, err := store.EnsureBackfillJob(ctx, f.DB, b.ID, format)
		if err != nil {
			return nil, err
		}
		out = append(out, contract.BackfillInput{JobID: job, BucketID: b.ID, Mode: mode, Hash: hash})
	}
	return out, nil
}

// Begin marks the job processing; false when the bucket is gone (the job is failed).
func (f *Backfiller) Begin(ctx context.Context, in contract.BackfillInput) (bool, error) {
	if _, ok := f.Registry.Get(in.BucketID); !ok {
		return false, store.UpdateBackfillJob(ctx, f.DB, in.JobID, "failed", 0, 0, "bucket_unregistered_or_manual")
	}
	return true, store.UpdateBackfillJob(ctx, f.DB, in.JobID, "processing", 0, 0, "")
}

// JoinPage evaluates one page of live contacts and silently adds the matchers.
func (f *Backfiller) JoinPage(ctx context.Context, in contract.BackfillInput, cursor string) (contract.PassResult, error) {
	b, ok := f.Registry.Get(in.BucketID)
	if !ok {
		return contract.PassResult{}, nil
	}
	now := f.now()
	var res contract.PassResult
	err := store.WithTx(ctx, f.DB, func(tx pgx.Tx) error {
		var err error
		res, err = f.joinPage(ctx, tx, b, cursor, now)
		return err
	})
	return res, err
}

// joinPage evaluates and joins one page inside tx, its contacts locked against a concurrent
// ingest (which would otherwise change them between the verdict and the write).
func (f *Backfiller) joinPage(ctx context.Context, tx pgx.Tx, b *bucket.Bucket, cursor string, now time.Time) (contract.PassResult, error) {
	page, err := store.LiveContactsPage(ctx, tx, cursor, backfillPage)
	if err != nil || len(page) == 0 {
		return contract.PassResult{}, err
	}
	keys, props := make([]string, len(page)), map[string]map[string]any{}
	for i, c := range page {
		keys[i], props[c.Key()] = c.Key(), c.Properties
	}
	match, err := evaluateAll(ctx, tx, b, keys, props, now)
	if err != nil {
		return contract.PassResult{}, err
	}
	anchorEvent, anchored := anchorOf(b)
	if leaf, ok := b.Criteria.(condition.EventLeaf); ok && leaf.Check == condition.EventNotExists {
		// A bare absence is lapsed-only: a contact that never had the event is not "gone quiet".
		ever, err := store.EventCounts(ctx, tx, keys, leaf.Name, nil)
		if err != nil {
			return contract.PassResult{}, err
		}
		for k := range match {
			match[k] = match[k] && ever[k] > 0
		}
	}
	var members []store.BackfillMember
	for _, c := range page {
		if match[c.Key()] {
			members = append(members, store.BackfillMember{UserKey: c.Key(), Email: ptr.Deref(c.Email)})
		}
	}
	if anchored && len(members) > 0 {
		mk := make([]string, len(members))
		for i, m := range members {
			mk[i] = m.UserKey
		}
		last, err := store.LastEvents(ctx, tx, mk, anchorEvent)
		if err != nil {
			return contract.PassResult{}, err
		}
		for i := range members {
			if at, ok := last[members[i].UserKey]; ok {
				members[i].Anchor = &at
			}
		}
	}
	n, err := store.JoinSilently(ctx, tx, b.ID, members, expiresAt(b, now), after(now, b.MaxDwell), now)
	return contract.PassResult{Processed: len(page), Changed: n, Cursor: page[len(page)-1].ID, More: len(page) == backfillPage}, err
}

// LeavePage re-checks one page of active members; those that no longer match leave, announced
// (source backfill), so journeys exiting on the leave event exit.
func (f *Backfiller) LeavePage(ctx context.Context, in contract.BackfillInput, cursor string) (contract.PassResult, error) {
	b, ok := f.Registry.Get(in.BucketID)
	if !ok {
		return contract.PassResult{}, nil
	}
	now := f.now()
	var res contract.PassResult
	err := store.WithTx(ctx, f.DB, func(tx pgx.Tx) error {
		page, err := store.ActiveMembersAfter(ctx, tx, b.ID, cursor, backfillPage)
		if err != nil || len(page) == 0 {
			return err
		}
		keys := make([]string, len(page))
		for i, m := range page {
			keys[i] = m.UserKey
		}
		live, err := store.LiveContactsOfKeys(ctx, tx, keys) // locked against a racing ingest
		if err != nil {
			return err
		}
		props := make(map[string]map[string]any, len(live))
		for k, c := range live {
			props[k] = c.Properties
		}
		match, err := evaluateAll(ctx, tx, b, keys, props, now)
		if err != nil {
			return err
		}
		var ids []string
		for _, m := range page {
			if _, ok := live[m.UserKey]; ok && !match[m.UserKey] { // a deleted contact's rows stay as they are
				ids = append(ids, m.ID)
			}
		}
		n, err := leaveAndAnnounce(ctx, tx, b, ids, 0, SourceBackfill, bucket.ReasonCriteria, now)
		res = contract.PassResult{Processed: len(page), Changed: n, Cursor: page[len(page)-1].ID, More: len(page) == backfillPage}
		return err
	})
	return res, err
}

// Finish stores the criteria hash the bucket now reflects and completes the job.
func (f *Backfiller) Finish(ctx context.Context, in contract.BackfillInput, total, processed int) error {
	return store.WithTx(ctx, f.DB, func(tx pgx.Tx) error {
		if err := store.SetCriteriaHash(ctx, tx, in.BucketID, in.Hash); err != nil {
			return err
		}
		return store.UpdateBackfillJob(ctx, tx, in.JobID, "completed", total, processed, "")
	})
}

// Fail records why a backfill job stopped.
func (f *Backfiller) Fail(ctx context.Context, in contract.BackfillInput, message string) error {
	return store.UpdateBackfillJob(ctx, f.DB, in.JobID, "failed", 0, 0, message)
}

// anchorOf is the event dwell counts from for backfilled members: the root's windowed event
// leaf, or the event of the lapsed-active shape.
func anchorOf(b *bucket.Bucket) (string, bool) {
	if leaf, ok := b.Criteria.(condition.EventLeaf); ok && leaf.Within != nil {
		return leaf.Name, true
	}
	if leaf, ok := absenceEvent(b); ok {
		return leaf.Name, true
	}
	return "", false
}

// evaluateAll decides the criteria for many contacts at once: one count query per event leaf
// for the whole page, then the tree in memory.
func evaluateAll(ctx context.Context, db store.DBTX, b *bucket.Bucket, keys []string, props map[string]map[string]any, now time.Time) (map[string]bool, error) {
	counts := map[string]map[string]int{}
	for _, l := range condition.Leaves(b.Criteria) {
		leaf, ok := l.(condition.EventLeaf)
		if !ok {
			continue
		}
		var since *time.Time
		if leaf.Within != nil {
			t := now.Add(-leaf.Within.Duration())
			since = &t
		}
		id := countID(leaf.Name, since)
		if _, done := counts[id]; done {
			continue
		}
		c, err := store.EventCounts(ctx, db, keys, leaf.Name, since)
		if err != nil {
			return nil, err
		}
		counts[id] = c
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		is, err := condition.Evaluate(ctx, b.Criteria, props[k], pageFacts{counts: counts, key: k}, now)
		if err != nil {
			return nil, err
		}
		out[k] = is
	}
	return out, nil
}

// pageFacts answers event counts from a page's precomputed counts.
type pageFacts struct {
	counts map[string]map[string]int
	key    string
}

func countID(name string, since *time.Time) string {
	if since == nil {
		return name
	}
	return name + "@" + strconv.FormatInt(since.UnixNano(), 10)
}

func (p pageFacts) EventCount(_ context.Context, name string, since *time.Time) (int, error) {
	c, ok := p.counts[countID(name, since)]
	if !ok {
		return 0, fmt.Errorf("event %q was not counted for this page", name)
	}
	return c[p.key], nil
}

func (p pageFacts) LatestSend(context.Context, string) (bool, bool, bool, error) {
	return false, false, false, fmt.Errorf("email engagement is not allowed in bucket criteria")
}

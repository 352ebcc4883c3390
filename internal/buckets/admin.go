package buckets

import (
	"context"
	"errors"
	"time"

	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Admin answers the bucket admin routes.
type Admin struct {
	DB       store.DBTX
	Registry *bucket.Registry
	Journeys *journey.Registry
	// Switched is told after an admin switch changed in this process (the consumer forgets its
	// cached switches); nil = nobody.
	Switched func()
}

// ErrNotFound is a bucket this process does not register.
var ErrNotFound = errors.New("bucket not found")

// Summary is a bucket with its effective switch and row counts.
type Summary struct {
	Bucket  *bucket.Bucket
	Enabled bool // the admin switch when one exists, else the code's flag
	Counts  store.BucketCounts
}

// Buckets lists the registered buckets in registry order, filtered on the effective switch.
func (a *Admin) Buckets(ctx context.Context, enabled *bool) ([]Summary, error) {
	switches, err := store.BucketSwitches(ctx, a.DB)
	if err != nil {
		return nil, err
	}
	counts, err := store.CountMemberships(ctx, a.DB)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, b := range a.Registry.All() {
		s := Summary{Bucket: b, Enabled: b.Enabled, Counts: counts[b.ID]}
		if on, ok := switches[b.ID]; ok {
			s.Enabled = on
		}
		if enabled == nil || *enabled == s.Enabled {
			out = append(out, s)
		}
	}
	return out, nil
}

// Bucket is one bucket's summary with its ten most recent active members.
func (a *Admin) Bucket(ctx context.Context, id string) (Summary, []store.MemberRow, error) {
	b, ok := a.Registry.Get(id)
	if !ok {
		return Summary{}, nil, ErrNotFound
	}
	all, err := a.Buckets(ctx, nil)
	if err != nil {
		return Summary{}, nil, err
	}
	var s Summary
	for _, x := range all {
		if x.Bucket == b {
			s = x
		}
	}
	recent, _, err := store.Members(ctx, a.DB, store.MemberFilter{BucketID: id, Status: "active"}, 10, 0)
	return s, recent, err
}

// SetEnabled stores the admin switch: a disabled bucket neither joins nor emits (its members
// stay).
func (a *Admin) SetEnabled(ctx context.Context, id string, enabled bool) (*bucket.Bucket, time.Time, error) {
	b, ok := a.Registry.Get(id)
	if !ok {
		return nil, time.Time{}, ErrNotFound
	}
	at, err := store.SetBucketEnabled(ctx, a.DB, id, enabled)
	if err == nil && a.Switched != nil {
		a.Switched()
	}
	return b, at, err
}

// Members pages a bucket's rows.
func (a *Admin) Members(ctx context.Context, f store.MemberFilter, limit, offset int) ([]store.MemberRow, int, error) {
	if _, ok := a.Registry.Get(f.BucketID); !ok {
		return nil, 0, ErrNotFound
	}
	return store.Members(ctx, a.DB, f, limit, offset)
}

// Feed is a journey a bucket's transitions start.
type Feed struct {
	ID, Name, Trigger string
	SourceBucketID    *string
	Owned             bool // one of the bucket's reactions
}

// Feeds are the journeys a bucket feeds: its reactions first, then the journeys triggered by
// its entered / left events or the generic ones, each once.
func (a *Admin) Feeds(b *bucket.Bucket) []Feed {
	var out []Feed
	seen := map[string]bool{}
	for _, r := range b.Reactions() {
		id := b.ID
		seen[r.Journey.ID] = true
		out = append(out, Feed{ID: r.Journey.ID, Name: r.Journey.Name, Trigger: r.Journey.Trigger.Event, SourceBucketID: &id, Owned: true})
	}
	if a.Journeys == nil {
		return out
	}
	for _, event := range []string{b.Entered(), b.Left(), "bucket:" + bucket.Entered, "bucket:" + bucket.Left} {
		for _, j := range a.Journeys.Triggered(event) {
			if !seen[j.ID] {
				seen[j.ID] = true
				out = append(out, Feed{ID: j.ID, Name: j.Name, Trigger: event})
			}
		}
	}
	return out
}

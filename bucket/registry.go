package bucket

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/journey"
)

// Registry is the set of buckets this process serves, indexed for the real-time path: an
// event is checked only against the buckets whose criteria name its event or one of its
// property keys. (Every bucket names one: empty composites are rejected at definition.)
type Registry struct {
	all        []*Bucket
	byID       map[string]*Bucket
	byEvent    map[string][]*Bucket
	byProperty map[string][]*Bucket
}

// ErrDuplicateID is two buckets with one id.
var ErrDuplicateID = errors.New("duplicate bucket id")

// NewRegistry registers the buckets allowed (nil = all; ENABLED_BUCKETS), in order. Every
// problem (duplicate ids, reaction errors) is listed in one error.
func NewRegistry(buckets []*Bucket, allowed func(id string) bool) (*Registry, error) {
	r := &Registry{byID: map[string]*Bucket{}, byEvent: map[string][]*Bucket{}, byProperty: map[string][]*Bucket{}}
	var problems []string
	for _, b := range buckets {
		if b == nil {
			problems = append(problems, "nil bucket")
			continue
		}
		if allowed != nil && !allowed(b.ID) {
			continue
		}
		if _, dup := r.byID[b.ID]; dup {
			problems = append(problems, fmt.Sprintf("%v %q", ErrDuplicateID, b.ID))
			continue
		}
		for _, p := range b.problems {
			problems = append(problems, fmt.Sprintf("bucket %q: %s", b.ID, p))
		}
		r.byID[b.ID] = b
		r.all = append(r.all, b)
		r.index(b)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return r, nil
}

func (r *Registry) index(b *Bucket) {
	if b.Kind != Dynamic || b.Criteria == nil {
		return
	}
	condition.Walk(b.Criteria, func(n condition.Condition) {
		switch x := n.(type) {
		case condition.EventLeaf:
			r.byEvent[x.Name] = appendOnce(r.byEvent[x.Name], b)
		case condition.Property:
			r.byProperty[x.Name] = appendOnce(r.byProperty[x.Name], b)
		}
	})
}

func appendOnce(list []*Bucket, b *Bucket) []*Bucket {
	if len(list) > 0 && list[len(list)-1] == b {
		return list
	}
	return append(list, b)
}

// All is every registered bucket, in registration order.
func (r *Registry) All() []*Bucket { return r.all }

// Get finds a registered bucket.
func (r *Registry) Get(id string) (*Bucket, bool) {
	b, ok := r.byID[id]
	return b, ok
}

// Candidates are the enabled buckets an event may change, in order, each once: those naming
// the event, then those naming a key of the event's or the contact patch's properties (keys in
// order). Transition events have none (no buckets of buckets).
func (r *Registry) Candidates(event string, eventProps, contactProps map[string]any) []*Bucket {
	if r == nil || IsTransitionEvent(event) {
		return nil
	}
	var out []*Bucket
	seen := map[*Bucket]bool{}
	add := func(list []*Bucket) {
		for _, b := range list {
			if b.Enabled && !seen[b] {
				seen[b] = true
				out = append(out, b)
			}
		}
	}
	add(r.byEvent[event])
	for _, props := range []map[string]any{eventProps, contactProps} {
		var named []string // only keys some bucket names: nothing allocated for the rest
		for k := range props {
			if _, ok := r.byProperty[k]; ok {
				named = append(named, k)
			}
		}
		slices.Sort(named)
		for _, k := range named {
			add(r.byProperty[k])
		}
	}
	return out
}

// Journeys are the reactions of every registered bucket.
func (r *Registry) Journeys() []*journey.Journey {
	var out []*journey.Journey
	for _, b := range r.all {
		for _, re := range b.reactions {
			out = append(out, re.Journey)
		}
	}
	return out
}

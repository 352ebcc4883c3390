package email

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ListDef defines a subscription list: a category recipients join or leave. Membership lives in
// the recipient's preference row, so a list needs no table.
type ListDef struct {
	ID           string // letters, digits, '-' and '_'
	Name         string // shown in the catalog and the preference center
	Description  string
	DefaultOptIn bool  // true: everyone is a member until they leave; false: nobody until they join
	Enabled      *bool // nil = enabled; a disabled list is hidden but still addressable
}

// List is a validated list definition.
type List struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	DefaultOptIn bool   `json:"defaultOptIn"`
	Enabled      bool   `json:"enabled"`
}

var listID = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// DefineList validates a list definition.
func DefineList(d ListDef) (List, error) {
	if !listID.MatchString(d.ID) {
		return List{}, fmt.Errorf("list id %q: use letters, digits, '-' and '_'", d.ID)
	}
	if c := Category(strings.ToLower(d.ID)); c == CategoryTransactional || c == CategoryJourney {
		return List{}, fmt.Errorf("list id %q is a built-in category", d.ID)
	}
	return List{ID: d.ID, Name: d.Name, Description: d.Description, DefaultOptIn: d.DefaultOptIn,
		Enabled: d.Enabled == nil || *d.Enabled}, nil
}

// MustDefineList is DefineList that panics (at program start).
func MustDefineList(d ListDef) List {
	l, err := DefineList(d)
	if err != nil {
		panic(err)
	}
	return l
}

// Lists is the list registry, in registration order. The zero value and nil are empty.
type Lists struct {
	all  []List
	byID map[string]int
}

// NewLists registers lists; a duplicate id is an error. allows is the ENABLED_LISTS filter (nil
// = all): a list it refuses is not registered at all.
func NewLists(allows func(id string) bool, defs ...List) (*Lists, error) {
	r := &Lists{byID: map[string]int{}}
	for _, l := range defs {
		if allows != nil && !allows(l.ID) {
			continue
		}
		if _, dup := r.byID[l.ID]; dup {
			return nil, fmt.Errorf("duplicate list id %q", l.ID)
		}
		r.byID[l.ID] = len(r.all)
		r.all = append(r.all, l)
	}
	return r, nil
}

// Get finds a registered list.
func (r *Lists) Get(id string) (List, bool) {
	if r == nil {
		return List{}, false
	}
	i, ok := r.byID[id]
	if !ok {
		return List{}, false
	}
	return r.all[i], true
}

// All returns the registered lists; Enabled only those not disabled.
func (r *Lists) All() []List {
	if r == nil {
		return nil
	}
	return append([]List(nil), r.all...)
}

// Enabled returns the lists shown in the catalog and the preference center.
func (r *Lists) Enabled() []List {
	var out []List
	for _, l := range r.All() {
		if l.Enabled {
			out = append(out, l)
		}
	}
	return out
}

// IsSubscribed applies a category's polarity to a recipient's category flags: an opt-in list
// needs an explicit true; everything else (opt-out lists, built-in and unknown categories)
// needs only the absence of an explicit false.
func (r *Lists) IsSubscribed(categories map[string]bool, id string) bool {
	v, set := categories[id]
	if l, ok := r.Get(id); ok && !l.DefaultOptIn {
		return set && v
	}
	return !set || v
}

// FrequencyCap limits how many sends a recipient gets in a window. Sends blocked by preferences
// do not count; everything else does, queued included.
type FrequencyCap struct {
	Count  int
	Window time.Duration
	// ByCategory overrides the global rule for sends whose caller category is listed.
	ByCategory map[Category]CapRule
	// ExemptCategories are never capped; nil means transactional.
	ExemptCategories []Category
}

// CapRule is one cap: at most Count sends within Window.
type CapRule struct {
	Count  int
	Window time.Duration
}

// Rule returns the rule for a caller category, and false when that category is exempt.
func (f *FrequencyCap) Rule(category Category) (rule CapRule, byCategory, capped bool) {
	if f == nil {
		return CapRule{}, false, false
	}
	exempt := f.ExemptCategories
	if exempt == nil {
		exempt = []Category{CategoryTransactional}
	}
	if category != "" {
		for _, c := range exempt {
			if c == category {
				return CapRule{}, false, false
			}
		}
		if r, ok := f.ByCategory[category]; ok {
			return r, true, true
		}
	}
	return CapRule{Count: f.Count, Window: f.Window}, false, f.Count > 0 || f.Window > 0
}

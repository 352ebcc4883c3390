package journey

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hogsend/hogsend/condition"
)

// EntryLimit says how often one contact may enter a journey.
type EntryLimit string

// Entry limits.
const (
	EntryOnce          EntryLimit = "once"
	EntryOncePerPeriod EntryLimit = "once_per_period" // again after EntryPeriod (default 24 h) since the last entry
	EntryUnlimited     EntryLimit = "unlimited"
)

// Trigger is the event that enrolls a contact, with property conditions on that event (all
// must match; an empty list matches).
type Trigger struct {
	Event string
	Where []condition.Property
}

// ExitRule ends a contact's live runs of the journey when a matching event arrives.
type ExitRule struct {
	Event string
	Where []condition.Property
}

// ExitOn is one exit rule per event, without property filters:
// Meta{ExitOn: journey.ExitOn("user.deleted", "subscription.created")}.
func ExitOn(events ...string) []ExitRule {
	rules := make([]ExitRule, len(events))
	for i, e := range events {
		rules[i] = ExitRule{Event: e}
	}
	return rules
}

// Meta is a journey's definition, everything but its code.
type Meta struct {
	ID          string
	Name        string
	Description string
	// Enabled false skips every enrollment (reason journey_disabled); runs already going finish.
	Enabled     bool
	Trigger     Trigger
	EntryLimit  EntryLimit
	EntryPeriod Duration // once_per_period only; zero = 24 hours
	ExitOn      []ExitRule
	// Suppress is echoed by the admin API and not enforced (as in the reference).
	Suppress Duration
	// Key, when set, names a trigger-event property (e.g. "cartId") whose value keys the run:
	// one contact can then have one live run per key value at once.
	Key string
}

// User is the enrolled contact as a run sees it.
type User struct {
	ID        string // the contact's user key
	ContactID string // the contact's uuid
	// No email address: a run's inputs and history hold none. SendEmail without To goes to the
	// enrolled address, which the send activity reads from the state row.
	Properties  map[string]any // the trigger event's scalar properties
	StateID     string         // journey_states.id
	JourneyID   string
	JourneyName string
	Key         string // the run's key value for keyed journeys
}

// String returns a string property of the trigger event ("" when absent or not a string).
func (u User) String(name string) string {
	s, _ := u.Properties[name].(string)
	return s
}

// RunFunc is a journey's code.
type RunFunc func(ctx Context, u User) error

// Journey is a validated definition.
type Journey struct {
	Meta
	Run RunFunc
}

// WorkflowName is the Temporal workflow type of a journey.
func WorkflowName(journeyID string) string { return "journey-" + journeyID }

// WorkflowID is the Temporal workflow ID of one run: journey:<journeyId>:<contactId>[:<key hash>].
// It carries the contact's uuid, never an email or other personal data.
func WorkflowID(journeyID, contactID, key string) string {
	id := "journey:" + journeyID + ":" + contactID
	if key != "" {
		// The key is an event property (a cart id, maybe an address): only its hash is shown.
		sum := sha256.Sum256([]byte(key))
		id += ":" + hex.EncodeToString(sum[:8])
	}
	return id
}

// Period is the cool-down of once_per_period.
func (m Meta) Period() time.Duration {
	ms := m.EntryPeriod.Milliseconds()
	if ms <= 0 {
		return 24 * time.Hour
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// Define validates a journey definition.
func Define(meta Meta, run RunFunc) (*Journey, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(meta.ID) == "" {
		bad("id is required")
	} else if strings.ContainsAny(meta.ID, ": \t\n") {
		bad("id %q may not contain ':' or spaces (it is part of workflow ids)", meta.ID)
	}
	if strings.TrimSpace(meta.Name) == "" {
		bad("name is required")
	}
	if strings.TrimSpace(meta.Trigger.Event) == "" {
		bad("trigger.event is required")
	}
	if !slices.Contains([]EntryLimit{EntryOnce, EntryOncePerPeriod, EntryUnlimited}, meta.EntryLimit) {
		bad("entryLimit must be once, once_per_period or unlimited, got %q", meta.EntryLimit)
	}
	checkWhere := func(where string, conds []condition.Property) {
		for i, c := range conds {
			if !validOp(c.Op) {
				bad("%s[%d]: unknown operator %q", where, i, c.Op)
			}
			if c.HasValue {
				switch c.Value.(type) {
				case string, float64, bool:
				default:
					bad("%s[%d]: value must be a string, number or bool", where, i)
				}
			}
		}
	}
	checkWhere("trigger.where", meta.Trigger.Where)
	for i, r := range meta.ExitOn {
		if strings.TrimSpace(r.Event) == "" {
			bad("exitOn[%d].event is required", i)
		}
		checkWhere(fmt.Sprintf("exitOn[%d].where", i), r.Where)
	}
	if run == nil {
		bad("run function is required")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("journey %q: %s", meta.ID, strings.Join(problems, "; "))
	}
	return &Journey{Meta: meta, Run: run}, nil
}

// MustDefine is Define that panics on an invalid definition (at program start).
func MustDefine(meta Meta, run RunFunc) *Journey {
	j, err := Define(meta, run)
	if err != nil {
		panic(err)
	}
	return j
}

func validOp(op condition.PropertyOp) bool {
	switch op {
	case condition.Eq, condition.Neq, condition.Gt, condition.Gte, condition.Lt, condition.Lte,
		condition.Exists, condition.NotExists, condition.Contains:
		return true
	}
	return false
}

// Registry holds the defined journeys and which of them are enabled by ENABLED_JOURNEYS.
type Registry struct {
	defined   []*Journey
	enabled   []*Journey
	byID      map[string]*Journey
	byTrigger map[string][]*Journey
	exiting   []string
}

// ErrDuplicateID is returned when two journeys share an id.
var ErrDuplicateID = errors.New("duplicate journey id")

// NewRegistry indexes journeys; allowed (nil = all) is the ENABLED_JOURNEYS filter. Every
// journey stays defined, so the worker can still run in-flight runs of a filtered-out journey;
// only enabled ones are routed, listed and exit-checked.
func NewRegistry(journeys []*Journey, allowed func(id string) bool) (*Registry, error) {
	r := &Registry{byID: map[string]*Journey{}, byTrigger: map[string][]*Journey{}}
	for _, j := range journeys {
		if j == nil {
			return nil, errors.New("nil journey in the registry")
		}
		if _, dup := r.byID[j.ID]; dup {
			return nil, fmt.Errorf("%w %q", ErrDuplicateID, j.ID)
		}
		r.byID[j.ID] = j
		r.defined = append(r.defined, j)
		if allowed == nil || allowed(j.ID) {
			r.enabled = append(r.enabled, j)
			r.byTrigger[j.Trigger.Event] = append(r.byTrigger[j.Trigger.Event], j)
			if len(j.ExitOn) > 0 {
				r.exiting = append(r.exiting, j.ID)
			}
		}
	}
	return r, nil
}

// Defined is every journey in definition order (for worker registration).
func (r *Registry) Defined() []*Journey { return r.defined }

// Enabled is every journey the filter lets through, in definition order.
func (r *Registry) Enabled() []*Journey { return r.enabled }

// Get finds an enabled journey.
func (r *Registry) Get(id string) (*Journey, bool) {
	j, ok := r.byID[id]
	if !ok || !slices.Contains(r.enabled, j) {
		return nil, false
	}
	return j, true
}

// WithExitRules lists the ids of the enabled journeys that have exit rules.
func (r *Registry) WithExitRules() []string { return r.exiting }

// Triggered lists the enabled journeys an event name enrolls into.
func (r *Registry) Triggered(event string) []*Journey { return r.byTrigger[event] }

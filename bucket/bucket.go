// Package bucket defines buckets: named real-time segments of contacts, kept by a criteria
// predicate over contact properties and events. Joining and leaving are events
// (bucket:entered:<id>, bucket:left:<id>) that journeys trigger and exit on; reactions
// (OnEnter, OnLeave, OnDwell) are journeys a bucket owns.
//
//	var Pro = bucket.MustDefine(bucket.Meta{ID: "pro", Name: "Pro", Enabled: true,
//		Criteria: condition.All(condition.Prop("plan").Eq("pro"), condition.Prop("converted").Neq(true))})
package bucket

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/journey"
)

// Kind is how membership is decided. Only dynamic (criteria) buckets exist so far.
type Kind string

// Kinds.
const (
	Dynamic Kind = "dynamic"
	Manual  Kind = "manual" // rejected at definition: not implemented
)

// EntryLimit gates the entered event of a re-join; the membership row is written either way.
type EntryLimit = journey.EntryLimit

// Entry limits (the journey ones: once ever, once per period since the last leave, unlimited).
const (
	EntryOnce          = journey.EntryOnce
	EntryOncePerPeriod = journey.EntryOncePerPeriod
	EntryUnlimited     = journey.EntryUnlimited
)

// Duration is the condition language's window ({hours, minutes, seconds}).
type Duration = condition.Duration

// Meta is a bucket's definition.
type Meta struct {
	ID          string
	Name        string
	Description string
	// Enabled false registers the bucket (admin shows it) but never evaluates it.
	Enabled  bool
	Kind     Kind // "" = dynamic
	Criteria condition.Condition
	// EntryLimit defaults to unlimited; EntryPeriod is the cooldown of once_per_period, from the
	// last leave (unset = no cooldown).
	EntryLimit  EntryLimit
	EntryPeriod Duration
	// MinDwell defers a leave until the membership is this old (anti-flap); MaxDwell leaves a
	// member this long after joining whatever the criteria (a TTL). MaxDwell ≥ MinDwell.
	MinDwell, MaxDwell Duration
	// TimeBased marks criteria whose truth changes with the clock; a windowed event leaf makes a
	// bucket time-based anyway (false does not turn that off).
	TimeBased bool
	// ReconcileEvery is advisory (admin shows it): one engine-wide schedule sweeps every bucket.
	ReconcileEvery Duration
	// ReconcileJoins: whether the sweep adds members the clock made match (absence buckets). nil
	// = inferred from the criteria's shape.
	ReconcileJoins *bool
	// FastExpiry arms a durable timer per membership for a near-instant clock-driven leave.
	FastExpiry bool
}

// Bucket is a defined bucket with its reactions.
type Bucket struct {
	Meta
	reactions []Reaction
	problems  []string // reaction definition errors, reported by NewRegistry
}

// Transition kinds.
const (
	Entered = "entered"
	Left    = "left"
	Dwelled = "dwell"
)

// Leave reasons.
const (
	ReasonCriteria = "criteria"
	ReasonMaxDwell = "maxDwell"
	ReasonManual   = "manual"
)

// EnteredEvent is the event a join emits.
func EnteredEvent(id string) string { return "bucket:entered:" + id }

// LeftEvent is the event a leave emits.
func LeftEvent(id string) string { return "bucket:left:" + id }

// DwellEvent is the event a dwell tick emits.
func DwellEvent(id, label string) string { return "bucket:dwell:" + id + ":" + label }

// Entered is this bucket's join event.
func (b *Bucket) Entered() string { return EnteredEvent(b.ID) }

// Left is this bucket's leave event.
func (b *Bucket) Left() string { return LeftEvent(b.ID) }

// IsTransitionEvent reports an event name in the reserved bucket: namespace.
func IsTransitionEvent(name string) bool { return strings.HasPrefix(name, "bucket:") }

// Errors of Define.
var ErrInvalid = errors.New("invalid bucket")

// Define validates meta: every problem is listed in one error.
func Define(meta Meta) (*Bucket, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(meta.ID) == "" {
		bad("id is required")
	} else if strings.ContainsAny(meta.ID, ": \t\n") {
		bad("id %q may not contain ':' or spaces (it is part of event names)", meta.ID)
	}
	if strings.TrimSpace(meta.Name) == "" {
		bad("name is required")
	}
	if meta.Kind == "" {
		meta.Kind = Dynamic
	}
	if meta.EntryLimit == "" {
		meta.EntryLimit = EntryUnlimited
	}
	switch meta.EntryLimit {
	case EntryOnce, EntryOncePerPeriod, EntryUnlimited:
	default:
		bad("entryLimit %q must be once, once_per_period or unlimited", meta.EntryLimit)
	}
	if meta.MaxDwell.Milliseconds() < meta.MinDwell.Milliseconds() && !meta.MaxDwell.IsZero() {
		bad("maxDwell must be ≥ minDwell")
	}
	switch {
	case meta.Kind == Manual:
		bad("manual buckets are not implemented: use a dynamic bucket with criteria")
	case meta.Kind != Dynamic:
		bad("kind %q must be dynamic", meta.Kind)
	case meta.Criteria == nil:
		bad("criteria are required")
	default:
		problems = append(problems, criteriaProblems(meta.Criteria)...)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w %q: %s", ErrInvalid, meta.ID, strings.Join(problems, "; "))
	}
	return &Bucket{Meta: meta}, nil
}

// MustDefine is Define that panics, for package-level definitions.
func MustDefine(meta Meta) *Bucket {
	b, err := Define(meta)
	if err != nil {
		panic(err)
	}
	return b
}

// criteriaProblems are the registration rules on criteria beyond their structure.
func criteriaProblems(c condition.Condition) []string {
	var problems []string
	leaves := condition.Leaves(c)
	negative := 0
	condition.Walk(c, func(n condition.Condition) {
		switch x := n.(type) {
		case condition.Composite:
			if len(x.Conditions) == 0 {
				problems = append(problems, "an empty composite would match every contact")
			}
			if x.Op != "and" && x.Op != "or" {
				problems = append(problems, fmt.Sprintf("composite operator %q must be and or or", x.Op))
			}
		case condition.EventLeaf:
			if IsTransitionEvent(x.Name) {
				problems = append(problems, fmt.Sprintf("event %q is a bucket transition: buckets of buckets are not allowed", x.Name))
			}
		case condition.EngagementLeaf:
			problems = append(problems, "email_engagement conditions are not allowed in bucket criteria")
		}
	})
	for _, l := range leaves {
		if condition.Negative(l) {
			negative++
		}
	}
	if len(leaves) > 0 && negative == len(leaves) {
		problems = append(problems, "criteria must contain at least one positive condition")
	}
	return problems
}

// HasWindow reports whether any event leaf has a window.
func (b *Bucket) HasWindow() bool { return condition.FirstWindow(b.Criteria) != nil }

// IsTimeBased is the sweep's inference: the explicit flag, or a windowed event leaf.
func (b *Bucket) IsTimeBased() bool { return b.TimeBased || b.HasWindow() }

// CriteriaHash is the canonical hash of the criteria (a change triggers re-evaluation).
func (b *Bucket) CriteriaHash() (string, error) { return condition.Hash(b.Criteria) }

// Reactions are the journeys the bucket owns, in definition order.
func (b *Bucket) Reactions() []Reaction { return b.reactions }

// DwellLabel names a dwell schedule: after-<ms> or every-<ms>.
func DwellLabel(every bool, d Duration) string {
	prefix := "after-"
	if every {
		prefix = "every-"
	}
	return prefix + strconv.FormatInt(int64(d.Milliseconds()), 10)
}

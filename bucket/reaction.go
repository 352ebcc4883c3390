package bucket

import (
	"fmt"
	"slices"

	"github.com/hogsend/hogsend/journey"
)

// Reaction is a journey a bucket owns, triggered by one of its transitions.
type Reaction struct {
	Kind  string   // Entered, Left or Dwelled
	Label string   // dwell only: after-<ms> or every-<ms>
	After Duration // dwell only: once, this long after joining
	Every Duration // dwell only: every interval of membership
	// Journey is the generated journey (id bucket-<id>-on-enter|leave|dwell-<label>).
	Journey *journey.Journey
}

// Transition is what a reaction knows of the transition that started it.
type Transition struct {
	Kind         string
	EntryCount   int  // the membership's epoch (1 = first ever)
	IsFirstEntry bool // EntryCount == 1
	Reason       string
	DwellCount   int
}

// ReactionFunc is a reaction's code: a journey body with the transition.
type ReactionFunc func(ctx journey.Context, u journey.User, t Transition) error

// EnterOptions filter an enter reaction; a filtered-out run enrols and completes at once.
type EnterOptions struct {
	FirstEntryOnly bool
}

// LeaveOptions filter a leave reaction by reason (ReasonCriteria, ReasonMaxDwell,
// ReasonManual); empty = every reason.
type LeaveOptions struct {
	Reasons []string
}

// DwellOptions schedule a dwell reaction: exactly one of After (once) and Every (each interval).
type DwellOptions struct {
	After, Every Duration
}

// OnEnter adds a journey run when a contact joins.
func (b *Bucket) OnEnter(opts EnterOptions, run ReactionFunc) *Bucket {
	return b.react(Reaction{Kind: Entered}, "on-enter", b.Entered(), run, func(t Transition) bool {
		return !opts.FirstEntryOnly || t.IsFirstEntry
	})
}

// OnLeave adds a journey run when a contact leaves.
func (b *Bucket) OnLeave(opts LeaveOptions, run ReactionFunc) *Bucket {
	return b.react(Reaction{Kind: Left}, "on-leave", b.Left(), run, func(t Transition) bool {
		return len(opts.Reasons) == 0 || slices.Contains(opts.Reasons, t.Reason)
	})
}

// OnDwell adds a journey run when a membership reaches an age (After) or each interval of it
// (Every), as the reconcile sweep finds it.
func (b *Bucket) OnDwell(opts DwellOptions, run ReactionFunc) *Bucket {
	if opts.After.IsZero() == opts.Every.IsZero() {
		b.problems = append(b.problems, "a dwell reaction needs exactly one of After and Every")
		return b
	}
	r := Reaction{Kind: Dwelled, After: opts.After, Every: opts.Every, Label: DwellLabel(true, opts.Every)}
	if opts.Every.IsZero() {
		r.Label = DwellLabel(false, opts.After)
	}
	return b.react(r, "on-dwell-"+r.Label, DwellEvent(b.ID, r.Label), run, func(Transition) bool { return true })
}

func (b *Bucket) react(r Reaction, suffix, event string, run ReactionFunc, keep func(Transition) bool) *Bucket {
	if run == nil {
		b.problems = append(b.problems, fmt.Sprintf("the %s reaction has no handler", r.Kind))
		return b
	}
	kind := map[string]string{Entered: "enter", Left: "leave", Dwelled: "dwell"}[r.Kind]
	j, err := journey.Define(journey.Meta{ID: "bucket-" + b.ID + "-" + suffix, Name: b.Name + " — on " + kind,
		Enabled: b.Enabled, EntryLimit: journey.EntryUnlimited, Trigger: journey.Trigger{Event: event}},
		func(ctx journey.Context, u journey.User) error {
			t := transitionOf(r.Kind, u.Properties)
			if !keep(t) {
				return nil
			}
			return run(ctx, u, t)
		})
	if err != nil {
		b.problems = append(b.problems, err.Error())
		return b
	}
	r.Journey = j
	b.reactions = append(b.reactions, r)
	return b
}

// transitionOf reads the transition event's properties (as journeys see them).
func transitionOf(kind string, props map[string]any) Transition {
	count := func(key string) int {
		if f, ok := props[key].(float64); ok && f >= 1 {
			return int(f)
		}
		return 1
	}
	t := Transition{Kind: kind, EntryCount: count("entryCount"), Reason: ReasonCriteria}
	t.IsFirstEntry = t.EntryCount == 1
	if r, ok := props["reason"].(string); ok && r != "" {
		t.Reason = r
	}
	if kind == Dwelled {
		t.DwellCount = count("dwellCount")
	}
	return t
}

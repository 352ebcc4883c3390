package condition

import (
	"context"
	"time"
)

// Facts are what a full evaluation needs to know beyond a property bag: a user's events and
// sends. The engine answers them from its database; tests answer them from memory.
type Facts interface {
	// EventCount counts the user's events named name, at or after since (nil = all time).
	EventCount(ctx context.Context, name string, since *time.Time) (int, error)
	// LatestSend is the most recent send of a template to the user: found false when none.
	LatestSend(ctx context.Context, templateKey string) (found, opened, clicked bool, err error)
}

// Evaluate decides a condition for one user: properties from props (no dotted paths), events
// and sends from facts, windows measured back from now. Composites short-circuit left to right;
// an empty "and" is true, an empty "or" false, an unknown operator false.
func Evaluate(ctx context.Context, c Condition, props map[string]any, facts Facts, now time.Time) (bool, error) {
	switch n := c.(type) {
	case Property:
		return n.Matches(props), nil
	case EventLeaf:
		var since *time.Time
		if n.Within != nil {
			t := now.Add(-n.Within.Duration())
			since = &t
		}
		count, err := facts.EventCount(ctx, n.Name, since)
		if err != nil {
			return false, err
		}
		return n.MatchCount(count), nil
	case EngagementLeaf:
		found, opened, clicked, err := facts.LatestSend(ctx, n.TemplateKey)
		if err != nil || !found {
			return false, err
		}
		switch n.Check {
		case Opened:
			return opened, nil
		case Clicked:
			return clicked, nil
		case NotOpened:
			return !opened, nil
		case NotClicked:
			return !clicked, nil
		}
		return false, nil
	case Composite:
		for _, child := range n.Conditions {
			ok, err := Evaluate(ctx, child, props, facts, now)
			if err != nil {
				return false, err
			}
			switch {
			case n.Op == "and" && !ok:
				return false, nil
			case n.Op == "or" && ok:
				return true, nil
			}
		}
		return n.Op == "and", nil
	}
	return false, nil
}

// MatchCount applies the leaf's check to a count of events: exists is more than none,
// not_exists none, count the operator against the value (more than none without them).
func (e EventLeaf) MatchCount(n int) bool {
	switch e.Check {
	case EventExists:
		return n > 0
	case EventNotExists:
		return n == 0
	case EventCount:
		if e.Op == "" || e.Value == nil {
			return n > 0
		}
		v, c := *e.Value, float64(n)
		switch e.Op {
		case CountGt:
			return c > v
		case CountGte:
			return c >= v
		case CountLt:
			return c < v
		case CountLte:
			return c <= v
		case CountEq:
			return c == v
		}
	}
	return false
}

// Duration is the window as a time.Duration.
func (d Duration) Duration() time.Duration {
	return time.Duration(d.Milliseconds() * float64(time.Millisecond))
}

// IsZero reports a window with no part set.
func (d Duration) IsZero() bool { return d.Hours == nil && d.Minutes == nil && d.Seconds == nil }

// Walk visits c and every condition below it, depth first, parents before children.
func Walk(c Condition, visit func(Condition)) {
	if c == nil {
		return
	}
	visit(c)
	if comp, ok := c.(Composite); ok {
		for _, child := range comp.Conditions {
			Walk(child, visit)
		}
	}
}

// Leaves are the non-composite conditions of c, depth first.
func Leaves(c Condition) []Condition {
	var out []Condition
	Walk(c, func(n Condition) {
		if _, comp := n.(Composite); !comp {
			out = append(out, n)
		}
	})
	return out
}

// FirstWindow is the window of the first windowed event leaf, depth first; nil when none.
func FirstWindow(c Condition) *Duration {
	for _, l := range Leaves(c) {
		if e, ok := l.(EventLeaf); ok && e.Within != nil {
			return e.Within
		}
	}
	return nil
}

// Negative reports a leaf that only ever says what a user has not: property neq / not_exists,
// an event not_exists without a window, an email not_opened / not_clicked. A windowed
// not_exists is positive: it anchors on a past event (dormancy).
func Negative(leaf Condition) bool {
	switch n := leaf.(type) {
	case Property:
		return n.Op == Neq || n.Op == NotExists
	case EventLeaf:
		return n.Check == EventNotExists && n.Within == nil
	case EngagementLeaf:
		return n.Check == NotOpened || n.Check == NotClicked
	}
	return false
}

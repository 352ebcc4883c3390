// Package condition is the condition language of buckets and journey triggers: a tagged union
// of four kinds — Property, EventLeaf, EngagementLeaf and Composite — whose JSON is exactly the
// reference's (admin responses echo it and criteria hashes cover it), builder functions that
// produce it, and the pure evaluation of property conditions. Stdlib only; safe in workflow code.
//
//	condition.All(
//		condition.Prop("plan").Eq("pro"),
//		condition.Event("app.active").Within(condition.Days(30)).NotExists(),
//	)
package condition

import (
	"encoding/json"
	"fmt"
)

// Condition is one node of the language.
type Condition interface {
	json.Marshaler
	conditionType() string
}

// PropertyOp compares a property with a value.
type PropertyOp string

// Property operators.
const (
	Eq        PropertyOp = "eq"
	Neq       PropertyOp = "neq"
	Gt        PropertyOp = "gt"
	Gte       PropertyOp = "gte"
	Lt        PropertyOp = "lt"
	Lte       PropertyOp = "lte"
	Exists    PropertyOp = "exists"
	NotExists PropertyOp = "not_exists"
	Contains  PropertyOp = "contains"
)

var propertyOps = []PropertyOp{Eq, Neq, Gt, Gte, Lt, Lte, Exists, NotExists, Contains}

// Property tests one top-level key of a property bag (no dotted paths).
type Property struct {
	Name string
	Op   PropertyOp
	// Value is a string, a float64 or a bool; HasValue says whether it is set (so that
	// Eq(false) and Eq(0) keep their value while Exists() has none).
	Value    any
	HasValue bool
}

func (Property) conditionType() string { return "property" }

// MarshalJSON writes {"type":"property","property":…,"operator":…[,"value":…]}.
func (p Property) MarshalJSON() ([]byte, error) {
	var value json.RawMessage // stays absent unless HasValue (false and 0 are kept)
	if p.HasValue {
		var err error
		if value, err = json.Marshal(p.Value); err != nil {
			return nil, err
		}
	}
	return json.Marshal(struct {
		Type     string          `json:"type"`
		Property string          `json:"property"`
		Operator PropertyOp      `json:"operator"`
		Value    json.RawMessage `json:"value,omitempty"`
	}{"property", p.Name, p.Op, value})
}

// EventCheck is what an event leaf asks of a user's events.
type EventCheck string

// Event checks.
const (
	EventExists    EventCheck = "exists"
	EventNotExists EventCheck = "not_exists"
	EventCount     EventCheck = "count"
)

// CountOp compares an event count.
type CountOp string

// Count operators.
const (
	CountGt  CountOp = "gt"
	CountGte CountOp = "gte"
	CountLt  CountOp = "lt"
	CountLte CountOp = "lte"
	CountEq  CountOp = "eq"
)

// EventLeaf tests whether (or how often) a user had an event, optionally within a window.
type EventLeaf struct {
	Name   string
	Check  EventCheck
	Op     CountOp  // "" = absent
	Value  *float64 // nil = absent
	Within *Duration
}

func (EventLeaf) conditionType() string { return "event" }

// MarshalJSON writes the reference shape; absent fields have no key.
func (e EventLeaf) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type      string     `json:"type"`
		EventName string     `json:"eventName"`
		Check     EventCheck `json:"check"`
		Operator  CountOp    `json:"operator,omitempty"`
		Value     *float64   `json:"value,omitempty"`
		Within    *Duration  `json:"within,omitempty"`
	}{"event", e.Name, e.Check, e.Op, e.Value, e.Within})
}

// EngagementCheck is what an email-engagement leaf asks of the latest send of a template.
type EngagementCheck string

// Engagement checks.
const (
	Opened     EngagementCheck = "opened"
	Clicked    EngagementCheck = "clicked"
	NotOpened  EngagementCheck = "not_opened"
	NotClicked EngagementCheck = "not_clicked"
)

// EngagementLeaf tests the most recent send of a template to the user.
type EngagementLeaf struct {
	TemplateKey string
	Check       EngagementCheck
}

func (EngagementLeaf) conditionType() string { return "email_engagement" }

// MarshalJSON writes {"type":"email_engagement","templateKey":…,"check":…}.
func (e EngagementLeaf) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type        string          `json:"type"`
		TemplateKey string          `json:"templateKey"`
		Check       EngagementCheck `json:"check"`
	}{"email_engagement", e.TemplateKey, e.Check})
}

// Composite combines conditions with and/or (there is no "not": negation is in the leaves).
type Composite struct {
	Op         string // "and" | "or"
	Conditions []Condition
}

func (Composite) conditionType() string { return "composite" }

// MarshalJSON writes {"type":"composite","operator":…,"conditions":[…]}.
func (c Composite) MarshalJSON() ([]byte, error) {
	conds := c.Conditions
	if conds == nil {
		conds = []Condition{}
	}
	return json.Marshal(struct {
		Type       string      `json:"type"`
		Operator   string      `json:"operator"`
		Conditions []Condition `json:"conditions"`
	}{"composite", c.Op, conds})
}

// Duration is the reference's window object; it has no days key (30 days is {"hours":720}).
type Duration struct {
	Hours   *float64 `json:"hours,omitempty"`
	Minutes *float64 `json:"minutes,omitempty"`
	Seconds *float64 `json:"seconds,omitempty"`
}

// Days is n×24 hours.
func Days(n float64) Duration { h := 24 * n; return Duration{Hours: &h} }

// Hours is n hours.
func Hours(n float64) Duration { return Duration{Hours: &n} }

// Minutes is n minutes.
func Minutes(n float64) Duration { return Duration{Minutes: &n} }

// Seconds is n seconds.
func Seconds(n float64) Duration { return Duration{Seconds: &n} }

// Milliseconds is the window's length (missing parts are 0; fractions allowed).
func (d Duration) Milliseconds() float64 {
	v := func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return v(d.Hours)*3_600_000 + v(d.Minutes)*60_000 + v(d.Seconds)*1_000
}

// scalar normalises a definition-time value to string, float64 or bool.
func scalar(v any) (any, error) {
	switch x := v.(type) {
	case string, bool, float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	}
	return nil, fmt.Errorf("condition value %v (%T) must be a string, number or bool", v, v)
}

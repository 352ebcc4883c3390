package condition

// PropBuilder builds a property condition: Prop("plan").Eq("trial").
type PropBuilder struct{ name string }

// Prop starts a condition on a top-level property.
func Prop(name string) PropBuilder { return PropBuilder{name: name} }

// with builds a leaf with a value. Values are checked at definition time: a value that is not
// a string, number or bool panics, like every Must… definition error.
func (b PropBuilder) with(op PropertyOp, v any) Property {
	s, err := scalar(v)
	if err != nil {
		panic(err)
	}
	return Property{Name: b.name, Op: op, Value: s, HasValue: true}
}

func (b PropBuilder) number(op PropertyOp, v any) Property {
	p := b.with(op, v)
	if _, ok := p.Value.(float64); !ok {
		panic("condition: " + string(op) + " takes a number")
	}
	return p
}

// Eq matches an equal value of the same type ("true" never matches true).
func (b PropBuilder) Eq(v any) Property { return b.with(Eq, v) }

// Neq matches anything but an equal value (a missing property included).
func (b PropBuilder) Neq(v any) Property { return b.with(Neq, v) }

// Contains matches a string property holding v as a substring.
func (b PropBuilder) Contains(v string) Property { return b.with(Contains, v) }

// Gt matches a number property above n.
func (b PropBuilder) Gt(n any) Property { return b.number(Gt, n) }

// Gte matches a number property at or above n.
func (b PropBuilder) Gte(n any) Property { return b.number(Gte, n) }

// Lt matches a number property below n.
func (b PropBuilder) Lt(n any) Property { return b.number(Lt, n) }

// Lte matches a number property at or below n.
func (b PropBuilder) Lte(n any) Property { return b.number(Lte, n) }

// Exists matches a present, non-null property.
func (b PropBuilder) Exists() Property { return Property{Name: b.name, Op: Exists} }

// NotExists matches an absent or null property.
func (b PropBuilder) NotExists() Property { return Property{Name: b.name, Op: NotExists} }

// EventBuilder builds an event condition: Event("app.active").Within(Days(30)).AtLeast(10).
type EventBuilder struct {
	name   string
	within *Duration
}

// Event starts a condition on a user's events of one name.
func Event(name string) EventBuilder { return EventBuilder{name: name} }

// Within limits the condition to events in the window before now; it returns a new builder.
func (b EventBuilder) Within(d Duration) EventBuilder {
	b.within = &d
	return b
}

// Exists matches when there is at least one such event.
func (b EventBuilder) Exists() EventLeaf {
	return EventLeaf{Name: b.name, Check: EventExists, Within: b.within}
}

// NotExists matches when there is none.
func (b EventBuilder) NotExists() EventLeaf {
	return EventLeaf{Name: b.name, Check: EventNotExists, Within: b.within}
}

// Count matches when the number of such events compares to n with op.
func (b EventBuilder) Count(op CountOp, n float64) EventLeaf {
	return EventLeaf{Name: b.name, Check: EventCount, Op: op, Value: &n, Within: b.within}
}

// AtLeast is Count(gte, n).
func (b EventBuilder) AtLeast(n float64) EventLeaf { return b.Count(CountGte, n) }

// MoreThan is Count(gt, n).
func (b EventBuilder) MoreThan(n float64) EventLeaf { return b.Count(CountGt, n) }

// AtMost is Count(lte, n).
func (b EventBuilder) AtMost(n float64) EventLeaf { return b.Count(CountLte, n) }

// LessThan is Count(lt, n).
func (b EventBuilder) LessThan(n float64) EventLeaf { return b.Count(CountLt, n) }

// Exactly is Count(eq, n).
func (b EventBuilder) Exactly(n float64) EventLeaf { return b.Count(CountEq, n) }

// EmailEngaged builds an email-engagement condition on the latest send of a template.
func EmailEngaged(templateKey string, check EngagementCheck) EngagementLeaf {
	return EngagementLeaf{TemplateKey: templateKey, Check: check}
}

// All is the composite "and" (empty: true).
func All(conds ...Condition) Composite { return Composite{Op: "and", Conditions: conds} }

// Any is the composite "or" (empty: false).
func Any(conds ...Condition) Composite { return Composite{Op: "or", Conditions: conds} }

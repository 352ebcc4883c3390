package condition

import (
	"encoding/json"
	"strings"
)

// Matches evaluates a property condition against a flat property bag with JavaScript strict
// equality on JSON values: same type and equal (numbers numerically), numeric comparisons only
// between numbers, contains only between strings, missing or null never equal to anything.
func (p Property) Matches(props map[string]any) bool {
	actual, present := props[p.Name]
	if actual == nil {
		present = false
	}
	switch p.Op {
	case Exists:
		return present
	case NotExists:
		return !present
	case Eq:
		return present && p.HasValue && equal(actual, p.Value)
	case Neq:
		return !(present && p.HasValue && equal(actual, p.Value))
	case Gt, Gte, Lt, Lte:
		a, okA := number(actual)
		v, okV := number(p.Value)
		if !present || !okA || !okV {
			return false
		}
		switch p.Op {
		case Gt:
			return a > v
		case Gte:
			return a >= v
		case Lt:
			return a < v
		}
		return a <= v
	case Contains:
		a, okA := actual.(string)
		v, okV := p.Value.(string)
		return okA && okV && strings.Contains(a, v)
	}
	return false
}

// MatchAll reports whether every condition matches (an empty list matches).
func MatchAll(conds []Property, props map[string]any) bool {
	for _, c := range conds {
		if !c.Matches(props) {
			return false
		}
	}
	return true
}

func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false // objects and arrays never equal
}

// number reads any Go or JSON number as float64; strings are not numbers.
func number(v any) (float64, bool) {
	switch v.(type) {
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		s, err := scalar(v)
		if err != nil {
			return 0, false
		}
		f, ok := s.(float64)
		return f, ok
	}
	return 0, false
}

package condition

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// Parse reads a condition from its JSON form. Unknown keys are dropped; an unknown type or
// enum value, or a wrongly typed field, is an error.
func Parse(data []byte) (Condition, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("condition: %w", err)
	}
	switch head.Type {
	case "property":
		var raw struct {
			Property string          `json:"property"`
			Operator PropertyOp      `json:"operator"`
			Value    json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("property condition: %w", err)
		}
		if !slices.Contains(propertyOps, raw.Operator) {
			return nil, fmt.Errorf("property condition: unknown operator %q", raw.Operator)
		}
		p := Property{Name: raw.Property, Op: raw.Operator}
		if len(raw.Value) > 0 && string(raw.Value) != "null" {
			var v any
			if err := json.Unmarshal(raw.Value, &v); err != nil {
				return nil, err
			}
			s, err := scalar(v)
			if err != nil {
				return nil, fmt.Errorf("property condition: %w", err)
			}
			p.Value, p.HasValue = s, true
		}
		return p, nil
	case "event":
		var raw struct {
			EventName string     `json:"eventName"`
			Check     EventCheck `json:"check"`
			Operator  CountOp    `json:"operator"`
			Value     *float64   `json:"value"`
			Within    *Duration  `json:"within"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("event condition: %w", err)
		}
		if !slices.Contains([]EventCheck{EventExists, EventNotExists, EventCount}, raw.Check) {
			return nil, fmt.Errorf("event condition: unknown check %q", raw.Check)
		}
		if raw.Operator != "" && !slices.Contains([]CountOp{CountGt, CountGte, CountLt, CountLte, CountEq}, raw.Operator) {
			return nil, fmt.Errorf("event condition: unknown operator %q", raw.Operator)
		}
		return EventLeaf{Name: raw.EventName, Check: raw.Check, Op: raw.Operator, Value: raw.Value, Within: raw.Within}, nil
	case "email_engagement":
		var raw struct {
			TemplateKey string          `json:"templateKey"`
			Check       EngagementCheck `json:"check"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("email engagement condition: %w", err)
		}
		if !slices.Contains([]EngagementCheck{Opened, Clicked, NotOpened, NotClicked}, raw.Check) {
			return nil, fmt.Errorf("email engagement condition: unknown check %q", raw.Check)
		}
		return EngagementLeaf{TemplateKey: raw.TemplateKey, Check: raw.Check}, nil
	case "composite":
		var raw struct {
			Operator   string            `json:"operator"`
			Conditions []json.RawMessage `json:"conditions"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("composite condition: %w", err)
		}
		if raw.Operator != "and" && raw.Operator != "or" {
			return nil, fmt.Errorf("composite condition: unknown operator %q", raw.Operator)
		}
		c := Composite{Op: raw.Operator, Conditions: make([]Condition, 0, len(raw.Conditions))}
		for _, r := range raw.Conditions {
			child, err := Parse(r)
			if err != nil {
				return nil, err
			}
			c.Conditions = append(c.Conditions, child)
		}
		return c, nil
	}
	return nil, fmt.Errorf("condition: unknown type %q", head.Type)
}

// Hash is the SHA-256 (hex) of the condition's canonical JSON: keys sorted, no whitespace, no
// HTML escaping, numbers in their shortest form. A nil condition hashes as null. A changed hash
// is what triggers a bucket's re-evaluation.
func Hash(c Condition) (string, error) {
	var canonical any
	if c != nil {
		raw, err := json.Marshal(c)
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(raw, &canonical); err != nil { // maps re-encode with sorted keys
			return "", err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(canonical); err != nil {
		return "", err
	}
	sum := sha256.Sum256(bytes.TrimRight(buf.Bytes(), "\n"))
	return hex.EncodeToString(sum[:]), nil
}

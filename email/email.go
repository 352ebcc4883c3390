// Package email holds the public email definitions: typed template handles, the template
// registry with its email-safe component kit, categories and props. It has no engine
// dependencies: the send pipeline and the providers live elsewhere.
package email

import (
	"encoding/json"
	"fmt"
)

// Category decides which preferences and caps apply to a send: one of the constants below, or
// the id of a list.
type Category string

// Categories.
const (
	CategoryNone          Category = ""
	CategoryJourney       Category = "journey"
	CategoryTransactional Category = "transactional"
	CategoryCampaign      Category = "campaign"
)

// Props are what a template renders: its props struct's JSON fields, plus what the engine adds
// (unsubscribeUrl, and name/journeyName/eventName/body on journey sends).
type Props = map[string]any

// Template is a typed handle on a registered template: P is its props type, so code that passes
// the wrong props does not compile.
type Template[P any] struct {
	Key string
}

// PropsOf turns typed props (a struct with JSON tags, or a map) into Props.
func PropsOf(props any) (Props, error) {
	b, err := json.Marshal(props)
	if err != nil {
		return nil, fmt.Errorf("encode props: %w", err)
	}
	m := Props{}
	if string(b) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("props must encode as a JSON object: %w", err)
	}
	return m, nil
}

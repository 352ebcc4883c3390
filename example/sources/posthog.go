// Package sources holds the example app's inbound webhook sources: how an application turns a
// provider's webhook into events with the webhook package.
package sources

import (
	"context"

	"github.com/hogsend/hogsend/webhook"
)

// All are the example app's sources.
func All() []*webhook.Source { return []*webhook.Source{PostHog()} }

type posthogPayload struct {
	Event *struct {
		Event      *string             `json:"event"`
		DistinctID *string             `json:"distinct_id"`
		UUID       webhook.Opt[string] `json:"uuid"`
		Timestamp  webhook.Opt[string] `json:"timestamp"`
		URL        webhook.Opt[string] `json:"url"`
		Properties map[string]any      `json:"properties"`
	} `json:"event"`
	Person *struct {
		ID         webhook.Opt[string] `json:"id"`
		Name       webhook.Opt[string] `json:"name"`
		URL        webhook.Opt[string] `json:"url"`
		Properties map[string]any      `json:"properties"`
	} `json:"person"`
	Groups  map[string]any `json:"groups"`
	Project map[string]any `json:"project"`
}

func (p *posthogPayload) Validate(is *webhook.Issues) {
	if p.Event == nil {
		is.Field("event", "Required")
		return
	}
	is.Required("event.event", p.Event.Event)
	is.Required("event.distinct_id", p.Event.DistinctID)
	if p.Person == nil {
		return
	}
	if email, set := p.Person.Properties["email"]; set {
		if _, ok := email.(string); !ok {
			is.Field("person.properties.email", "Expected string")
		}
	}
}

// PostHog receives a PostHog webhook destination: each captured event is ingested under its
// distinct_id, with the person's properties merged onto the contact. Auth is a shared secret
// in x-posthog-webhook-secret (or a bearer token); with POSTHOG_WEBHOOK_SECRET unset it is open.
func PostHog() *webhook.Source {
	return webhook.Define(webhook.Source{
		ID: "posthog", Name: "PostHog", Description: "PostHog webhook destination events",
		Auth: webhook.Auth{Kind: webhook.AuthMatch, Header: "x-posthog-webhook-secret", EnvKey: "POSTHOG_WEBHOOK_SECRET"},
	}, func(_ context.Context, p *posthogPayload, _ webhook.Context) (*webhook.Event, error) {
		ev := &webhook.Event{Name: *p.Event.Event, UserID: *p.Event.DistinctID,
			EventProperties: webhook.Merge(p.Event.Properties), ContactProperties: map[string]any{}}
		if p.Event.UUID.Value != "" {
			ev.EventProperties["_posthogEventId"] = p.Event.UUID.Value
		}
		if p.Person != nil && p.Person.Properties != nil {
			ev.UserEmail, _ = p.Person.Properties["email"].(string)
			ev.ContactProperties = p.Person.Properties // email included
		}
		return ev, nil
	})
}

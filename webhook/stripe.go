package webhook

import (
	"context"
	"strings"
)

type stripePayload struct {
	ID   *string `json:"id"`
	Type *string `json:"type"`
	Data *struct {
		Object *stripeObject `json:"object"`
	} `json:"data"`
}

type stripeObject struct {
	ID       *string        `json:"id"`
	Object   *string        `json:"object"`
	Customer *string        `json:"customer"`
	Email    *string        `json:"email"`
	Name     *string        `json:"name"`
	Phone    *string        `json:"phone"`
	Metadata map[string]any `json:"metadata"`
}

func (p *stripePayload) Validate(is *Issues) {
	is.Required("id", p.ID)
	is.Required("type", p.Type)
	if p.Data == nil || p.Data.Object == nil {
		is.Field("data.object", "Required")
	}
}

// stripeEvent maps a Stripe event type to an event name and whether it carries the profile;
// "" = not mapped.
func stripeEvent(kind string) (name string, profile bool) {
	switch {
	case kind == "customer.created":
		return "contact.created", true
	case kind == "customer.updated":
		return "contact.updated", true
	case kind == "customer.deleted":
		return "contact.deleted", false
	case strings.HasPrefix(kind, "customer.subscription."):
		return "subscription." + strings.TrimPrefix(kind, "customer.subscription."), false
	case strings.HasPrefix(kind, "invoice."):
		return kind, false
	}
	return "", false
}

// Stripe is the preset for Stripe customer, subscription and invoice events; the Stripe event
// id is the idempotency key, so a redelivery stores nothing.
func Stripe() *Source {
	return Define(Source{
		ID: "stripe", Name: "Stripe", Description: "Stripe customer.*, customer.subscription.* and invoice.* events",
		Auth: Auth{Kind: AuthSignature, Scheme: SchemeStripe, EnvKey: "STRIPE_WEBHOOK_SECRET", Header: "stripe-signature"},
	}, func(_ context.Context, p *stripePayload, _ Context) (*Event, error) {
		kind, obj := *p.Type, p.Data.Object
		name, profile := stripeEvent(kind)
		if name == "" {
			return nil, Skip("Stripe event %q is not mapped", kind)
		}
		user := obj.ID
		if !strings.HasPrefix(name, "contact.") { // subscriptions and invoices name their customer
			user = obj.Customer
		}
		if Str(user) == "" {
			return nil, Skip("Stripe %s without a customer", kind)
		}
		props := map[string]any{"source": "stripe", "stripeCustomerId": *user, "stripeEventId": *p.ID, "_stripeEvent": kind}
		if obj.Object != nil {
			props["stripeObject"] = *obj.Object
		}
		contact := map[string]any{}
		if profile {
			contact = Merge(obj.Metadata)
			if obj.Name != nil {
				contact["name"] = *obj.Name
			}
			if obj.Phone != nil {
				contact["phone"] = *obj.Phone
			}
			contact["stripeCustomerId"] = *user
		}
		return &Event{Name: name, UserID: *user, UserEmail: Str(obj.Email), EventProperties: props,
			ContactProperties: contact, IdempotencyKey: *p.ID}, nil
	})
}

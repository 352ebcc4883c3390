package webhook

import "context"

type segmentPayload struct {
	Type        *string        `json:"type"`
	Event       *string        `json:"event"`
	MessageID   *string        `json:"messageId"`
	UserID      *string        `json:"userId"`
	AnonymousID *string        `json:"anonymousId"`
	Traits      map[string]any `json:"traits"`
	Properties  map[string]any `json:"properties"`
	Context     *struct {
		Traits map[string]any `json:"traits"`
	} `json:"context"`
}

func (p *segmentPayload) Validate(is *Issues) { is.Required("type", p.Type) }

// Segment is the preset for a Segment webhook destination: identify and track calls, signed
// with a hex HMAC of the body in x-signature; messageId is the idempotency key.
func Segment() *Source {
	return Define(Source{
		ID: "segment", Name: "Segment", Description: "Segment identify and track calls",
		Auth: Auth{Kind: AuthSignature, Scheme: SchemeHMACHex, EnvKey: "SEGMENT_WEBHOOK_SECRET", Header: "x-signature"},
	}, func(_ context.Context, p *segmentPayload, _ Context) (*Event, error) {
		user := p.UserID // an empty userId does not fall back to anonymousId
		if user == nil {
			user = p.AnonymousID
		}
		if Str(user) == "" {
			return nil, Skip("Segment %s without userId or anonymousId", *p.Type)
		}
		var contextTraits map[string]any
		if p.Context != nil {
			contextTraits = p.Context.Traits
		}
		email, ok := p.Traits["email"].(string)
		if !ok {
			email, _ = contextTraits["email"].(string)
		}
		ev := &Event{UserID: *user, UserEmail: email, IdempotencyKey: Str(p.MessageID), ContactProperties: map[string]any{}}
		switch *p.Type {
		case "identify":
			traits := p.Traits
			if traits == nil {
				traits = contextTraits
			}
			ev.Name = "contact.updated"
			ev.ContactProperties = Merge(traits, map[string]any{"source": "segment"})
			ev.EventProperties = map[string]any{"source": "segment", "_segmentType": "identify"}
		case "track":
			if Str(p.Event) == "" {
				return nil, Skip("Segment track without an event name")
			}
			ev.Name = *p.Event
			ev.EventProperties = Merge(p.Properties, map[string]any{"source": "segment"})
		default:
			return nil, Skip("Segment %s calls are not mapped", *p.Type)
		}
		return ev, nil
	})
}

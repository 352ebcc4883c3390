package webhook

import "context"

type clerkPayload struct {
	Type   *string    `json:"type"`
	Object *string    `json:"object"`
	Data   *clerkData `json:"data"`
}

type clerkData struct {
	ID                    *string `json:"id"`
	EmailAddress          any     `json:"email_address"` // waitlist entries; used when a string
	PrimaryEmailAddressID *string `json:"primary_email_address_id"`
	EmailAddresses        []struct {
		ID           *string `json:"id"`
		EmailAddress *string `json:"email_address"`
	} `json:"email_addresses"`
	FirstName       *string `json:"first_name"`
	LastName        *string `json:"last_name"`
	ImageURL        any     `json:"image_url"`
	ProfileImageURL any     `json:"profile_image_url"`
	PublicMetadata  any     `json:"public_metadata"`
}

func (p *clerkPayload) Validate(is *Issues) { is.Required("type", p.Type) }

// primaryEmail is the address whose id is the primary one, else the first address, else "".
func (d *clerkData) primaryEmail() string {
	for _, e := range d.EmailAddresses {
		if d.PrimaryEmailAddressID != nil && e.ID != nil && *e.ID == *d.PrimaryEmailAddressID && Str(e.EmailAddress) != "" {
			return *e.EmailAddress
		}
	}
	if len(d.EmailAddresses) > 0 {
		return Str(d.EmailAddresses[0].EmailAddress)
	}
	return ""
}

var clerkEvents = map[string]string{
	"user.created": "contact.created",
	"user.updated": "contact.updated",
	"user.deleted": "contact.deleted",
}

// Clerk is the preset for Clerk's user and waitlist webhooks (svix-signed).
func Clerk() *Source {
	return Define(Source{
		ID: "clerk", Name: "Clerk", Description: "Clerk user.created/updated/deleted and waitlistEntry.created",
		Auth: Auth{Kind: AuthSignature, Scheme: SchemeSvix, EnvKey: "CLERK_WEBHOOK_SECRET", Header: "svix-signature"},
	}, func(_ context.Context, p *clerkPayload, _ Context) (*Event, error) {
		kind := *p.Type
		d := p.Data
		if d == nil {
			d = &clerkData{}
		}
		if kind == "waitlistEntry.created" {
			email, _ := d.EmailAddress.(string)
			user := email
			if d.ID != nil {
				user = *d.ID
			}
			if user == "" {
				return nil, Skip("waitlist entry without an id or email address")
			}
			return &Event{Name: "waitlist.joined", UserID: user, UserEmail: email,
				EventProperties:   map[string]any{"source": "clerk", "_clerkEvent": kind},
				ContactProperties: map[string]any{}}, nil
		}
		name, ok := clerkEvents[kind]
		if !ok {
			return nil, Skip("Clerk event %q is not mapped", kind)
		}
		if d.ID == nil || *d.ID == "" {
			return nil, Skip("Clerk %s without data.id", kind)
		}
		user := *d.ID
		ev := &Event{Name: name, UserID: user, UserEmail: d.primaryEmail(),
			EventProperties:   map[string]any{"source": "clerk", "clerkUserId": user, "_clerkEvent": kind},
			ContactProperties: map[string]any{}}
		if kind == "user.deleted" {
			return ev, nil
		}
		props := Merge(Object(d.PublicMetadata))
		if d.FirstName != nil {
			props["firstName"] = *d.FirstName
		}
		if d.LastName != nil {
			props["lastName"] = *d.LastName
		}
		avatar, isString := d.ImageURL.(string)
		if !isString {
			avatar, _ = d.ProfileImageURL.(string)
		}
		if avatar != "" {
			props["avatarUrl"] = avatar
		}
		props["clerkUserId"] = user
		ev.ContactProperties = props
		return ev, nil
	})
}

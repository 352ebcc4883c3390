package webhook

import "context"

type supabasePayload struct {
	Type      *string      `json:"type"`
	Table     *string      `json:"table"`
	Schema    *string      `json:"schema"`
	Record    *supabaseRow `json:"record"`
	OldRecord *supabaseRow `json:"old_record"`
}

type supabaseRow struct {
	ID               *string        `json:"id"`
	Email            *string        `json:"email"`
	Phone            *string        `json:"phone"`
	EmailConfirmedAt *string        `json:"email_confirmed_at"`
	RawUserMetaData  map[string]any `json:"raw_user_meta_data"`
}

var supabaseEvents = map[string]string{
	"INSERT": "contact.created",
	"UPDATE": "contact.updated",
	"DELETE": "contact.deleted",
}

func (p *supabasePayload) Validate(is *Issues) {
	if p.Type == nil {
		is.Required("type", p.Type)
	} else if _, ok := supabaseEvents[*p.Type]; !ok {
		is.Field("type", "Invalid enum value. Expected 'INSERT' | 'UPDATE' | 'DELETE', received '%s'", *p.Type)
	}
	is.Required("table", p.Table)
	is.Required("schema", p.Schema)
}

// Supabase is the preset for database webhooks on auth.users: signed with svix, or (what
// Supabase database webhooks actually do) carrying the secret in x-supabase-webhook-secret.
func Supabase() *Source {
	return Define(Source{
		ID: "supabase", Name: "Supabase", Description: "auth.users INSERT/UPDATE/DELETE database webhooks",
		Auth: Auth{Kind: AuthSignature, Scheme: SchemeSvix, EnvKey: "SUPABASE_WEBHOOK_SECRET", Header: "svix-signature",
			FallbackMatchHeader: "x-supabase-webhook-secret"},
	}, func(_ context.Context, p *supabasePayload, _ Context) (*Event, error) {
		if *p.Schema != "auth" || *p.Table != "users" {
			return nil, Skip("table %s.%s is not auth.users", *p.Schema, *p.Table)
		}
		kind := *p.Type
		row := p.Record
		if kind == "DELETE" || row == nil {
			row = p.OldRecord
		}
		if kind == "DELETE" && row == nil {
			row = p.Record
		}
		if row == nil || row.ID == nil || *row.ID == "" {
			return nil, Skip("%s without a row id", kind)
		}
		user := *row.ID
		ev := &Event{Name: supabaseEvents[kind], UserID: user, UserEmail: Str(row.Email),
			EventProperties:   map[string]any{"source": "supabase", "supabaseUserId": user, "_supabaseEvent": kind},
			ContactProperties: map[string]any{}}
		if kind == "DELETE" {
			return ev, nil
		}
		props := Merge(row.RawUserMetaData)
		if row.Phone != nil {
			props["phone"] = *row.Phone
		}
		props["emailVerified"] = Str(row.EmailConfirmedAt) != ""
		props["supabaseUserId"] = user
		ev.ContactProperties = props
		return ev, nil
	})
}

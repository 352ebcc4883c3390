package webhook

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// run decodes and transforms body the way the route does.
func run(t *testing.T, s *Source, body string) (*Event, error) {
	t.Helper()
	p, err := s.Decode([]byte(body))
	if err != nil {
		return nil, err
	}
	return s.Transform(context.Background(), p, Context{RawBody: []byte(body)})
}

func requireSkip(t *testing.T, s *Source, body string) {
	t.Helper()
	ev, err := run(t, s, body)
	_, skipped := IsSkip(err)
	require.True(t, skipped, "want a skip, got %v / %+v", err, ev)
}

// requireIssue wants a 400 naming field ("" = the body as a whole).
func requireIssue(t *testing.T, s *Source, body, field string) {
	t.Helper()
	_, err := run(t, s, body)
	is, ok := err.(*Issues)
	require.True(t, ok, "want *Issues, got %v", err)
	if field == "" {
		require.NotEmpty(t, is.FormErrors, is.Error())
	} else {
		require.Contains(t, is.FieldErrors, field, is.Error())
	}
	require.NotNil(t, is.FieldErrors)
	require.NotNil(t, is.FormErrors)
}

func TestClerkPreset(t *testing.T) {
	c := Clerk()
	ev, err := run(t, c, `{"type":"user.created","object":"event","data":{"id":"user_1","first_name":"Ada","last_name":"Lovelace",
		"image_url":"https://img/1","primary_email_address_id":"e2","email_addresses":[{"id":"e1","email_address":"old@x.io"},{"id":"e2","email_address":"ada@x.io"}],
		"public_metadata":{"plan":"pro","firstName":"overridden"}}}`)
	require.NoError(t, err)
	require.Equal(t, &Event{Name: "contact.created", UserID: "user_1", UserEmail: "ada@x.io",
		EventProperties:   map[string]any{"source": "clerk", "clerkUserId": "user_1", "_clerkEvent": "user.created"},
		ContactProperties: map[string]any{"plan": "pro", "firstName": "Ada", "lastName": "Lovelace", "avatarUrl": "https://img/1", "clerkUserId": "user_1"}}, ev)

	ev, err = run(t, c, `{"type":"user.updated","data":{"id":"user_1","image_url":7,"profile_image_url":"https://p/1","primary_email_address_id":"zz","email_addresses":[{"id":"e1","email_address":"first@x.io"}]}}`)
	require.NoError(t, err)
	require.Equal(t, "contact.updated", ev.Name)
	require.Equal(t, "first@x.io", ev.UserEmail, "no primary match: the first address")
	require.Equal(t, "https://p/1", ev.ContactProperties["avatarUrl"], "image_url not a string: profile_image_url")

	ev, err = run(t, c, `{"type":"user.deleted","data":{"id":"user_1","deleted":true}}`)
	require.NoError(t, err)
	require.Equal(t, "contact.deleted", ev.Name)
	require.Empty(t, ev.ContactProperties)
	require.Equal(t, "", ev.UserEmail)

	ev, err = run(t, c, `{"type":"waitlistEntry.created","data":{"id":null,"email_address":"wait@x.io"}}`)
	require.NoError(t, err)
	require.Equal(t, &Event{Name: "waitlist.joined", UserID: "wait@x.io", UserEmail: "wait@x.io",
		EventProperties: map[string]any{"source": "clerk", "_clerkEvent": "waitlistEntry.created"}, ContactProperties: map[string]any{}}, ev)

	requireSkip(t, c, `{"type":"session.created","data":{"id":"sess_1"}}`)
	requireSkip(t, c, `{"type":"user.created","data":{}}`)
	requireSkip(t, c, `{"type":"user.created","data":null}`)
	requireSkip(t, c, `{"type":"waitlistEntry.created","data":{}}`)
	requireIssue(t, c, `{"data":{}}`, "type")
	requireIssue(t, c, `{"type":5}`, "type")
	requireIssue(t, c, `{"type":"user.created","data":"x"}`, "data")
	requireIssue(t, c, `{"type":"user.created","data":{"id":"u","first_name":3}}`, "data")
	requireIssue(t, c, `{"type":"user.created","data":{"id":"u","email_addresses":{}}}`, "data")
	requireIssue(t, c, `[]`, "")
}

func TestSupabasePreset(t *testing.T) {
	s := Supabase()
	ev, err := run(t, s, `{"type":"INSERT","table":"users","schema":"auth","record":{"id":"u1","email":"a@x.io","phone":"+1","email_confirmed_at":"2026-01-01T00:00:00Z",
		"raw_user_meta_data":{"name":"Ada","phone":"meta"}},"old_record":null}`)
	require.NoError(t, err)
	require.Equal(t, &Event{Name: "contact.created", UserID: "u1", UserEmail: "a@x.io",
		EventProperties:   map[string]any{"source": "supabase", "supabaseUserId": "u1", "_supabaseEvent": "INSERT"},
		ContactProperties: map[string]any{"name": "Ada", "phone": "+1", "emailVerified": true, "supabaseUserId": "u1"}}, ev)

	ev, err = run(t, s, `{"type":"UPDATE","table":"users","schema":"auth","record":{"id":"u1","email_confirmed_at":null}}`)
	require.NoError(t, err)
	require.Equal(t, "contact.updated", ev.Name)
	require.Equal(t, false, ev.ContactProperties["emailVerified"])

	ev, err = run(t, s, `{"type":"DELETE","table":"users","schema":"auth","record":null,"old_record":{"id":"u1","email":"a@x.io"}}`)
	require.NoError(t, err)
	require.Equal(t, "contact.deleted", ev.Name)
	require.Equal(t, "u1", ev.UserID)
	require.Empty(t, ev.ContactProperties)

	requireSkip(t, s, `{"type":"INSERT","table":"orders","schema":"public","record":{"id":"o1"}}`)
	requireSkip(t, s, `{"type":"INSERT","table":"users","schema":"auth","record":null}`)
	requireSkip(t, s, `{"type":"INSERT","table":"users","schema":"auth","record":{"email":"a@x.io"}}`)
	requireIssue(t, s, `{"type":"TRUNCATE","table":"users","schema":"auth"}`, "type")
	requireIssue(t, s, `{"type":"INSERT","schema":"auth"}`, "table")
	requireIssue(t, s, `{"type":"INSERT","table":"users","schema":"auth","record":{"id":"u","raw_user_meta_data":[]}}`, "record")
}

func TestStripePreset(t *testing.T) {
	s := Stripe()
	ev, err := run(t, s, `{"id":"evt_1","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer","email":"a@x.io","name":"Ada","phone":null,
		"metadata":{"plan":"pro","name":"meta"}}}}`)
	require.NoError(t, err)
	require.Equal(t, &Event{Name: "contact.created", UserID: "cus_1", UserEmail: "a@x.io", IdempotencyKey: "evt_1",
		EventProperties:   map[string]any{"source": "stripe", "stripeCustomerId": "cus_1", "stripeEventId": "evt_1", "_stripeEvent": "customer.created", "stripeObject": "customer"},
		ContactProperties: map[string]any{"plan": "pro", "name": "Ada", "stripeCustomerId": "cus_1"}}, ev)

	ev, err = run(t, s, `{"id":"evt_2","type":"customer.subscription.updated","data":{"object":{"id":"sub_1","customer":"cus_1"}}}`)
	require.NoError(t, err)
	require.Equal(t, "subscription.updated", ev.Name)
	require.Equal(t, "cus_1", ev.UserID)
	require.Empty(t, ev.ContactProperties)
	require.NotContains(t, ev.EventProperties, "stripeObject")

	ev, err = run(t, s, `{"id":"evt_3","type":"invoice.payment_failed","data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1"}}}`)
	require.NoError(t, err)
	require.Equal(t, "invoice.payment_failed", ev.Name)
	require.Equal(t, "evt_3", ev.IdempotencyKey)

	ev, err = run(t, s, `{"id":"evt_4","type":"customer.deleted","data":{"object":{"id":"cus_1"}}}`)
	require.NoError(t, err)
	require.Equal(t, "contact.deleted", ev.Name)
	require.Empty(t, ev.ContactProperties)

	requireSkip(t, s, `{"id":"evt_5","type":"charge.succeeded","data":{"object":{"id":"ch_1","customer":"cus_1"}}}`)
	requireSkip(t, s, `{"id":"evt_6","type":"customer.source.created","data":{"object":{"id":"src_1"}}}`)
	requireSkip(t, s, `{"id":"evt_7","type":"invoice.paid","data":{"object":{"id":"in_1","customer":null}}}`)
	requireIssue(t, s, `{"type":"customer.created","data":{"object":{}}}`, "id")
	requireIssue(t, s, `{"id":"evt_8","type":"customer.created","data":{}}`, "data")
	requireIssue(t, s, `{"id":"evt_8","type":"customer.created","data":{"object":{"email":false}}}`, "data")
}

func TestSegmentPreset(t *testing.T) {
	s := Segment()
	ev, err := run(t, s, `{"type":"track","event":"Order Completed","messageId":"m1","userId":"u1","properties":{"total":30,"source":"web"},"context":{"traits":{"email":"ctx@x.io"}}}`)
	require.NoError(t, err)
	require.Equal(t, &Event{Name: "Order Completed", UserID: "u1", UserEmail: "ctx@x.io", IdempotencyKey: "m1",
		EventProperties: map[string]any{"total": float64(30), "source": "segment"}, ContactProperties: map[string]any{}}, ev)

	ev, err = run(t, s, `{"type":"identify","anonymousId":"anon-1","context":{"traits":{"email":"a@x.io","plan":"pro"}}}`)
	require.NoError(t, err)
	require.Equal(t, &Event{Name: "contact.updated", UserID: "anon-1", UserEmail: "a@x.io",
		EventProperties:   map[string]any{"source": "segment", "_segmentType": "identify"},
		ContactProperties: map[string]any{"email": "a@x.io", "plan": "pro", "source": "segment"}}, ev)

	ev, err = run(t, s, `{"type":"identify","userId":"u1","traits":{"email":"t@x.io"},"context":{"traits":{"plan":"ignored"}}}`)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"email": "t@x.io", "source": "segment"}, ev.ContactProperties, "traits win over context.traits")

	requireSkip(t, s, `{"type":"page","userId":"u1"}`)
	requireSkip(t, s, `{"type":"track","userId":"u1","event":""}`)
	requireSkip(t, s, `{"type":"track","userId":"","anonymousId":"a","event":"x"}`)
	requireSkip(t, s, `{"type":"identify"}`)
	requireIssue(t, s, `{"type":"track","userId":5}`, "userId")
	requireIssue(t, s, `{"type":"track","context":{"traits":"x"}}`, "context")
	requireIssue(t, s, `{"event":"x"}`, "type")
}

func TestEnabledPresets(t *testing.T) {
	all := map[string]string{"CLERK_WEBHOOK_SECRET": "c", "SUPABASE_WEBHOOK_SECRET": "s", "STRIPE_WEBHOOK_SECRET": "st", "SEGMENT_WEBHOOK_SECRET": "se"}
	secrets := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	ids := func(ss []*Source) []string {
		out := []string{}
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	require.Equal(t, []string{"clerk", "supabase", "stripe", "segment"}, ids(EnabledPresets("", secrets(all))))
	require.Equal(t, []string{"clerk", "supabase", "stripe", "segment"}, ids(EnabledPresets(" * ", secrets(all))))
	require.Empty(t, EnabledPresets(" none ", secrets(all)))
	require.Equal(t, []string{"clerk", "stripe"}, ids(EnabledPresets("Stripe, CLERK ,nope", secrets(all))), "canonical order, case-insensitive, unknown ids ignored")
	require.Equal(t, []string{"clerk"}, ids(EnabledPresets("clerk,supabase", secrets(map[string]string{"CLERK_WEBHOOK_SECRET": "c"}))), "never without its secret")
	require.Empty(t, EnabledPresets("", secrets(nil)))

	own := Define(Source{ID: "stripe", Auth: Auth{Kind: AuthMatch}}, func(context.Context, *struct{}, Context) (*Event, error) { return nil, nil })
	mounted, err := Mount(EnabledPresets("", secrets(all)), []*Source{own})
	require.NoError(t, err)
	require.Equal(t, []string{"clerk", "supabase", "segment", "stripe"}, ids(mounted))
	require.Same(t, own, mounted[3], "the application's source replaces the preset")

	_, err = Mount(nil, []*Source{own, own})
	require.ErrorContains(t, err, "defined twice")
	for _, bad := range []*Source{
		{ID: "resend", Auth: Auth{Kind: AuthMatch}, Transform: own.Transform},
		{ID: "a/b", Auth: Auth{Kind: AuthMatch}, Transform: own.Transform},
		{ID: "x", Auth: Auth{Kind: AuthMatch}},
		{ID: "x", Auth: Auth{Kind: AuthSignature, Scheme: SchemeSvix}, Transform: own.Transform},
		{ID: "x", Auth: Auth{Kind: AuthSignature, Scheme: "rot13", EnvKey: "K"}, Transform: own.Transform},
		{ID: "x", Auth: Auth{Kind: "token"}, Transform: own.Transform},
	} {
		_, err := Mount(nil, []*Source{bad})
		require.Error(t, err, "%+v", bad)
	}
}

func TestOptRefusesNull(t *testing.T) {
	type payload struct {
		Event *struct {
			UUID Opt[string] `json:"uuid"`
		} `json:"event"`
	}
	p, err := Decode[payload]([]byte(`{"event":{"uuid":"abc"}}`))
	require.NoError(t, err)
	require.Equal(t, Opt[string]{Value: "abc", Set: true}, p.Event.UUID)
	p, err = Decode[payload]([]byte(`{"event":{}}`))
	require.NoError(t, err)
	require.False(t, p.Event.UUID.Set)
	_, err = Decode[payload]([]byte(`{"event":{"uuid":null}}`))
	require.Contains(t, AsIssues(err).FieldErrors, "event")
	_, err = Decode[payload]([]byte(`{"event":{"uuid":1}}`))
	require.Contains(t, AsIssues(err).FieldErrors, "event")
}

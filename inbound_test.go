package hogsend

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hogsend/hogsend/example/sources"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/webhook"
)

const (
	testClerkSecret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	testSupabaseKey   = "whsec_dGVzdC1zdXBhYmFzZS1zZWNyZXQtMzItYnl0ZXM="
	testStripeSecret  = "whsec_test"
	testSegmentSecret = "segment-shared-secret"
)

// postHook posts body as is with headers and decodes the JSON answer.
func postHook(t *testing.T, method, url string, body []byte, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return res.StatusCode, out
}

func stripeSig(secret string, t int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", t, body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(mac.Sum(nil)))
}

func svixSign(t *testing.T, secret string, at time.Time, body []byte) map[string]string {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	require.NoError(t, err)
	sig, err := wh.Sign("msg_"+fmt.Sprint(at.UnixNano()), at, body)
	require.NoError(t, err)
	return map[string]string{"svix-id": "msg_" + fmt.Sprint(at.UnixNano()), "svix-timestamp": fmt.Sprint(at.Unix()), "svix-signature": sig}
}

// inboundCount is how many stored events a contact has under name.
func inboundCount(t *testing.T, e *Engine, name string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM user_events WHERE event = $1`, name).Scan(&n))
	return n
}

// contactProps is the stored properties of the contact with external id user.
func contactProps(t *testing.T, e *Engine, user string) map[string]any {
	t.Helper()
	var props map[string]any
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT properties FROM contacts WHERE external_id = $1`, user).Scan(&props))
	return props
}

var inboundOrder = journey.MustDefine(journey.Meta{ID: "inbound-order", Name: "Inbound order", Enabled: true,
	Trigger: journey.Trigger{Event: "Order Completed"}, EntryLimit: journey.EntryUnlimited}, func(journey.Context, journey.User) error { return nil })

func TestInboundPresetsOverHTTP(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	env := testEnv(t, dsn, false)
	env["CLERK_WEBHOOK_SECRET"] = testClerkSecret
	env["SUPABASE_WEBHOOK_SECRET"] = testSupabaseKey
	env["STRIPE_WEBHOOK_SECRET"] = testStripeSecret
	env["SEGMENT_WEBHOOK_SECRET"] = testSegmentSecret
	e, logs := testEngineWith(t, env, &Options{Journeys: []*journey.Journey{inboundOrder}})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := serve(t, e) + "/v1/webhooks/"
	now := time.Now()

	t.Run("stripe", func(t *testing.T) {
		body := []byte(`{"id":"evt_1","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer","email":"cus1@example.com","name":"Ada","metadata":{"plan":"pro"}}}}`)
		code, out := postHook(t, http.MethodPost, base+"stripe", body, map[string]string{"stripe-signature": stripeSig(testStripeSecret, now.Unix(), body)})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, map[string]any{"ok": true, "event": "contact.created", "userId": "cus_1", "exits": []any{}}, out)
		require.Equal(t, map[string]any{"plan": "pro", "name": "Ada", "stripeCustomerId": "cus_1"}, contactProps(t, e, "cus_1"))
		// A redelivery is absorbed by the event id as idempotency key.
		code, out = postHook(t, http.MethodPost, base+"stripe", body, map[string]string{"stripe-signature": stripeSig(testStripeSecret, now.Unix(), body)})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, []any{}, out["exits"])
		require.Equal(t, 1, inboundCount(t, e, "contact.created"))

		for name, hdr := range map[string]string{
			"stale":   stripeSig(testStripeSecret, now.Unix()-600, body),
			"no t":    "v1=" + strings.Repeat("a", 64),
			"garbage": "nonsense",
		} {
			code, out = postHook(t, http.MethodPost, base+"stripe", body, map[string]string{"stripe-signature": hdr})
			require.Equal(t, http.StatusUnauthorized, code, name)
			require.Equal(t, "Invalid webhook signature", out["error"], name)
		}
		changed := bytes.Replace(body, []byte("Ada"), []byte("Adb"), 1)
		code, _ = postHook(t, http.MethodPost, base+"stripe", changed, map[string]string{"stripe-signature": stripeSig(testStripeSecret, now.Unix(), body)})
		require.Equal(t, http.StatusUnauthorized, code, "one byte changed")

		sub := []byte(`{"id":"evt_2","type":"customer.subscription.updated","data":{"object":{"id":"sub_1","object":"subscription","customer":"cus_1"}}}`)
		good := stripeSig(testStripeSecret, now.Unix(), sub)
		_, v1, _ := strings.Cut(good, ",")
		code, out = postHook(t, http.MethodPost, base+"stripe", sub, map[string]string{"stripe-signature": fmt.Sprintf("t=%d,v1=%s,%s", now.Unix(), strings.Repeat("0", 64), v1)})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "subscription.updated", out["event"], "a bad v1 then a good one")

		charge := []byte(`{"id":"evt_3","type":"charge.succeeded","data":{"object":{"id":"ch_1","customer":"cus_1"}}}`)
		code, out = postHook(t, http.MethodPost, base+"stripe", charge, map[string]string{"stripe-signature": stripeSig(testStripeSecret, now.Unix(), charge)})
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, map[string]any{"ok": true, "skipped": true}, out)

		bad := []byte(`{"id":"evt_4","type":"customer.created","data":{}}`)
		code, out = postHook(t, http.MethodPost, base+"stripe", bad, map[string]string{"stripe-signature": stripeSig(testStripeSecret, now.Unix(), bad)})
		require.Equal(t, http.StatusBadRequest, code)
		require.Equal(t, "Invalid payload", out["error"])
		require.Contains(t, out["details"].(map[string]any)["fieldErrors"], "data")
		require.NotEmpty(t, out["issues"])
	})

	t.Run("clerk", func(t *testing.T) {
		body := []byte(`{"type":"user.created","object":"event","data":{"id":"user_1","first_name":"Grace","last_name":"Hopper","image_url":"https://img.example.com/g.png",
			"primary_email_address_id":"idn_2","email_addresses":[{"id":"idn_1","email_address":"old@example.com"},{"id":"idn_2","email_address":"grace@example.com"}],
			"public_metadata":{"team":"navy"}}}`)
		code, out := postHook(t, http.MethodPost, base+"clerk", body, svixSign(t, testClerkSecret, now, body))
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "contact.created", out["event"])
		require.Equal(t, "user_1", out["userId"])
		require.Equal(t, map[string]any{"team": "navy", "firstName": "Grace", "lastName": "Hopper", "avatarUrl": "https://img.example.com/g.png", "clerkUserId": "user_1"},
			contactProps(t, e, "user_1"))
		var email string
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT email FROM contacts WHERE external_id = 'user_1'`).Scan(&email))
		require.Equal(t, "grace@example.com", email, "the primary address")

		session := []byte(`{"type":"session.created","data":{"id":"sess_1"}}`)
		code, out = postHook(t, http.MethodPost, base+"clerk", session, svixSign(t, testClerkSecret, now, session))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, true, out["skipped"])

		code, out = postHook(t, http.MethodPost, base+"clerk", body, nil)
		require.Equal(t, http.StatusUnauthorized, code)
		require.Equal(t, "Invalid webhook signature", out["error"])
		code, _ = postHook(t, http.MethodPost, base+"clerk", body, svixSign(t, testClerkSecret, now.Add(-10*time.Minute), body))
		require.Equal(t, http.StatusUnauthorized, code, "ten minutes old")
		code, _ = postHook(t, http.MethodPost, base+"clerk", body, svixSign(t, testSupabaseKey, now, body))
		require.Equal(t, http.StatusUnauthorized, code, "another secret")
	})

	t.Run("supabase", func(t *testing.T) {
		insert := []byte(`{"type":"INSERT","table":"users","schema":"auth","record":{"id":"sb-1","email":"sb1@example.com","email_confirmed_at":"2026-01-01T00:00:00Z",
			"raw_user_meta_data":{"full_name":"Sam"}},"old_record":null}`)
		code, out := postHook(t, http.MethodPost, base+"supabase", insert, map[string]string{"x-supabase-webhook-secret": testSupabaseKey})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "contact.created", out["event"])
		require.Equal(t, map[string]any{"full_name": "Sam", "emailVerified": true, "supabaseUserId": "sb-1"}, contactProps(t, e, "sb-1"))

		code, out = postHook(t, http.MethodPost, base+"supabase", insert, map[string]string{"x-supabase-webhook-secret": "wrong"})
		require.Equal(t, http.StatusUnauthorized, code)
		require.Equal(t, "Invalid webhook signature", out["error"])
		orders := []byte(`{"type":"INSERT","table":"orders","schema":"public","record":{"id":"o-1"}}`)
		code, out = postHook(t, http.MethodPost, base+"supabase", orders, map[string]string{"x-supabase-webhook-secret": testSupabaseKey})
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, true, out["skipped"])
		truncate := []byte(`{"type":"TRUNCATE","table":"users","schema":"auth"}`)
		code, out = postHook(t, http.MethodPost, base+"supabase", truncate, map[string]string{"x-supabase-webhook-secret": testSupabaseKey})
		require.Equal(t, http.StatusBadRequest, code)
		require.Contains(t, out["details"].(map[string]any)["fieldErrors"], "type")

		update := []byte(`{"type":"UPDATE","table":"users","schema":"auth","record":{"id":"sb-1","email":"sb1@example.com","email_confirmed_at":null}}`)
		code, out = postHook(t, http.MethodPost, base+"supabase", update, svixSign(t, testSupabaseKey, now, update))
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "contact.updated", out["event"], "a svix-signed request")
		require.Equal(t, false, contactProps(t, e, "sb-1")["emailVerified"])
	})

	t.Run("segment", func(t *testing.T) {
		sign256 := func(b []byte) map[string]string {
			m := hmac.New(sha256.New, []byte(testSegmentSecret))
			m.Write(b)
			return map[string]string{"x-signature": hex.EncodeToString(m.Sum(nil))}
		}
		track := []byte(`{"type":"track","event":"Order Completed","messageId":"seg-m1","userId":"seg-1","properties":{"total":42},"context":{"traits":{"email":"seg1@example.com"}}}`)
		code, out := postHook(t, http.MethodPost, base+"segment", track, sign256(track))
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "Order Completed", out["event"])
		var journeyRuns int
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM journey_states WHERE journey_id = 'inbound-order' AND user_id = 'seg-1'`).Scan(&journeyRuns))
		require.Equal(t, 1, journeyRuns, "the event went through the pipeline: the journey it triggers started")
		code, _ = postHook(t, http.MethodPost, base+"segment", track, sign256(track))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, 1, inboundCount(t, e, "Order Completed"), "the same messageId is stored once")

		identify := []byte(`{"type":"identify","userId":"seg-1","messageId":"seg-m2","traits":{"email":"seg1@example.com","plan":"team"}}`)
		m := hmac.New(sha1.New, []byte(testSegmentSecret))
		m.Write(identify)
		code, out = postHook(t, http.MethodPost, base+"segment", identify, map[string]string{"x-signature": hex.EncodeToString(m.Sum(nil))})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "contact.updated", out["event"], "SHA-1, as Segment signs")
		require.Equal(t, "team", contactProps(t, e, "seg-1")["plan"])

		page := []byte(`{"type":"page","userId":"seg-1"}`)
		code, out = postHook(t, http.MethodPost, base+"segment", page, sign256(page))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, true, out["skipped"])
		code, _ = postHook(t, http.MethodPost, base+"segment", page, map[string]string{"x-signature": strings.Repeat("0", 64)})
		require.Equal(t, http.StatusUnauthorized, code)
	})

	t.Run("ordering and codes", func(t *testing.T) {
		code, out := postHook(t, http.MethodPost, base+"nope", []byte(`{}`), nil)
		require.Equal(t, http.StatusNotFound, code)
		require.Equal(t, "Unknown webhook source", out["error"])
		code, _ = postHook(t, http.MethodPost, base+"Stripe", []byte(`{}`), nil)
		require.Equal(t, http.StatusNotFound, code, "ids are case-sensitive")
		malformed := []byte(`{`)
		code, out = postHook(t, http.MethodPost, base+"stripe", malformed, map[string]string{"stripe-signature": stripeSig(testStripeSecret, now.Unix(), malformed)})
		require.Equal(t, http.StatusBadRequest, code)
		require.Equal(t, "Invalid payload", out["error"])
		require.Equal(t, "Malformed JSON", out["details"])
		code, _ = postHook(t, http.MethodPost, base+"stripe", malformed, map[string]string{"stripe-signature": "t=1,v1=00"})
		require.Equal(t, http.StatusUnauthorized, code, "the signature is checked first")
		code, out = postHook(t, http.MethodGet, base+"stripe", nil, nil)
		require.Equal(t, http.StatusNotFound, code)
		require.Equal(t, "Not Found", out["error"])
		big := bytes.Repeat([]byte("x"), 5<<20+1)
		code, _ = postHook(t, http.MethodPost, base+"stripe", big, nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, code)
	})
}

func TestInboundPresetGatingAndSources(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	mount := func(t *testing.T, set map[string]string, opts *Options) string {
		t.Helper()
		env := testEnv(t, dsn, false)
		for k, v := range set {
			env[k] = v
		}
		e, _ := testEngineWith(t, env, opts)
		return serve(t, e) + "/v1/webhooks/"
	}
	status := func(url string) int {
		code, _ := postHook(t, http.MethodPost, url, []byte(`{}`), nil)
		return code
	}
	allSecrets := map[string]string{"CLERK_WEBHOOK_SECRET": testClerkSecret, "SUPABASE_WEBHOOK_SECRET": testSupabaseKey,
		"STRIPE_WEBHOOK_SECRET": testStripeSecret, "SEGMENT_WEBHOOK_SECRET": testSegmentSecret}
	presets := []string{"clerk", "supabase", "stripe", "segment"}

	base := mount(t, map[string]string{"CLERK_WEBHOOK_SECRET": testClerkSecret}, &Options{})
	require.Equal(t, http.StatusNotFound, status(base+"stripe"), "no secret: not mounted")
	require.Equal(t, http.StatusUnauthorized, status(base+"clerk"))

	none := mount(t, merged(allSecrets, map[string]string{"ENABLED_WEBHOOK_PRESETS": "none"}), &Options{})
	for _, p := range presets {
		require.Equal(t, http.StatusNotFound, status(none+p), p)
	}
	off := mount(t, allSecrets, &Options{DisableWebhookPresets: true})
	for _, p := range presets {
		require.Equal(t, http.StatusNotFound, status(off+p), p)
	}
	listed := mount(t, map[string]string{"ENABLED_WEBHOOK_PRESETS": "clerk,supabase", "CLERK_WEBHOOK_SECRET": testClerkSecret}, &Options{})
	require.Equal(t, http.StatusUnauthorized, status(listed+"clerk"))
	require.Equal(t, http.StatusNotFound, status(listed+"supabase"), "listed but without its secret")

	own := webhook.Define(webhook.Source{ID: "stripe", Auth: webhook.Auth{Kind: webhook.AuthMatch}},
		func(_ context.Context, p *struct{ User string }, _ webhook.Context) (*webhook.Event, error) {
			return &webhook.Event{Name: "own.stripe", UserID: p.User}, nil
		})
	replaced := mount(t, allSecrets, &Options{WebhookSources: []*webhook.Source{own}})
	code, out := postHook(t, http.MethodPost, replaced+"stripe", []byte(`{"user":"own-1"}`), nil)
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "own.stripe", out["event"], "the application's source replaces the preset")

	// The example PostHog source: a shared secret, open when unconfigured.
	event := []byte(`{"event":{"event":"$pageview","distinct_id":"ph-1","uuid":"0190-ph","properties":{"$current_url":"/x"}},"person":{"properties":{"email":"ph1@example.com","plan":"free"}}}`)
	ph := mount(t, map[string]string{"POSTHOG_WEBHOOK_SECRET": "ph-secret"}, &Options{WebhookSources: sources.All()})
	code, out = postHook(t, http.MethodPost, ph+"posthog", event, map[string]string{"x-posthog-webhook-secret": "wrong"})
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, "Invalid webhook secret", out["error"])
	code, out = postHook(t, http.MethodPost, ph+"posthog", event, map[string]string{"Authorization": "Bearer ph-secret"})
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "$pageview", out["event"])
	require.Equal(t, "ph-1", out["userId"])
	noID := []byte(`{"event":{"event":"$pageview"}}`)
	code, out = postHook(t, http.MethodPost, ph+"posthog", noID, map[string]string{"x-posthog-webhook-secret": "ph-secret"})
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "Invalid payload", out["error"])
	require.Contains(t, out["details"].(map[string]any)["fieldErrors"], "event")

	open := mount(t, nil, &Options{WebhookSources: sources.All()})
	code, out = postHook(t, http.MethodPost, open+"posthog", event, nil)
	require.Equal(t, http.StatusOK, code, out)
}

func merged(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

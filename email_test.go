package hogsend

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/email/smtptest"
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/schema/schematest"
)

// The email acceptance scenarios (spec email §15) over HTTP, against real PostgreSQL and an
// in-process SMTP server that keeps what it receives.

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

type mailEnv struct {
	base   string
	engine *Engine
	smtp   *smtptest.Server
	ing    string // keys: ingest, full-admin, read
	adm    string
	ro     string
}

func startMailEngine(t *testing.T, tune func(env map[string]string, opts *Options)) *mailEnv {
	t.Helper()
	_, dsn := schematest.TestDB(t)
	sink, err := smtptest.Start(false)
	require.NoError(t, err)
	t.Cleanup(sink.Close)
	env := testEnv(t, dsn, false)
	env["EMAIL_PROVIDER"] = "smtp"
	env["SMTP_URL"] = sink.URL()
	env["RESEND_WEBHOOK_SECRET"] = testWebhookSecret
	env["API_PUBLIC_URL"] = "http://localhost:3002"
	opts := &Options{Templates: templates.Registry(), Lists: templates.Lists()}
	if tune != nil {
		tune(env, opts)
	}
	e, _ := testEngineWith(t, env, opts)
	return newMailEnv(t, e, sink)
}

// newMailEnv serves e and mints its keys.
func newMailEnv(t *testing.T, e *Engine, sink *smtptest.Server) *mailEnv {
	t.Helper()
	m := &mailEnv{base: serve(t, e), engine: e, smtp: sink}
	for _, k := range []struct {
		dst   *string
		scope apikeys.Scope
	}{{&m.ing, apikeys.Ingest}, {&m.adm, apikeys.FullAdmin}, {&m.ro, apikeys.Read}} {
		c, err := e.keys.Create(t.Context(), apikeys.NewKey{Name: string(k.scope), Scopes: []apikeys.Scope{k.scope}})
		require.NoError(t, err)
		*k.dst = c.Token
	}
	return m
}

// call sends a request and returns the status, the decoded JSON (nil if not JSON) and the response.
func (m *mailEnv) call(t *testing.T, method, path, key string, body any, header map[string]string) (int, map[string]any, *http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = m.base + path
	}
	req, err := http.NewRequest(method, target, rd)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out, res, string(raw)
}

// send posts to /v1/emails with the ingest key and expects a 202.
func (m *mailEnv) send(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	code, out, _, raw := m.call(t, http.MethodPost, "/v1/emails", m.ing, body, nil)
	require.Equal(t, http.StatusAccepted, code, raw)
	return out
}

func (m *mailEnv) detail(t *testing.T, id string) map[string]any {
	t.Helper()
	code, out, _, raw := m.call(t, http.MethodGet, "/v1/admin/emails/"+id, m.ro, nil, nil)
	require.Equal(t, http.StatusOK, code, raw)
	return out
}

// local rewrites an engine link (API_PUBLIC_URL is http://localhost:3002) to the test server.
func (m *mailEnv) local(link string) string {
	return strings.Replace(link, "http://localhost:3002", m.base, 1)
}

// unsubscribeURL is the URL in a message's List-Unsubscribe header.
func unsubscribeURL(t *testing.T, msg smtptest.Message) string {
	t.Helper()
	h := msg.Header.Get("List-Unsubscribe")
	require.True(t, strings.HasPrefix(h, "<http://localhost:3002/v1/email/unsubscribe?token="), h)
	return strings.Trim(h, "<>")
}

func eventTypes(detail map[string]any) []string {
	var out []string
	for _, e := range detail["events"].([]any) {
		out = append(out, e.(map[string]any)["type"].(string))
	}
	return out
}

var hrefs = regexp.MustCompile(`href="([^"]+)"`)

func TestEmailSendTrackAndUnsubscribe(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, nil)

	// 1. Happy path: the message as received, and the admin detail.
	out := m.send(t, map[string]any{"to": "Ada@Example.com", "template": "welcome", "props": map[string]any{"name": "Ada"}})
	require.Equal(t, "sent", out["status"])
	id := out["emailSendId"].(string)
	msgs := m.smtp.To("ada@example.com")
	require.Len(t, msgs, 1)
	msg := msgs[0]
	require.Equal(t, "Welcome to Hogsend", msg.Subject)
	require.Equal(t, "noreply@hogsend.com", msg.From)
	require.Contains(t, msg.HTML, "Ada")
	require.Contains(t, msg.HTML, `<img src="http://localhost:3002/v1/t/o/`+id+`"`)
	require.NotEmpty(t, msg.Text)
	require.NotContains(t, msg.Text, "<html")
	require.Equal(t, "List-Unsubscribe=One-Click", msg.Header.Get("List-Unsubscribe-Post"))
	unsub := unsubscribeURL(t, msg)
	var tracked []string
	for _, h := range hrefs.FindAllStringSubmatch(msg.HTML, -1) {
		if strings.Contains(h[1], "/v1/email/unsubscribe") {
			continue
		}
		require.Regexp(t, `^http://localhost:3002/v1/t/c/[0-9a-f-]{36}$`, h[1])
		tracked = append(tracked, h[1])
	}
	require.NotEmpty(t, tracked)
	d := m.detail(t, id)
	email := d["email"].(map[string]any)
	require.Equal(t, "sent", email["status"])
	require.Equal(t, "transactional", email["category"])
	require.Equal(t, []string{"queued", "sent"}, eventTypes(d))
	require.NotEmpty(t, d["trackedLinks"])
	require.Nil(t, d["journeyContext"])
	require.Equal(t, msg.Header.Get("Message-Id"), "<"+email["resendId"].(string)+">")

	// A caller's sender, subject and reply-to reach the message.
	m.send(t, map[string]any{"to": "from@example.com", "template": "welcome", "from": "Team <team@acme.example>",
		"subject": "Hallo, Ädä", "replyTo": "help@acme.example"})
	custom := m.smtp.To("from@example.com")[0]
	require.Equal(t, "team@acme.example", custom.From)
	require.Equal(t, "Team <team@acme.example>", custom.Header.Get("From"))
	require.Equal(t, "Hallo, Ädä", custom.Subject)
	require.Equal(t, "help@acme.example", custom.Header.Get("Reply-To"))

	// 3. Idempotency: the header key wins over the body key; one message.
	h := map[string]string{"Idempotency-Key": "k1"}
	body := map[string]any{"to": "idem@example.com", "template": "welcome", "idempotencyKey": "k2"}
	_, first, _, _ := m.call(t, http.MethodPost, "/v1/emails", m.ing, body, h)
	code, second, _, _ := m.call(t, http.MethodPost, "/v1/emails", m.ing, body, h)
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, first["emailSendId"], second["emailSendId"])
	require.Equal(t, "sent", second["status"])
	require.Len(t, m.smtp.To("idem@example.com"), 1)

	// 4. Open pixel: first open only, unknown ids still get the GIF.
	code, _, res, raw := m.call(t, http.MethodGet, "/v1/t/o/"+id, "", nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "image/gif", res.Header.Get("Content-Type"))
	require.Len(t, raw, 42)
	require.Contains(t, res.Header.Get("Cache-Control"), "no-store")
	openedAt := m.detail(t, id)["email"].(map[string]any)["openedAt"]
	require.NotNil(t, openedAt)
	require.Contains(t, eventTypes(m.detail(t, id)), "opened")
	m.call(t, http.MethodGet, "/v1/t/o/"+id, "", nil, nil)
	require.Equal(t, openedAt, m.detail(t, id)["email"].(map[string]any)["openedAt"])
	code, _, _, raw = m.call(t, http.MethodGet, "/v1/t/o/"+uuid.NewString(), "", nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, raw, 42)
	code, _, _, _ = m.call(t, http.MethodGet, "/v1/t/o/not-a-uuid", "", nil, nil)
	require.Equal(t, http.StatusBadRequest, code)

	// 5. Click: redirect to the stored URL, who clicked, first click; unknown link → public URL.
	code, _, res, _ = m.call(t, http.MethodGet, m.local(tracked[0]), "", nil,
		map[string]string{"X-Forwarded-For": "1.2.3.4, 10.0.0.1", "User-Agent": "T/1"})
	require.Equal(t, http.StatusFound, code)
	require.Equal(t, "https://app.hogsend.com/dashboard", res.Header.Get("Location"))
	d = m.detail(t, id)
	require.NotNil(t, d["email"].(map[string]any)["clickedAt"])
	var clicked map[string]any
	for _, l := range d["trackedLinks"].([]any) {
		if l := l.(map[string]any); l["originalUrl"] == "https://app.hogsend.com/dashboard" {
			clicked = l
		}
	}
	require.EqualValues(t, 1, clicked["clickCount"])
	click := clicked["clicks"].([]any)[0].(map[string]any)
	require.Equal(t, "1.2.3.4", click["ipAddress"])
	require.Equal(t, "T/1", click["userAgent"])
	require.Contains(t, eventTypes(d), "clicked")
	code, _, res, _ = m.call(t, http.MethodGet, "/v1/t/c/"+uuid.NewString(), "", nil, nil)
	require.Equal(t, http.StatusFound, code)
	require.Equal(t, "http://localhost:3002", res.Header.Get("Location"))

	// Opens and clicks are ingested as events of the recipient's contact (created from the address).
	waitUntil(t, "tracking events ingested", func() bool {
		_, found, _, _ := m.call(t, http.MethodGet, "/v1/contacts/find?email=ada%40example.com", m.ing, nil, nil)
		if len(found["contacts"].([]any)) != 1 {
			return false
		}
		id := found["contacts"].([]any)[0].(map[string]any)["id"].(string)
		_, ev, _, _ := m.call(t, http.MethodGet, "/v1/admin/events?userId="+id, m.ro, nil, nil)
		names := map[string]bool{}
		for _, e := range ev["events"].([]any) {
			names[e.(map[string]any)["event"].(string)] = true
		}
		return names["email.opened"] && names["email.link_clicked"]
	})

	// 6. The footer's category unsubscribe (GET), then the same send is refused.
	code, _, _, page := m.call(t, http.MethodGet, m.local(unsub), "", nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, "You&#39;ve been unsubscribed")
	require.Contains(t, page, "Manage your email preferences")
	again := m.send(t, map[string]any{"to": "Ada@Example.com", "template": "welcome", "props": map[string]any{"name": "Ada"}})
	require.Equal(t, "unsubscribed", again["status"])
	require.Len(t, m.smtp.To("ada@example.com"), 1)
	_, list, _, _ := m.call(t, http.MethodGet, "/v1/admin/emails?toEmail=ada@example.com&status=failed", m.ro, nil, nil)
	require.EqualValues(t, 1, list["total"])
	require.Equal(t, "", list["emails"].([]any)[0].(map[string]any)["subject"])

	// 7. RFC 8058 one-click POST: no auth, no cookies, no redirect.
	m.send(t, map[string]any{"to": "grace@example.com", "template": "welcome"})
	oneClick := unsubscribeURL(t, m.smtp.To("grace@example.com")[0])
	res, err := http.Post(m.local(oneClick), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "unsubscribed", m.send(t, map[string]any{"to": "grace@example.com", "template": "welcome"})["status"])
	prefs := m.prefs(t, "grace@example.com")
	require.Equal(t, false, prefs["categories"].(map[string]any)["transactional"])

	// 9. Bad tokens: the invalid-link page and nothing written.
	good := strings.TrimPrefix(oneClick, "http://localhost:3002/v1/email/unsubscribe?token=")
	good, _ = url.QueryUnescape(good)
	past := mailer.Tokens{Secret: []byte(m.engine.cfg.AuthSecret), Now: func() time.Time { return time.Now().Add(-31 * 24 * time.Hour) }}
	expired := "/v1/email/unsubscribe?token=" + url.QueryEscape(past.New("x", "late@example.com", "unsubscribe", ""))
	for _, c := range []struct{ link, reason string }{
		{"/v1/email/unsubscribe?token=" + url.QueryEscape(good[:len(good)-2]+"xx"), "Invalid token signature"},
		{expired, "Token has expired"},
		{"/v1/email/unsubscribe?token=nodot", "Malformed token"},
		{"/v1/email/unsubscribe", "Malformed token"},
		{"/v1/email/preferences?token=nodot", "Malformed token"},
	} {
		code, _, _, page := m.call(t, http.MethodGet, c.link, "", nil, nil)
		require.Equal(t, http.StatusBadRequest, code, c.link)
		require.Contains(t, page, "This link is no longer valid")
		require.Contains(t, page, c.reason+". Please check your email for a newer link.")
	}
	_, sup, _, _ := m.call(t, http.MethodGet, "/v1/admin/suppressions", m.ro, nil, nil)
	for _, p := range sup["suppressions"].([]any) {
		require.NotEqual(t, "late@example.com", p.(map[string]any)["email"])
	}

	// 10. Bypass: a globally unsubscribed recipient still gets critical mail, without the
	// unsubscribe surface but with tracking.
	m.send(t, map[string]any{"to": "bypass@example.com", "template": "password-reset", "props": map[string]any{"resetUrl": "https://app.hogsend.com/reset?t=1&u=2"}})
	first1 := m.smtp.To("bypass@example.com")[0]
	require.Contains(t, first1.HTML, "/v1/t/c/")
	prefsURL := m.engine.mail.PreferencesURL("bypass@example.com", "bypass@example.com")
	_, _, _, page = m.call(t, http.MethodGet, m.local(prefsURL), "", nil, nil)
	all := regexp.MustCompile(`href="([^"]+)">Unsubscribe from all`).FindStringSubmatch(page)
	require.NotNil(t, all, page)
	code, _, _, _ = m.call(t, http.MethodGet, m.local(htmlUnescape(all[1])), "", nil, nil)
	require.Equal(t, http.StatusOK, code)
	code, out, _, raw = m.call(t, http.MethodPost, "/v1/emails", m.adm, map[string]any{"to": "bypass@example.com", "template": "password-reset",
		"skipPreferenceCheck": true, "props": map[string]any{"resetUrl": "https://app.hogsend.com/reset?t=1&u=2"}}, nil)
	require.Equal(t, http.StatusAccepted, code, raw)
	require.Equal(t, "sent", out["status"])
	bypassed := m.smtp.To("bypass@example.com")
	require.Len(t, bypassed, 2)
	require.Empty(t, bypassed[1].Header.Get("List-Unsubscribe"))
	require.Contains(t, bypassed[1].HTML, "/v1/t/o/"+out["emailSendId"].(string))
	require.Equal(t, "unsubscribed", m.send(t, map[string]any{"to": "bypass@example.com", "template": "password-reset"})["status"])

	// The tracked password-reset link redirects to the real URL (& decoded).
	d = m.detail(t, out["emailSendId"].(string))
	var resetLink string
	for _, l := range d["trackedLinks"].([]any) {
		if l := l.(map[string]any); strings.HasPrefix(l["originalUrl"].(string), "https://app.hogsend.com/reset") {
			resetLink = l["id"].(string)
		}
	}
	_, _, res, _ = m.call(t, http.MethodGet, "/v1/t/c/"+resetLink, "", nil, nil)
	require.Equal(t, "https://app.hogsend.com/reset?t=1&u=2", res.Header.Get("Location"))
}

func htmlUnescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// prefs reads a recipient's preference row through the suppressions list.
func (m *mailEnv) prefs(t *testing.T, addr string) map[string]any {
	t.Helper()
	_, sup, _, _ := m.call(t, http.MethodGet, "/v1/admin/suppressions?limit=200", m.ro, nil, nil)
	for _, p := range sup["suppressions"].([]any) {
		if p := p.(map[string]any); p["email"] == addr {
			return p
		}
	}
	t.Fatalf("no preferences for %s", addr)
	return nil
}

func TestEmailInputErrorsSendNothing(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, nil)
	code, _, _, raw := m.call(t, http.MethodPut, "/v1/contacts", m.ing, map[string]any{"userId": "no-email-user"}, nil)
	require.Less(t, code, 300, raw)
	for _, c := range []struct {
		key  string
		body map[string]any
		code int
		msg  string
	}{
		{"", map[string]any{"to": "a@example.com", "template": "welcome"}, 401, "Unauthorized"},
		{m.ro, map[string]any{"to": "a@example.com", "template": "welcome"}, 403, "Forbidden: insufficient scope"},
		{m.ing, map[string]any{"template": "welcome"}, 400, "to or userId is required"},
		{m.ing, map[string]any{"to": "a@example.com", "template": "nope"}, 400, "Unknown template: nope"},
		{m.ing, map[string]any{"userId": "no-email-user", "template": "welcome"}, 404, "No resolvable email for recipient"},
		{m.ing, map[string]any{"userId": "nobody", "template": "welcome"}, 404, "No resolvable email for recipient"},
		{m.ing, map[string]any{"to": "a@example.com", "template": "welcome", "skipPreferenceCheck": true}, 403, "skipPreferenceCheck requires a full-admin key"},
		{m.ing, map[string]any{"to": "not-an-email", "template": "welcome"}, 400, ""},
		{m.ing, map[string]any{"to": "a@example.com"}, 400, ""},
		{m.ing, map[string]any{"to": "a@example.com", "template": "welcome", "from": "not an address"}, 400, ""},
		{m.ing, map[string]any{"to": "a@example.com", "template": "welcome", "replyTo": []string{"ok@example.com", "bad"}}, 400, ""},
		{m.ing, map[string]any{"to": "a@example.com", "template": "welcome", "replyTo": 5}, 400, ""},
	} {
		code, out, _, raw := m.call(t, http.MethodPost, "/v1/emails", c.key, c.body, nil)
		require.Equal(t, c.code, code, raw)
		if c.msg != "" {
			require.Equal(t, c.msg, out["error"], raw)
		} else {
			require.NotEmpty(t, out["issues"], raw)
		}
	}
	require.Zero(t, m.smtp.Count())
	_, list, _, _ := m.call(t, http.MethodGet, "/v1/admin/emails", m.ro, nil, nil)
	require.EqualValues(t, 0, list["total"])
}

// svixPost signs a provider event as Resend's Svix would and posts it.
func (m *mailEnv) svixPost(t *testing.T, msgID string, ev map[string]any) (int, map[string]any) {
	t.Helper()
	payload, err := json.Marshal(ev)
	require.NoError(t, err)
	wh, err := svix.NewWebhook(testWebhookSecret)
	require.NoError(t, err)
	now := time.Now()
	sig, err := wh.Sign(msgID, now, payload)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, m.base+"/v1/webhooks/resend", bytes.NewReader(payload))
	require.NoError(t, err)
	req.Header.Set("svix-id", msgID)
	req.Header.Set("svix-timestamp", fmt.Sprint(now.Unix()))
	req.Header.Set("svix-signature", sig)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func providerEvent(kind, providerID, to string, bounce map[string]any) map[string]any {
	data := map[string]any{"email_id": providerID, "to": []string{to}, "from": "noreply@hogsend.com", "subject": "s"}
	if bounce != nil {
		data["bounce"] = bounce
	}
	return map[string]any{"type": kind, "created_at": time.Now().UTC().Format(time.RFC3339), "data": data}
}

func TestEmailProviderWebhooksAndSuppression(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, nil)

	// 11. Delivered, verified; a bad signature or missing headers is 401; a replay is a no-op.
	id := m.send(t, map[string]any{"to": "del@example.com", "template": "welcome"})["emailSendId"].(string)
	providerID := m.detail(t, id)["email"].(map[string]any)["resendId"].(string)
	code, out := m.svixPost(t, "msg_delivered_1", providerEvent("email.delivered", providerID, "del@example.com", nil))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, true, out["ok"])
	e := m.detail(t, id)["email"].(map[string]any)
	require.Equal(t, "delivered", e["status"])
	deliveredAt := e["deliveredAt"]
	require.NotNil(t, deliveredAt)
	code, _ = m.svixPost(t, "msg_delivered_1", providerEvent("email.delivered", providerID, "del@example.com", nil))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, deliveredAt, m.detail(t, id)["email"].(map[string]any)["deliveredAt"])
	code, out, _, _ = m.call(t, http.MethodPost, "/v1/webhooks/resend", "", providerEvent("email.delivered", providerID, "del@example.com", nil),
		map[string]string{"svix-id": "x", "svix-timestamp": fmt.Sprint(time.Now().Unix()), "svix-signature": "v1,bm90LXRoZS1zaWduYXR1cmU="})
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, "Webhook verification failed", out["error"])
	code, _, _, _ = m.call(t, http.MethodPost, "/v1/webhooks/resend", "", providerEvent("email.delivered", providerID, "del@example.com", nil), nil)
	require.Equal(t, http.StatusUnauthorized, code)
	// A late "sent" never moves a delivered send back.
	m.svixPost(t, "msg_sent_late", providerEvent("email.sent", providerID, "del@example.com", nil))
	require.Equal(t, "delivered", m.detail(t, id)["email"].(map[string]any)["status"])

	// 12. Bounce threshold: two bounces still send, the third suppresses.
	bounce := map[string]any{"type": "Permanent", "message": "Mailbox not found"}
	bid := m.send(t, map[string]any{"to": "bounce@example.com", "template": "welcome"})["emailSendId"].(string)
	bpid := m.detail(t, bid)["email"].(map[string]any)["resendId"].(string)
	for i := range 2 {
		code, _ := m.svixPost(t, fmt.Sprintf("msg_bounce_%d", i), providerEvent("email.bounced", bpid, "bounce@example.com", bounce))
		require.Equal(t, http.StatusOK, code)
	}
	m.svixPost(t, "msg_bounce_1", providerEvent("email.bounced", bpid, "bounce@example.com", bounce)) // redelivery: not counted
	require.Equal(t, "sent", m.send(t, map[string]any{"to": "bounce@example.com", "template": "welcome"})["status"])
	m.svixPost(t, "msg_bounce_2", providerEvent("email.bounced", bpid, "bounce@example.com", bounce))
	p := m.prefs(t, "bounce@example.com")
	require.EqualValues(t, 3, p["bounceCount"])
	require.Equal(t, true, p["suppressed"])
	_, sup, _, _ := m.call(t, http.MethodGet, "/v1/admin/suppressions?type=bounced", m.ro, nil, nil)
	require.EqualValues(t, 1, sup["total"])
	require.Equal(t, "bounced", m.detail(t, bid)["email"].(map[string]any)["status"])
	before := len(m.smtp.To("bounce@example.com"))
	require.Equal(t, "suppressed", m.send(t, map[string]any{"to": "bounce@example.com", "template": "welcome"})["status"])
	require.Len(t, m.smtp.To("bounce@example.com"), before)

	// 13. A complaint suppresses at once; the admin override lifts it.
	code, created, _, raw := m.call(t, http.MethodPost, "/v1/admin/contacts", m.adm, map[string]any{"email": "complain@example.com", "externalId": "u-complain"}, nil)
	require.Less(t, code, 300, raw)
	_ = created
	cid := m.send(t, map[string]any{"to": "complain@example.com", "template": "welcome"})["emailSendId"].(string)
	cpid := m.detail(t, cid)["email"].(map[string]any)["resendId"].(string)
	m.svixPost(t, "msg_complaint", providerEvent("email.complained", cpid, "complain@example.com", nil))
	_, sup, _, _ = m.call(t, http.MethodGet, "/v1/admin/suppressions?type=complained", m.ro, nil, nil)
	require.EqualValues(t, 1, sup["total"])
	row := sup["suppressions"].([]any)[0].(map[string]any)
	require.Equal(t, "complain@example.com", row["email"])
	require.Equal(t, true, row["suppressed"])
	require.EqualValues(t, 0, row["bounceCount"])
	require.Equal(t, "suppressed", m.send(t, map[string]any{"to": "complain@example.com", "template": "welcome"})["status"])
	code, put, _, raw := m.call(t, http.MethodPut, "/v1/admin/contacts/u-complain/preferences", m.adm, map[string]any{"suppressed": false}, nil)
	require.Equal(t, http.StatusOK, code, raw)
	require.Nil(t, put["preferences"].(map[string]any)["suppressedAt"])
	require.Equal(t, "sent", m.send(t, map[string]any{"to": "complain@example.com", "template": "welcome"})["status"])

	// Resend of the bounced send goes through the pipeline again: still suppressed.
	code, rs, _, raw := m.call(t, http.MethodPost, "/v1/admin/emails/"+bid+"/resend", m.adm, nil, nil)
	require.Equal(t, http.StatusAccepted, code, raw)
	newID := rs["emailId"].(string)
	code, _, _, raw = m.call(t, http.MethodGet, "/v1/admin/emails/"+newID, m.ro, nil, nil)
	require.Equal(t, http.StatusOK, code, "the resend's row exists with the 202: %s", raw)
	waitUntil(t, "the resend to run", func() bool {
		return m.detail(t, newID)["email"].(map[string]any)["status"] == "failed"
	})
	code, _, _, _ = m.call(t, http.MethodPost, "/v1/admin/emails/"+id+"/resend", m.adm, nil, nil)
	require.Equal(t, http.StatusConflict, code)
	code, _, _, _ = m.call(t, http.MethodPost, "/v1/admin/emails/"+uuid.NewString()+"/resend", m.adm, nil, nil)
	require.Equal(t, http.StatusNotFound, code)
}

func TestEmailPreferenceCenterAndListPolarity(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, nil)

	// 8. Journey category round trip through the preference center.
	require.Equal(t, "sent", m.send(t, map[string]any{"to": "pc@example.com", "template": "activation-quickstart"})["status"])
	unsub := unsubscribeURL(t, m.smtp.To("pc@example.com")[0])
	_, _, _, page := m.call(t, http.MethodGet, m.local(unsub), "", nil, nil)
	require.Equal(t, false, m.prefs(t, "pc@example.com")["categories"].(map[string]any)["journey"])
	manage := regexp.MustCompile(`href="([^"]+)">Manage your email preferences`).FindStringSubmatch(page)
	require.NotNil(t, manage, page)
	code, _, _, center := m.call(t, http.MethodGet, m.local(htmlUnescape(manage[1])), "", nil, nil)
	require.Equal(t, http.StatusOK, code)
	// Tokens are bound to their endpoint: a preference-center token does not unsubscribe, and an
	// unsubscribe token does not open the preference center.
	manageToken := strings.SplitN(htmlUnescape(manage[1]), "token=", 2)[1]
	code, _, _, wrong := m.call(t, http.MethodPost, "/v1/email/unsubscribe?token="+manageToken, "", nil, nil)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, wrong, "This link is not meant for this page")
	require.Equal(t, false, m.prefs(t, "pc@example.com")["unsubscribedAll"])
	unsubToken := strings.SplitN(unsub, "token=", 2)[1]
	code, _, _, _ = m.call(t, http.MethodGet, "/v1/email/preferences?token="+unsubToken, "", nil, nil)
	require.Equal(t, http.StatusBadRequest, code)
	row := func(label string) string {
		i := strings.Index(center, ">"+label+"<")
		require.GreaterOrEqual(t, i, 0, "no row %q in %s", label, center)
		j := strings.Index(center[i:], "</div>\n</div>")
		k := strings.Index(center[i:], "</a>")
		return center[i : i+max(j, k)+4]
	}
	require.Contains(t, row("Journey &amp; lifecycle emails"), ">Unsubscribed<")
	require.Contains(t, row("Journey &amp; lifecycle emails"), ">Resubscribe</a>")
	require.Contains(t, row("Product updates"), ">Unsubscribed<")
	require.Contains(t, row("All emails"), ">Receiving emails<")
	resub := regexp.MustCompile(`href="([^"]+)">Resubscribe</a>`).FindStringSubmatch(center)
	_, _, _, back := m.call(t, http.MethodGet, m.local(htmlUnescape(resub[1])), "", nil, nil)
	require.Contains(t, back, "You&#39;re back!")
	require.Equal(t, "sent", m.send(t, map[string]any{"to": "pc@example.com", "template": "activation-quickstart"})["status"])
	all := regexp.MustCompile(`href="([^"]+)">Unsubscribe from all`).FindStringSubmatch(center)
	m.call(t, http.MethodGet, m.local(htmlUnescape(all[1])), "", nil, nil)
	_, sup, _, _ := m.call(t, http.MethodGet, "/v1/admin/suppressions?type=unsubscribed", m.ro, nil, nil)
	require.Equal(t, "pc@example.com", sup["suppressions"].([]any)[0].(map[string]any)["email"])
	require.Equal(t, "unsubscribed", m.send(t, map[string]any{"to": "pc@example.com", "template": "welcome"})["status"])
	_, _, _, center = m.call(t, http.MethodGet, m.local(htmlUnescape(manage[1])), "", nil, nil)
	resubAll := regexp.MustCompile(`href="([^"]+)">Resubscribe to all`).FindStringSubmatch(center)
	require.NotNil(t, resubAll, center)
	m.call(t, http.MethodGet, m.local(htmlUnescape(resubAll[1])), "", nil, nil)
	require.Equal(t, "sent", m.send(t, map[string]any{"to": "pc@example.com", "template": "welcome"})["status"])

	// 15. Opt-in list: nobody gets it until they join; the link then names the list.
	require.Equal(t, "unsubscribed", m.send(t, map[string]any{"to": "news@example.com", "template": "marketing/product-update"})["status"])
	code, _, _, raw := m.call(t, http.MethodPut, "/v1/contacts", m.ing, map[string]any{"email": "news@example.com", "lists": map[string]bool{"product-updates": true}}, nil)
	require.Less(t, code, 300, raw)
	require.Equal(t, "sent", m.send(t, map[string]any{"to": "news@example.com", "template": "marketing/product-update"})["status"])
	tok := strings.TrimPrefix(unsubscribeURL(t, m.smtp.To("news@example.com")[0]), "http://localhost:3002/v1/email/unsubscribe?token=")
	tok, _ = url.QueryUnescape(tok)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	require.NoError(t, err)
	require.Contains(t, string(payload), `"category":"product-updates"`)
}

func TestEmailFrequencyCapAndRateLimit(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, func(env map[string]string, opts *Options) {
		env["NODE_ENV"] = "development" // limiters on
		opts.Email.FrequencyCap = &email.FrequencyCap{Count: 2, Window: 24 * time.Hour}
	})
	// 14. Two journey-category sends pass, the third is skipped; transactional is exempt.
	for i, want := range []string{"sent", "sent", "skipped"} {
		out := m.send(t, map[string]any{"to": "cap@example.com", "template": "welcome", "category": "journey"})
		require.Equal(t, want, out["status"], "send %d", i)
		if want == "skipped" {
			require.Equal(t, map[string]any{"emailSendId": "", "status": "skipped", "reason": "frequency_capped"}, out)
		}
	}
	for range 3 {
		require.Equal(t, "sent", m.send(t, map[string]any{"to": "cap@example.com", "template": "welcome", "category": "transactional"})["status"])
	}
	require.Len(t, m.smtp.To("cap@example.com"), 5)

	// 19. 30 per minute per key (6 spent above): the 31st is refused; another key is not.
	for i := 6; i < 30; i++ {
		code, _, res, raw := m.call(t, http.MethodPost, "/v1/emails", m.ing, map[string]any{"template": "welcome"}, nil)
		require.Equal(t, http.StatusBadRequest, code, raw)
		require.Equal(t, "30", res.Header.Get("X-RateLimit-Limit"))
	}
	code, out, res, _ := m.call(t, http.MethodPost, "/v1/emails", m.ing, map[string]any{"to": "x@example.com", "template": "welcome"}, nil)
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Equal(t, "Rate limit exceeded", out["error"])
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.True(t, retry >= 1 && retry <= 60, "Retry-After %d: until the budget has room again", retry)
	require.Equal(t, "0", res.Header.Get("X-RateLimit-Remaining"))
	code, _, _, _ = m.call(t, http.MethodPost, "/v1/emails", m.adm, map[string]any{"to": "x@example.com", "template": "welcome"}, nil)
	require.Equal(t, http.StatusAccepted, code)
}

func TestEmailTemplatesAdmin(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, nil)
	// 16. Catalog, preview, send-test.
	_, out, _, _ := m.call(t, http.MethodGet, "/v1/admin/templates", m.ro, nil, nil)
	list := out["templates"].([]any)
	require.Len(t, list, 20)
	require.Equal(t, map[string]any{"key": "welcome", "defaultSubject": "Welcome to Hogsend", "category": "transactional", "hasPreview": true}, list[0])
	require.Equal(t, "marketing/product-update", list[19].(map[string]any)["key"])
	_, out, _, _ = m.call(t, http.MethodGet, "/v1/admin/templates/welcome/preview", m.ro, nil, nil)
	require.Contains(t, out["html"], "Ada")
	props := base64.StdEncoding.EncodeToString([]byte(`{"name":"Grace"}`))
	_, out, _, _ = m.call(t, http.MethodGet, "/v1/admin/templates/welcome/preview?props="+url.QueryEscape(props), m.ro, nil, nil)
	require.Contains(t, out["html"], "Grace")
	_, _, res, _ := m.call(t, http.MethodGet, "/v1/admin/templates/welcome/preview?format=html", m.ro, nil, nil)
	require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	_, _, res, body := m.call(t, http.MethodGet, "/v1/admin/templates/welcome/preview?format=text", m.ro, nil, nil)
	require.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))
	require.NotContains(t, body, "<html")
	code, out, _, _ := m.call(t, http.MethodGet, "/v1/admin/templates/welcome/preview?props=bm90IGpzb24", m.ro, nil, nil)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "Invalid props: expected base64 JSON object", out["error"])
	code, _, _, _ = m.call(t, http.MethodGet, "/v1/admin/templates/nope/preview", m.ro, nil, nil)
	require.Equal(t, http.StatusNotFound, code)
	code, out, _, _ = m.call(t, http.MethodGet, "/v1/admin/templates/transactional%2Freceipt/preview", m.ro, nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "Receipt for order HS-10428 — $69.00", out["preview"])
	require.Len(t, m.smtp.Messages(), 0)

	code, out, _, raw := m.call(t, http.MethodPost, "/v1/admin/templates/welcome/send-test", m.adm, map[string]any{"to": "qa@example.com"}, nil)
	require.Equal(t, http.StatusOK, code, raw)
	require.Equal(t, "sent", out["status"])
	qa := m.smtp.To("qa@example.com")
	require.Len(t, qa, 1)
	require.Empty(t, qa[0].Header.Get("List-Unsubscribe"))
	code, _, _, _ = m.call(t, http.MethodPost, "/v1/admin/templates/welcome/send-test", m.ro, map[string]any{"to": "qa@example.com"}, nil)
	require.Equal(t, http.StatusForbidden, code)
	code, _, _, _ = m.call(t, http.MethodPost, "/v1/admin/templates/welcome/send-test", m.adm, map[string]any{"to": "nope"}, nil)
	require.Equal(t, http.StatusBadRequest, code)
	code, _, _, _ = m.call(t, http.MethodPost, "/v1/admin/templates/nope/send-test", m.adm, map[string]any{"to": "qa@example.com"}, nil)
	require.Equal(t, http.StatusNotFound, code)
}

// e2eMail sends the quickstart through the real pipeline and waits an hour; opening that email
// ends the run.
var e2eMail = journey.MustDefine(journey.Meta{
	ID: "e2e-mail", Name: "E2E — Mail", Enabled: true, EntryLimit: journey.EntryUnlimited,
	Trigger: journey.Trigger{Event: "e2e.mail"}, ExitOn: []journey.ExitRule{{Event: "email.opened"}},
}, func(ctx journey.Context, u journey.User) error {
	if _, err := journey.Send(ctx, templates.Quickstart, templates.QuickstartProps{Base: templates.Base{Name: u.String("firstName")}}); err != nil {
		return err
	}
	_, err := ctx.Sleep(journey.Hours(1), "after-send")
	return err
})

func TestJourneySendThroughThePipeline(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	sink, err := smtptest.Start(false)
	require.NoError(t, err)
	t.Cleanup(sink.Close)
	env := testEnv(t, dsn, true)
	env["EMAIL_PROVIDER"], env["SMTP_URL"], env["API_PUBLIC_URL"] = "smtp", sink.URL(), "http://localhost:3002"
	e, _ := testEngineWith(t, env, &Options{Journeys: []*journey.Journey{e2eMail}, Templates: templates.Registry(), Lists: templates.Lists()})
	m := &mailEnv{base: serve(t, e), engine: e, smtp: sink, ro: testAdminKey, ing: testAdminKey}
	runWorker(t, e)
	j := &journeyEnv{base: m.base, engine: e}

	// 20. With firstName the email greets it; without, the address's local part.
	code, _, _, raw := m.call(t, http.MethodPut, "/v1/contacts", m.ing, map[string]any{"userId": "mail-ada", "email": "ada.l@example.com"}, nil)
	require.Less(t, code, 300, raw)
	j.event(t, "mail-ada", "e2e.mail", map[string]any{"firstName": "Ada"})
	waitUntil(t, "the journey email", func() bool { return len(sink.To("ada.l@example.com")) == 1 })
	msg := sink.To("ada.l@example.com")[0]
	require.Contains(t, msg.HTML, "Hi Ada,")
	require.Equal(t, "Your Hogsend setup guide", msg.Subject)
	tok, _ := url.QueryUnescape(strings.TrimPrefix(unsubscribeURL(t, msg), "http://localhost:3002/v1/email/unsubscribe?token="))
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	require.NoError(t, err)
	require.NotContains(t, string(payload), "category")
	require.Contains(t, string(payload), `"externalId":"mail-ada"`)

	_, list, _, _ := m.call(t, http.MethodGet, "/v1/admin/emails?toEmail=ada.l@example.com", m.ro, nil, nil)
	row := list["emails"].([]any)[0].(map[string]any)
	require.Equal(t, "journey", row["category"])
	require.Equal(t, "e2e-mail", row["journeyId"])
	require.NotNil(t, row["journeyStateId"])
	state := j.waitState(t, "e2e-mail", "mail-ada", "waiting")

	// Opening the email ingests email.opened for the contact, which exits the run.
	m.call(t, http.MethodGet, "/v1/t/o/"+row["id"].(string), "", nil, nil)
	j.waitState(t, "e2e-mail", "mail-ada", "exited")
	require.Equal(t, 1, j.eventCount(t, "mail-ada", "email.opened"))
	require.Contains(t, j.logActions(t, state["id"].(string)), "email_sent")

	// A contact with no firstName is greeted by the local part of the address.
	code, _, _, raw = m.call(t, http.MethodPut, "/v1/contacts", m.ing, map[string]any{"userId": "mail-bo", "email": "bo.r@example.com"}, nil)
	require.Less(t, code, 300, raw)
	j.event(t, "mail-bo", "e2e.mail", nil)
	waitUntil(t, "the second journey email", func() bool { return len(sink.To("bo.r@example.com")) == 1 })
	require.Contains(t, sink.To("bo.r@example.com")[0].HTML, "Hi bo.r,")
}

func TestEmailReportingMath(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, nil)
	send := func(to, template string, props map[string]any) (id, providerID string, html string) {
		id = m.send(t, map[string]any{"to": to, "template": template, "props": props})["emailSendId"].(string)
		msgs := m.smtp.To(to)
		return id, m.detail(t, id)["email"].(map[string]any)["resendId"].(string), msgs[len(msgs)-1].HTML
	}
	// welcome: 2 sent, 2 delivered, 1 opened, 1 clicked.
	a, apid, ahtml := send("r1@example.com", "welcome", nil)
	_, bpid, _ := send("r2@example.com", "welcome", nil)
	m.svixPost(t, "d1", providerEvent("email.delivered", apid, "r1@example.com", nil))
	m.svixPost(t, "d2", providerEvent("email.delivered", bpid, "r2@example.com", nil))
	m.call(t, http.MethodGet, "/v1/t/o/"+a, "", nil, nil)
	link := regexp.MustCompile(`http://localhost:3002/v1/t/c/[0-9a-f-]{36}`).FindString(ahtml)
	m.call(t, http.MethodGet, m.local(link), "", nil, nil)
	// password-reset: 1 sent and opened, no delivery report.
	p, _, _ := send("r3@example.com", "password-reset", map[string]any{"resetUrl": "https://x.example/r"})
	m.call(t, http.MethodGet, "/v1/t/o/"+p, "", nil, nil)

	code, rep, _, raw := m.call(t, http.MethodGet, "/v1/admin/reporting/templates/welcome?granularity=day", m.ro, nil, nil)
	require.Equal(t, http.StatusOK, code, raw)
	totals := rep["totals"].(map[string]any)
	require.EqualValues(t, 2, totals["sent"])
	require.EqualValues(t, 2, totals["delivered"])
	require.EqualValues(t, 1, totals["deliveryRate"])
	require.EqualValues(t, 0.5, totals["openRate"])
	require.EqualValues(t, 0.5, totals["clickToDeliveryRate"])
	require.EqualValues(t, 1, totals["clickRate"])
	require.Equal(t, map[string]any{"from": nil, "to": nil}, rep["window"])
	series := rep["series"].([]any)
	require.Len(t, series, 1)
	require.Regexp(t, `^\d{4}-\d{2}-\d{2} 00:00:00\+00$`, series[0].(map[string]any)["date"])
	code, _, _, _ = m.call(t, http.MethodGet, "/v1/admin/reporting/templates/feedback-nps-survey", m.ro, nil, nil)
	require.Equal(t, http.StatusNotFound, code)
	code, _, _, _ = m.call(t, http.MethodGet, "/v1/admin/reporting/templates/welcome?from=yesterday", m.ro, nil, nil)
	require.Equal(t, http.StatusBadRequest, code)

	_, metrics, _, _ := m.call(t, http.MethodGet, "/v1/admin/metrics/emails", m.ro, nil, nil)
	rows := map[string]map[string]any{}
	for _, r := range metrics["templates"].([]any) {
		rows[r.(map[string]any)["templateKey"].(string)] = r.(map[string]any)
	}
	require.EqualValues(t, 0.5, rows["welcome"]["openRate"])
	require.EqualValues(t, 1, rows["password-reset"]["openRate"])
	require.EqualValues(t, 0, rows["password-reset"]["clickToDeliveryRate"])

	_, ov, _, _ := m.call(t, http.MethodGet, "/v1/admin/metrics/overview", m.ro, nil, nil)
	require.EqualValues(t, 3, ov["emailsSent24h"])
	_, dv, _, _ := m.call(t, http.MethodGet, "/v1/admin/metrics/emails/deliverability", m.ro, nil, nil)
	point := dv["points"].([]any)[0].(map[string]any)
	require.EqualValues(t, 3, point["total"])
	require.EqualValues(t, 0.6667, point["deliveryRate"])

	// CSV export: exact header, both welcome ids, no trailing newline.
	code, _, res, csv := m.call(t, http.MethodGet, "/v1/admin/reporting/sends/export?templateKey=welcome", m.adm, nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="email-sends.csv"`, res.Header.Get("Content-Disposition"))
	lines := strings.Split(csv, "\n")
	require.Equal(t, "id,createdAt,templateKey,status,toEmail,userId,subject,sentAt,deliveredAt,openedAt,clickedAt,bouncedAt,complainedAt,bounceType", lines[0])
	require.Len(t, lines, 3)
	require.Contains(t, csv, a)
	require.False(t, strings.HasSuffix(csv, "\n"))
	code, _, _, _ = m.call(t, http.MethodGet, "/v1/admin/reporting/sends/export?status=nope", m.adm, nil, nil)
	require.Equal(t, http.StatusBadRequest, code)

	// 18. Email log filters.
	_, log, _, _ := m.call(t, http.MethodGet, "/v1/admin/emails?engagement=opened", m.ro, nil, nil)
	require.EqualValues(t, 2, log["total"])
	_, log, _, _ = m.call(t, http.MethodGet, "/v1/admin/emails?userId=r3%40example.com", m.ro, nil, nil)
	require.EqualValues(t, 1, log["total"])
	_, desc, _, _ := m.call(t, http.MethodGet, "/v1/admin/emails", m.ro, nil, nil)
	_, asc, _, _ := m.call(t, http.MethodGet, "/v1/admin/emails?sort=createdAt&order=asc", m.ro, nil, nil)
	first := func(l map[string]any) any { return l["emails"].([]any)[0].(map[string]any)["id"] }
	require.Equal(t, a, first(asc))
	require.Equal(t, p, first(desc))
	_, one, _, _ := m.call(t, http.MethodGet, "/v1/admin/emails?limit=1", m.ro, nil, nil)
	require.Len(t, one["emails"], 1)
	require.EqualValues(t, 3, one["total"])
	code, _, _, _ = m.call(t, http.MethodGet, "/v1/admin/emails?sort=subject", m.ro, nil, nil)
	require.Equal(t, http.StatusBadRequest, code)

	// Contact activity by id or external id.
	m.call(t, http.MethodPut, "/v1/contacts", m.ing, map[string]any{"email": "r1@example.com", "userId": "r-one"}, nil)
	code, act, _, raw := m.call(t, http.MethodGet, "/v1/admin/reporting/contacts/r-one/activity", m.ro, nil, nil)
	require.Equal(t, http.StatusOK, code, raw)
	require.EqualValues(t, 1, act["total"])
	require.Equal(t, a, act["sends"].([]any)[0].(map[string]any)["id"])
	code, _, _, _ = m.call(t, http.MethodGet, "/v1/admin/reporting/contacts/nobody/activity", m.ro, nil, nil)
	require.Equal(t, http.StatusNotFound, code)
}

func TestEmailOutboundEvents(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, nil)
	// Nothing subscribes yet: a send records no outbound event.
	m.send(t, map[string]any{"to": "before@example.com", "template": "welcome"})
	_, err := m.engine.pool.Exec(t.Context(), `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types)
		VALUES ('https://hooks.example.com/x', 'whsec_x', 'whsec_x', '["email.sent","email.opened","email.clicked","email.delivered","email.bounced","contact.unsubscribed"]')`)
	require.NoError(t, err)

	out := m.send(t, map[string]any{"to": "out@example.com", "template": "welcome"})
	id := out["emailSendId"].(string)
	msg := m.smtp.To("out@example.com")[0]
	pid := m.detail(t, id)["email"].(map[string]any)["resendId"].(string)
	m.call(t, http.MethodGet, "/v1/t/o/"+id, "", nil, nil)
	m.call(t, http.MethodGet, "/v1/t/o/"+id, "", nil, nil) // a second open: no second event
	link := regexp.MustCompile(`http://localhost:3002/v1/t/c/[0-9a-f-]{36}`).FindString(msg.HTML)
	m.call(t, http.MethodGet, m.local(link), "", nil, nil)
	m.svixPost(t, "evt_delivered", providerEvent("email.delivered", pid, "out@example.com", nil))
	m.svixPost(t, "evt_bounced", providerEvent("email.bounced", pid, "out@example.com", map[string]any{"type": "Transient", "message": "Mailbox full"}))
	m.call(t, http.MethodGet, m.local(unsubscribeURL(t, msg)), "", nil, nil)

	want := map[string]int{"email.sent": 1, "email.opened": 1, "email.clicked": 1, "email.delivered": 1, "email.bounced": 1, "contact.unsubscribed": 1}
	var got map[string]int
	waitUntil(t, "outbound deliveries", func() bool {
		rows, err := m.engine.pool.Query(t.Context(), `SELECT event_type, count(*)::int FROM webhook_deliveries GROUP BY event_type`)
		require.NoError(t, err)
		got = map[string]int{}
		for rows.Next() {
			var k string
			var n int
			require.NoError(t, rows.Scan(&k, &n))
			got[k] = n
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	var payload []byte
	require.NoError(t, m.engine.pool.QueryRow(t.Context(), `SELECT payload::text FROM webhook_deliveries WHERE event_type = 'email.bounced'`).Scan(&payload))
	require.Contains(t, string(payload), `"bounceType": "Transient"`)
	require.Contains(t, string(payload), `"emailSendId": "`+id+`"`)
	require.NoError(t, m.engine.pool.QueryRow(t.Context(), `SELECT payload::text FROM webhook_deliveries WHERE event_type = 'email.sent'`).Scan(&payload))
	require.Contains(t, string(payload), `"to": "out@example.com"`)
	require.Contains(t, string(payload), `"templateKey": "welcome"`)
}

func TestUnsubscribeGetConfirm(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, func(env map[string]string, _ *Options) { env["UNSUBSCRIBE_GET_CONFIRM"] = "true" })
	m.send(t, map[string]any{"to": "scanned@example.com", "template": "welcome"})
	link := m.local(unsubscribeURL(t, m.smtp.To("scanned@example.com")[0]))

	// A scanner's GET changes nothing: the page only offers a button that POSTs.
	code, _, _, page := m.call(t, http.MethodGet, link, "", nil, nil)
	require.Equal(t, http.StatusOK, code)
	action := regexp.MustCompile(`<form method="post" action="([^"]+)"><button type="submit">Unsubscribe</button>`).FindStringSubmatch(page)
	require.NotNil(t, action, page)
	require.Equal(t, "sent", m.send(t, map[string]any{"to": "scanned@example.com", "template": "welcome"})["status"])

	res, err := http.Post(m.base+htmlUnescape(action[1]), "application/x-www-form-urlencoded", nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(body), "You&#39;ve been unsubscribed")
	require.Equal(t, "unsubscribed", m.send(t, map[string]any{"to": "scanned@example.com", "template": "welcome"})["status"])
}

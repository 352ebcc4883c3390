package hogsend

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/schema/schematest"
)

// hookReceiver verifies each delivery with the svix library and answers with the queued
// statuses (then 200).
type hookReceiver struct {
	mu      sync.Mutex
	secret  string
	answers []int
	got     []hookDelivery
	srv     *httptest.Server
}

type hookDelivery struct {
	at       time.Time
	verified bool
	id, kind string
}

func newHookReceiver(t *testing.T, answers ...int) *hookReceiver {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	r := &hookReceiver{secret: "whsec_" + base64.StdEncoding.EncodeToString(b), answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		wh, _ := svix.NewWebhook(r.secret)
		var env struct{ ID, Type string }
		_ = json.Unmarshal(body, &env)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, hookDelivery{at: time.Now(), verified: wh.Verify(body, req.Header) == nil, id: env.ID, kind: env.Type})
		code := http.StatusOK
		if len(r.answers) > 0 {
			code, r.answers = r.answers[0], r.answers[1:]
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) deliveries() []hookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookDelivery(nil), r.got...)
}

func TestOutboundWebhooksAreSignedDeliveredAndRetriedOverHTTP(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	env := testEnv(t, dsn, true)
	env["OUTBOUND_WEBHOOK_BASE_DELAY_MS"] = "200"
	e, logs := testEngineWith(t, env, &Options{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := serve(t, e)
	runWorker(t, e)
	ctx := context.Background()
	healthy, flaky := newHookReceiver(t), newHookReceiver(t, 503, 500)
	for _, r := range []*hookReceiver{healthy, flaky} {
		_, err := e.pool.Exec(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types)
			VALUES ($1, $2, left($2, 12), '["contact.created"]')`, r.srv.URL, r.secret)
		require.NoError(t, err)
	}
	code, out := requestJSON(t, http.MethodPut, base+"/v1/contacts", testAdminKey, map[string]any{"userId": "wh-1", "email": "wh-1@example.com"})
	require.Equal(t, http.StatusOK, code, out)

	// The healthy receiver gets one signed delivery, straight from the dispatcher.
	waitUntil(t, "the healthy delivery", func() bool { return len(healthy.deliveries()) == 1 })
	got := healthy.deliveries()[0]
	require.True(t, got.verified, "signature verified by the svix library")
	require.Equal(t, "contact.created", got.kind)
	// The flaky one is retried on durable timers, not before each retry is due, and delivered once.
	waitUntil(t, "the flaky delivery to succeed", func() bool { return len(flaky.deliveries()) == 3 })
	tries := flaky.deliveries()
	for i, d := range tries {
		require.True(t, d.verified)
		require.Equal(t, got.id, d.id, "one Webhook-Id for every endpoint and every retry")
		if i > 0 {
			// The delay after failure n is at least 200 ms · 2ⁿ.
			require.GreaterOrEqual(t, d.at.Sub(tries[i-1].at), 200*time.Millisecond*time.Duration(1<<i))
		}
	}
	var statuses []string
	rows, err := e.pool.Query(ctx, `SELECT status::text || '/' || attempt_count FROM webhook_deliveries ORDER BY attempt_count`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		statuses = append(statuses, s)
	}
	require.Equal(t, []string{"delivered/1", "delivered/3"}, statuses)

	// Only the delivery that needed retries ran as a workflow.
	var ids []string
	rows, err = e.pool.Query(ctx, `SELECT id::text FROM webhook_deliveries`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	workflows := 0
	for _, id := range ids {
		if _, err := e.temporal.DescribeWorkflowExecution(ctx, contract.DeliveryWorkflowID(id), ""); err != nil {
			continue
		}
		workflows++
		waitUntil(t, "the retry workflow to complete", func() bool {
			d, err := e.temporal.DescribeWorkflowExecution(ctx, contract.DeliveryWorkflowID(id), "")
			return err == nil && d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
		})
	}
	require.Equal(t, 1, workflows)
}

func TestWebhookAdminOverHTTP(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	env := testEnv(t, dsn, true)
	env["OUTBOUND_WEBHOOK_BASE_DELAY_MS"] = "100"
	e, logs := testEngineWith(t, env, &Options{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := serve(t, e)
	runWorker(t, e)
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		return requestJSON(t, method, base+path, testAdminKey, body)
	}
	rcv := newHookReceiver(t)

	// Create: 201 with the secret, shown this once.
	code, ep := call(http.MethodPost, "/v1/admin/webhooks", map[string]any{"url": "  " + rcv.srv.URL + "  ", "eventTypes": []string{"contact.created"},
		"description": "CRM sync"})
	require.Equal(t, http.StatusCreated, code, ep)
	id, secret := ep["id"].(string), ep["secret"].(string)
	require.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, secret)
	require.Equal(t, secret[:12], ep["secretPrefix"])
	require.Equal(t, []any{rcv.srv.URL, "enabled", nil}, []any{ep["url"], ep["status"], ep["lastDeliveryAt"]})
	code, got := call(http.MethodGet, "/v1/admin/webhooks/"+id, nil)
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, got, "secret")
	for _, bad := range []map[string]any{
		{"url": "ftp://x.example", "eventTypes": []string{"contact.created"}},
		{"url": "https://x.example"},
		{"url": "https://x.example", "eventTypes": []string{}},
		{"url": "https://x.example", "eventTypes": []string{"webhook.test"}},
		{"url": "https://x.example", "eventTypes": []string{"contact.created"}, "description": strings.Repeat("d", 501)},
		{"url": "https://x.example", "eventTypes": []string{"contact.created"}, "description": nil},
	} {
		code, out := call(http.MethodPost, "/v1/admin/webhooks", bad)
		require.Equal(t, http.StatusBadRequest, code, "%v: %v", bad, out)
	}
	code, _ = call(http.MethodGet, "/v1/admin/webhooks/nope", nil)
	require.Equal(t, http.StatusBadRequest, code, "a non-UUID id is a 400")
	code, out := call(http.MethodGet, "/v1/admin/webhooks/00000000-0000-4000-8000-000000000000", nil)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "Webhook endpoint not found", out["error"])

	// Patch: only what is given changes; null clears the description.
	code, got = call(http.MethodPatch, "/v1/admin/webhooks/"+id, map[string]any{"description": nil, "eventTypes": []string{"contact.created", "contact.deleted"}})
	require.Equal(t, http.StatusOK, code, got)
	require.Equal(t, []any{nil, []any{"contact.created", "contact.deleted"}, rcv.srv.URL}, []any{got["description"], got["eventTypes"], got["url"]})

	// Test send, signed with the secret; after a rotation only the new one verifies.
	rcv.mu.Lock()
	rcv.secret = secret
	rcv.mu.Unlock()
	code, out = call(http.MethodPost, "/v1/admin/webhooks/"+id+"/test", nil)
	require.Equal(t, http.StatusAccepted, code, out)
	require.Equal(t, map[string]any{"enqueued": true, "eventType": "webhook.test"}, out)
	waitUntil(t, "the test delivery", func() bool { return len(rcv.deliveries()) == 1 })
	require.True(t, rcv.deliveries()[0].verified)
	require.Equal(t, "webhook.test", rcv.deliveries()[0].kind)
	code, rotated := call(http.MethodPost, "/v1/admin/webhooks/"+id+"/rotate-secret", nil)
	require.Equal(t, http.StatusOK, code)
	require.NotEqual(t, secret, rotated["secret"])
	code, _ = call(http.MethodPost, "/v1/admin/webhooks/"+id+"/test", nil)
	require.Equal(t, http.StatusAccepted, code)
	waitUntil(t, "the second test delivery", func() bool { return len(rcv.deliveries()) == 2 })
	require.False(t, rcv.deliveries()[1].verified, "the old secret signs nothing more")
	code, list := call(http.MethodGet, "/v1/admin/webhooks/"+id+"/deliveries", nil)
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 2, list["total"])

	// A receiver that refuses: tolerated once, then failed into the DLQ; the DLQ retry sends it again.
	refusing := newHookReceiver(t, 400, 400)
	code, ep2 := call(http.MethodPost, "/v1/admin/webhooks", map[string]any{"url": refusing.srv.URL, "eventTypes": []string{"contact.created"}})
	require.Equal(t, http.StatusCreated, code)
	refusing.secret = ep2["secret"].(string)
	code, _ = call(http.MethodPost, "/v1/admin/webhooks/"+ep2["id"].(string)+"/test", nil)
	require.Equal(t, http.StatusAccepted, code)
	var dlq []any
	waitUntil(t, "the dead letter", func() bool {
		_, out := call(http.MethodGet, "/v1/admin/dlq?source=webhook-delivery&status=pending", nil)
		dlq = out["entries"].([]any)
		return len(dlq) == 1
	})
	entry := dlq[0].(map[string]any)
	require.Equal(t, "Exhausted 2: HTTP 400", entry["error"])
	require.Len(t, refusing.deliveries(), 2)
	code, out = call(http.MethodPost, "/v1/admin/dlq/"+entry["id"].(string)+"/retry", nil)
	require.Equal(t, http.StatusOK, code, out)
	waitUntil(t, "the redelivery", func() bool { return len(refusing.deliveries()) == 3 })
	require.Equal(t, refusing.deliveries()[0].id, refusing.deliveries()[2].id, "the same Webhook-Id")
	code, out = call(http.MethodPost, "/v1/admin/dlq/"+entry["id"].(string)+"/retry", nil)
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "Entry is not in pending state", out["error"])
	code, _ = call(http.MethodDelete, "/v1/admin/dlq/"+entry["id"].(string), nil)
	require.Equal(t, http.StatusOK, code)

	// Disabled: redelivery refused, deletes cascade.
	deliveries := list["deliveries"].([]any)
	code, _ = call(http.MethodPatch, "/v1/admin/webhooks/"+id, map[string]any{"disabled": true})
	require.Equal(t, http.StatusOK, code)
	code, out = call(http.MethodPost, "/v1/admin/webhooks/"+id+"/deliveries/"+deliveries[0].(map[string]any)["id"].(string)+"/redeliver", nil)
	require.Equal(t, http.StatusConflict, code, out)
	code, listed := call(http.MethodGet, "/v1/admin/webhooks?includeDisabled=false", nil)
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 1, listed["total"])
	code, _ = call(http.MethodDelete, "/v1/admin/webhooks/"+id, nil)
	require.Equal(t, http.StatusOK, code)
	code, _ = call(http.MethodGet, "/v1/admin/webhooks/"+id, nil)
	require.Equal(t, http.StatusNotFound, code)
}

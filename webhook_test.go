package hogsend

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
		d, err := e.temporal.DescribeWorkflowExecution(ctx, contract.DeliveryWorkflowID(id), "")
		if err == nil {
			workflows++
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, d.WorkflowExecutionInfo.Status)
		}
	}
	require.Equal(t, 1, workflows)
}

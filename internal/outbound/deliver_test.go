package outbound_test

import (
	"bytes"
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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/schema/schematest"
)

func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// receiver answers with the statuses queued in answers (then 200), verifying every request's
// signature with the secret it is told.
type receiver struct {
	mu       sync.Mutex
	secret   string
	answers  []int
	got      [][]byte
	verified []bool
	headers  []http.Header
	srv      *httptest.Server
}

func newReceiver(t *testing.T, secret string, answers ...int) *receiver {
	r := &receiver{secret: secret, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		wh, err := svix.NewWebhook(r.secret)
		require.NoError(t, err)
		r.got, r.headers = append(r.got, body), append(r.headers, req.Header.Clone())
		r.verified = append(r.verified, wh.Verify(body, req.Header) == nil)
		code := http.StatusOK
		if len(r.answers) > 0 {
			code, r.answers = r.answers[0], r.answers[1:]
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

type deliveryRig struct {
	pool   *pgxpool.Pool
	sender *outbound.Sender
}

func newDeliveryRig(t *testing.T, s outbound.Settings) *deliveryRig {
	t.Helper()
	pool, _ := schematest.TestDB(t)
	return &deliveryRig{pool: pool, sender: &outbound.Sender{DB: pool, Settings: s}}
}

// delivery creates an endpoint and one pending delivery of an event to it.
func (r *deliveryRig) delivery(t *testing.T, url, secret string) (endpointID, deliveryID string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, r.pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types)
		VALUES ($1, $2, left($2, 12), '["contact.created"]') RETURNING id::text`, url, secret).Scan(&endpointID))
	env := `{"id": "msg_test", "type": "contact.created", "timestamp": "2026-01-02T03:04:05.006Z",
		"data": {"id": "c1", "email": "a@x.com", "n": 1.50}}`
	require.NoError(t, r.pool.QueryRow(ctx, `INSERT INTO webhook_deliveries (endpoint_id, webhook_id, event_type, payload, next_retry_at)
		VALUES ($1, 'msg_test', 'contact.created', $2::jsonb, now()) RETURNING id::text`, endpointID, env).Scan(&deliveryID))
	return endpointID, deliveryID
}

func (r *deliveryRig) row(t *testing.T, id string) (status string, attempts int, next *time.Time, lastErr *string) {
	t.Helper()
	require.NoError(t, r.pool.QueryRow(context.Background(), `SELECT status::text, attempt_count, next_retry_at, last_error
		FROM webhook_deliveries WHERE id = $1`, id).Scan(&status, &attempts, &next, &lastErr))
	return
}

// due makes a pending delivery due now (as its timer would).
func (r *deliveryRig) due(t *testing.T, id string) {
	t.Helper()
	_, err := r.pool.Exec(context.Background(), `UPDATE webhook_deliveries SET next_retry_at = now() - interval '1 millisecond' WHERE id = $1`, id)
	require.NoError(t, err)
}

func TestADeliveryIsSignedAndRecorded(t *testing.T) {
	t.Parallel()
	r := newDeliveryRig(t, outbound.Settings{})
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	_, id := r.delivery(t, rcv.srv.URL, secret)
	out, err := r.sender.Attempt(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, outbound.Delivered, out.Status)
	require.Equal(t, []bool{true}, rcv.verified, "the svix library verifies it")
	h := rcv.headers[0]
	require.Equal(t, "msg_test", h.Get("Webhook-Id"))
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, "Hogsend-Webhooks", h.Get("User-Agent"))
	require.Empty(t, h.Get("Svix-Id"))
	// The body is the stored envelope in Postgres's key order, compact.
	var stored []byte
	require.NoError(t, r.pool.QueryRow(context.Background(), `SELECT payload::text FROM webhook_deliveries WHERE id = $1`, id).Scan(&stored))
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, stored))
	require.Equal(t, compact.String(), string(rcv.got[0]))
	require.Equal(t, `{"id":"msg_test","data":{"n":1.50,"id":"c1","email":"a@x.com"},"type":"contact.created","timestamp":"2026-01-02T03:04:05.006Z"}`,
		string(rcv.got[0]))
	status, attempts, next, lastErr := r.row(t, id)
	require.Equal(t, []any{"delivered", 1, (*time.Time)(nil), (*string)(nil)}, []any{status, attempts, next, lastErr})
	var last *time.Time
	require.NoError(t, r.pool.QueryRow(context.Background(), `SELECT last_delivery_at FROM webhook_endpoints`).Scan(&last))
	require.NotNil(t, last)

	// A terminal delivery is never posted again.
	out, err = r.sender.Attempt(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, outbound.Delivered, out.Status)
	require.Len(t, rcv.got, 1)
}

func TestRetriesBackOffThenDeadLetter(t *testing.T) {
	t.Parallel()
	base := 100 * time.Millisecond
	r := newDeliveryRig(t, outbound.Settings{BaseDelay: base, MaxAttempts: 3})
	secret := newSecret(t)
	rcv := newReceiver(t, secret, 503, 429, 500)
	_, id := r.delivery(t, rcv.srv.URL, secret)
	ctx := context.Background()
	for n := 1; n <= 2; n++ {
		before := time.Now()
		out, err := r.sender.Attempt(ctx, id)
		require.NoError(t, err)
		require.Equal(t, outbound.Pending, out.Status)
		// Due at base·2ⁿ plus jitter below one base, from the attempt.
		wait := out.NextRetryAt.Sub(before)
		require.GreaterOrEqual(t, wait, base*time.Duration(1<<n))
		require.Less(t, wait, base*time.Duration(1<<n)+base+50*time.Millisecond)
		// Not due yet: the attempt is not made.
		again, err := r.sender.Attempt(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []any{outbound.Pending, n}, []any{again.Status, again.Attempts})
		require.True(t, out.NextRetryAt.Equal(*again.NextRetryAt), "%v %v", out.NextRetryAt, again.NextRetryAt)
		require.Len(t, rcv.got, n)
		r.due(t, id)
	}
	out, err := r.sender.Attempt(ctx, id)
	require.NoError(t, err)
	require.Equal(t, outbound.Failed, out.Status)
	status, attempts, next, lastErr := r.row(t, id)
	require.Equal(t, []any{"failed", 3, (*time.Time)(nil), "HTTP 500"}, []any{status, attempts, next, *lastErr})
	var dlqErr, source string
	var body map[string]any
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT source, error, payload FROM dead_letter_queue WHERE source_id = $1`, id).Scan(&source, &dlqErr, &body))
	require.Equal(t, "webhook-delivery", source)
	require.Equal(t, "Exhausted 3: HTTP 500", dlqErr)
	require.Equal(t, "msg_test", body["webhookId"])
	require.Equal(t, rcv.srv.URL, body["url"])
	require.Equal(t, "msg_test", body["body"].(map[string]any)["id"])
	require.Equal(t, []bool{true, true, true}, rcv.verified)
}

func TestARefusalIsToleratedOnceAndAnUnreachableReceiverIsRetried(t *testing.T) {
	t.Parallel()
	r := newDeliveryRig(t, outbound.Settings{BaseDelay: 10 * time.Millisecond})
	secret := newSecret(t)
	rcv := newReceiver(t, secret, 400, 404)
	_, id := r.delivery(t, rcv.srv.URL, secret)
	ctx := context.Background()
	out, err := r.sender.Attempt(ctx, id)
	require.NoError(t, err)
	require.Equal(t, outbound.Pending, out.Status)
	r.due(t, id)
	out, err = r.sender.Attempt(ctx, id)
	require.NoError(t, err)
	require.Equal(t, outbound.Failed, out.Status, "a second refusal is final")
	require.Equal(t, 2, out.Attempts)

	// Nobody listening: retryable, with the transport's error.
	_, dead := r.delivery(t, "http://127.0.0.1:1/hook", secret)
	out, err = r.sender.Attempt(ctx, dead)
	require.NoError(t, err)
	require.Equal(t, outbound.Pending, out.Status)
	_, _, _, lastErr := r.row(t, dead)
	require.Contains(t, *lastErr, "connect")
}

func TestBlockingPrivateNetworksRefusesLocalReceiversAsARetryableError(t *testing.T) {
	t.Parallel()
	r := newDeliveryRig(t, outbound.Settings{BlockPrivateNetworks: true})
	secret := newSecret(t)
	rcv := newReceiver(t, secret)
	ctx := context.Background()
	// By address, and by a name that resolves to it: the check is on the address dialled.
	for _, url := range []string{rcv.srv.URL, strings.Replace(rcv.srv.URL, "127.0.0.1", "localhost", 1)} {
		_, id := r.delivery(t, url, secret)
		out, err := r.sender.Attempt(ctx, id)
		require.NoError(t, err)
		require.Equal(t, outbound.Pending, out.Status, url)
		_, _, _, lastErr := r.row(t, id)
		require.Contains(t, *lastErr, "a private address (OUTBOUND_WEBHOOK_BLOCK_PRIVATE_NETWORKS)", url)
	}
	require.Empty(t, rcv.got, "nothing reached the receiver")
}

func TestDisablingAndRotatingTakeEffectAtTheNextAttempt(t *testing.T) {
	t.Parallel()
	r := newDeliveryRig(t, outbound.Settings{BaseDelay: 10 * time.Millisecond})
	ctx := context.Background()
	oldSecret, newSecret_ := newSecret(t), newSecret(t)
	rcv := newReceiver(t, oldSecret, 500)
	endpoint, id := r.delivery(t, rcv.srv.URL, oldSecret)
	out, err := r.sender.Attempt(ctx, id)
	require.NoError(t, err)
	require.Equal(t, outbound.Pending, out.Status)
	// Rotated mid-retry: the retry is signed with the new secret.
	_, err = r.pool.Exec(ctx, `UPDATE webhook_endpoints SET secret = $2 WHERE id = $1`, endpoint, newSecret_)
	require.NoError(t, err)
	rcv.mu.Lock()
	rcv.secret = newSecret_
	rcv.mu.Unlock()
	r.due(t, id)
	out, err = r.sender.Attempt(ctx, id)
	require.NoError(t, err)
	require.Equal(t, outbound.Delivered, out.Status)
	require.Equal(t, []bool{true, true}, rcv.verified)

	// Disabled: the pending retry is discarded, nothing posted, nothing dead-lettered.
	rcv2 := newReceiver(t, oldSecret, 500)
	endpoint2, id2 := r.delivery(t, rcv2.srv.URL, oldSecret)
	_, err = r.sender.Attempt(ctx, id2)
	require.NoError(t, err)
	_, err = r.pool.Exec(ctx, `UPDATE webhook_endpoints SET disabled = true WHERE id = $1`, endpoint2)
	require.NoError(t, err)
	r.due(t, id2)
	out, err = r.sender.Attempt(ctx, id2)
	require.NoError(t, err)
	require.Equal(t, outbound.Outcome{Status: outbound.Discarded, Reason: "endpoint_disabled", Attempts: 1}, out)
	require.Len(t, rcv2.got, 1)
	var dlq int
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT count(*) FROM dead_letter_queue`).Scan(&dlq))
	require.Zero(t, dlq)
}

func TestTheSweeperStartsRetriesOfDeliveriesNothingDrives(t *testing.T) {
	t.Parallel()
	r := newDeliveryRig(t, outbound.Settings{})
	ctx := context.Background()
	secret := newSecret(t)
	_, due := r.delivery(t, "http://127.0.0.1:1/a", secret)
	_, stuck := r.delivery(t, "http://127.0.0.1:1/b", secret)
	_, later := r.delivery(t, "http://127.0.0.1:1/c", secret)
	_, queued := r.delivery(t, "http://127.0.0.1:1/d", secret) // due, its first attempt likely queued: not yet
	_, err := r.pool.Exec(ctx, `UPDATE webhook_deliveries SET next_retry_at = now() - interval '1 minute' WHERE id = $1`, due)
	require.NoError(t, err)
	r.due(t, queued)
	_, err = r.pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'sending', updated_at = now() - interval '10 minutes' WHERE id = $1`, stuck)
	require.NoError(t, err)
	_, err = r.pool.Exec(ctx, `UPDATE webhook_deliveries SET next_retry_at = now() + interval '1 hour' WHERE id = $1`, later)
	require.NoError(t, err)
	res, err := outbound.Sweep(ctx, r.pool, 5*time.Minute)
	require.NoError(t, err)
	require.Equal(t, 2, res.Redriven)
	rows, err := r.pool.Query(ctx, `SELECT payload->>'workflowId' FROM outbox WHERE kind = 'temporal.start' ORDER BY 1`)
	require.NoError(t, err)
	var started []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		started = append(started, s)
	}
	require.ElementsMatch(t, []string{"webhook-delivery:" + due, "webhook-delivery:" + stuck}, started)
}

// Part D 5: an attempt the receiver does not answer in time is retried with the timeout as its
// error and no response status; the next answer delivers it.
func TestATimedOutAttemptIsRetried(t *testing.T) {
	t.Parallel()
	r := newDeliveryRig(t, outbound.Settings{Timeout: 200 * time.Millisecond, BaseDelay: 10 * time.Millisecond})
	secret := newSecret(t)
	var mu sync.Mutex
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		slow := first
		first = false
		mu.Unlock()
		_, _ = io.ReadAll(req.Body) // the server notices a hang-up only once the body is read
		if slow {
			<-req.Context().Done() // no answer until the client gives up
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	_, id := r.delivery(t, srv.URL, secret)
	ctx := context.Background()

	out, err := r.sender.Attempt(ctx, id)
	require.NoError(t, err)
	require.Equal(t, outbound.Pending, out.Status)
	var status *int
	var lastErr *string
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT response_status, last_error FROM webhook_deliveries WHERE id = $1`, id).Scan(&status, &lastErr))
	require.Nil(t, status)
	require.Equal(t, "Timeout after 200ms", *lastErr)

	r.due(t, id)
	out, err = r.sender.Attempt(ctx, id)
	require.NoError(t, err)
	require.Equal(t, outbound.Delivered, out.Status)
	require.Equal(t, 2, out.Attempts)
}

// Part D 7: 429 is retryable to the last attempt, unlike a refusal.
func TestTooManyRequestsIsRetriedToTheLastAttempt(t *testing.T) {
	t.Parallel()
	r := newDeliveryRig(t, outbound.Settings{MaxAttempts: 8, BaseDelay: time.Millisecond})
	secret := newSecret(t)
	rcv := newReceiver(t, secret, 429, 429, 429, 429, 429, 429, 429, 429)
	_, id := r.delivery(t, rcv.srv.URL, secret)
	ctx := context.Background()
	for i := 1; i <= 8; i++ {
		out, err := r.sender.Attempt(ctx, id)
		require.NoError(t, err)
		require.Equal(t, i, out.Attempts)
		if i < 8 {
			require.Equal(t, outbound.Pending, out.Status, "attempt %d", i)
			r.due(t, id)
		} else {
			require.Equal(t, outbound.Failed, out.Status)
		}
	}
	require.Len(t, rcv.got, 8)
	var dlqErr string
	require.NoError(t, r.pool.QueryRow(ctx, `SELECT error FROM dead_letter_queue WHERE source = 'webhook-delivery'`).Scan(&dlqErr))
	require.Equal(t, "Exhausted 8: HTTP 429", dlqErr)
}

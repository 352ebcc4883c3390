package outbound

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/batch"
	"github.com/hogsend/hogsend/internal/store"
)

// Settings are the delivery knobs (OUTBOUND_WEBHOOK_*). Zero values take the defaults.
type Settings struct {
	MaxAttempts int           // default 8
	Timeout     time.Duration // per attempt: connect, headers and body (default 15 s)
	BaseDelay   time.Duration // backoff base (default 5 s)
	MaxDelay    time.Duration // backoff cap (default 6 h)
	// BlockPrivateNetworks refuses, at connect time, loopback, private, link-local, CGNAT and
	// unspecified addresses (whatever a name resolves to, redirects included).
	BlockPrivateNetworks bool
	UserAgent            string // default "Hogsend-Webhooks"
}

func (s Settings) maxAttempts() int         { return cmp.Or(s.MaxAttempts, 8) }
func (s Settings) timeout() time.Duration   { return cmp.Or(s.Timeout, 15*time.Second) }
func (s Settings) baseDelay() time.Duration { return cmp.Or(s.BaseDelay, 5*time.Second) }
func (s Settings) maxDelay() time.Duration  { return cmp.Or(s.MaxDelay, 6*time.Hour) }

// Backoff is the delay after the n-th failed attempt: base·2ⁿ plus up to one base of jitter,
// capped (n = 1 after the first failure: 10–15 s with the defaults).
func (s Settings) Backoff(n int) time.Duration {
	d := s.baseDelay()*time.Duration(1<<min(n, 30)) + time.Duration(rand.Int64N(int64(s.baseDelay())))
	return min(d, s.maxDelay())
}

// Sender makes delivery attempts. Each one reads the row and its endpoint live (the current
// URL and secret), claims the row, POSTs the stored envelope signed for this attempt and
// records the classified outcome. An HTTP failure is an outcome; only a database fault is an
// error.
type Sender struct {
	DB       store.DBTX
	Client   *http.Client // nil = one with connection reuse (guarded per Settings)
	Settings Settings

	once   sync.Once
	claims *batch.Coalescer[store.DeliveryClaim, bool]
	marks  *batch.Coalescer[store.DeliveredAttempt, struct{}]
}

// writes coalesces concurrent attempts' claims and delivered marks: under load one statement
// and one commit serve many deliveries, and an attempt alone waits for nobody.
func (s *Sender) writes() {
	s.once.Do(func() {
		s.claims = &batch.Coalescer[store.DeliveryClaim, bool]{Run: func(ctx context.Context, c []store.DeliveryClaim) ([]bool, error) {
			return store.ClaimDeliveries(ctx, s.DB, c)
		}}
		s.marks = &batch.Coalescer[store.DeliveredAttempt, struct{}]{Run: func(ctx context.Context, a []store.DeliveredAttempt) ([]struct{}, error) {
			return make([]struct{}, len(a)), store.RecordDelivered(ctx, s.DB, a...)
		}}
	})
}

// Close stops the coalesced writes after the ones queued.
func (s *Sender) Close() {
	s.writes()
	s.claims.Close()
	s.marks.Close()
}

// Outcomes of an attempt.
const (
	Delivered = "delivered"
	Pending   = "pending" // retry at NextRetryAt
	Failed    = "failed"  // terminal, dead-lettered
	Discarded = "discarded"
	Skipped   = "skipped" // nothing to do: missing, or another attempt holds it
)

// Outcome is what an attempt did; a pending delivery says when it is due.
type Outcome = contract.DeliveryOutcome

// The clients of attempts reuse connections; timeouts are per request. No proxy: the guard
// must see the receiver's own address.
var (
	defaultClient = newClient(nil)
	guardedClient = newClient(refusePrivate)
)

func newClient(control func(network, address string, c syscall.RawConn) error) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: control}
	return &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 64,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}}
}

// cgnat is the carrier-grade NAT range (RFC 6598), private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// refusePrivate is a dialer control: it runs on the address about to be connected, after
// resolution, so neither DNS rebinding nor a redirect gets past it.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %s: %w", address, err)
	}
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || cgnat.Contains(ip) {
		return fmt.Errorf("refused to connect to %s: a private address (OUTBOUND_WEBHOOK_BLOCK_PRIVATE_NETWORKS)", ip)
	}
	return nil
}

// client is the HTTP client of attempts.
func (s *Sender) client() *http.Client {
	switch {
	case s.Client != nil:
		return s.Client
	case s.Settings.BlockPrivateNetworks:
		return guardedClient
	}
	return defaultClient
}

// Attempt makes one attempt of a delivery if it is due; one not yet due is answered pending
// with its time, untouched.
func (s *Sender) Attempt(ctx context.Context, id string) (Outcome, error) {
	d, e, found, err := store.DeliveryToSend(ctx, s.DB, id)
	if errors.Is(err, store.ErrNotFound) {
		return Outcome{Status: Skipped, Reason: "not_found"}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	switch d.Status {
	case Delivered, Failed, Discarded:
		return Outcome{Status: d.Status, Attempts: d.AttemptCount}, nil
	case Pending:
		if d.NextRetryAt != nil && d.NextRetryAt.After(time.Now()) {
			return Outcome{Status: Pending, NextRetryAt: d.NextRetryAt, Attempts: d.AttemptCount}, nil
		}
	}
	if !found {
		return s.discard(ctx, d, "endpoint_deleted")
	}
	s.writes()
	if ok, err := s.claims.Do(ctx, store.DeliveryClaim{ID: id, Previous: d.Status}); err != nil || !ok {
		return Outcome{Status: Skipped, Reason: "lost_cas"}, err
	}
	return s.Send(ctx, d, e)
}

func (s *Sender) discard(ctx context.Context, d store.Delivery, reason string) (Outcome, error) {
	return Outcome{Status: Discarded, Reason: reason, Attempts: d.AttemptCount}, store.DiscardDelivery(ctx, s.DB, d.ID)
}

// Send makes the attempt of a delivery this caller claimed (moved to sending) and records
// its outcome; d is the row as read before the claim. A disabled endpoint's is discarded.
func (s *Sender) Send(ctx context.Context, d store.Delivery, e store.Endpoint) (Outcome, error) {
	if e.Disabled {
		return s.discard(ctx, d, "endpoint_disabled")
	}
	s.writes()
	r, retryable := s.post(ctx, d, e)
	r.Attempts = d.AttemptCount + 1
	switch {
	case r.LastError == "":
		_, err := s.marks.Do(ctx, store.DeliveredAttempt{Delivery: d, Result: r})
		return Outcome{Status: Delivered, Attempts: r.Attempts}, err
	case (retryable || r.Attempts < 2) && r.Attempts < s.Settings.maxAttempts():
		// A refusal that is not retryable is tolerated once: the second one is final.
		next := time.Now().Add(s.Settings.Backoff(r.Attempts)).Truncate(time.Microsecond) // as Postgres keeps it
		return Outcome{Status: Pending, NextRetryAt: &next, Attempts: r.Attempts}, store.RecordRetry(ctx, s.DB, d, r, next)
	}
	return Outcome{Status: Failed, Attempts: r.Attempts}, store.RecordFailed(ctx, s.DB, d, e, r)
}

// post sends the envelope, signed now with the endpoint's current secret, and classifies the
// answer: retryable is no response at all, 408, 429 or 5xx.
func (s *Sender) post(ctx context.Context, d store.Delivery, e store.Endpoint) (r store.AttemptResult, retryable bool) {
	var body bytes.Buffer
	if err := json.Compact(&body, d.Payload); err != nil {
		return store.AttemptResult{LastError: "stored payload is not JSON: " + err.Error()}, false
	}
	wh, err := svix.NewWebhook(e.Secret)
	if err != nil {
		return store.AttemptResult{LastError: "endpoint secret: " + err.Error()}, false
	}
	now := time.Now()
	sig, err := wh.Sign(d.WebhookID, now, body.Bytes())
	if err != nil {
		return store.AttemptResult{LastError: "sign: " + err.Error()}, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.Settings.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body.Bytes()))
	if err != nil {
		return store.AttemptResult{LastError: err.Error()}, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", cmp.Or(s.Settings.UserAgent, "Hogsend-Webhooks"))
	req.Header.Set("Webhook-Id", d.WebhookID)
	req.Header.Set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("Webhook-Signature", sig)
	res, err := s.client().Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return store.AttemptResult{LastError: fmt.Sprintf("Timeout after %dms", s.Settings.timeout().Milliseconds())}, true
		}
		return store.AttemptResult{LastError: err.Error()}, true
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10)) // a failed body read leaves the status to decide
	r.ResponseStatus = &res.StatusCode
	if snippet := []rune(string(raw)); len(snippet) > 0 {
		s := string(snippet[:min(len(snippet), 1024)])
		r.Snippet = &s
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return r, false
	}
	r.LastError = "HTTP " + strconv.Itoa(res.StatusCode)
	return r, res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500
}

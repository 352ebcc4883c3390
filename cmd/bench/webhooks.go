package main

// webhooks measures outbound delivery against a raw signed-POST loop to the same receiver, in
// one run, then a receiver that fails twice per event across a worker crash:
//
//	(a) raw: the bench signs (svix) and POSTs envelopes to the receiver, concurrency clients;
//	(b) engine: PUT /v1/contacts creates contacts; each contact.created is fanned out to the
//	    receiver's endpoint and delivered signed — deliveries/s from the first request to the
//	    last delivery received, and how many retry workflows were started for them (target 0);
//	(c) a second endpoint that answers 503 to the first two attempts of every event: each is
//	    delivered once, no retry before its due time (base·2ⁿ), with the worker killed (kill -9)
//	    and restarted in the middle of the retries.
//
// The receiver verifies every signature with the svix library; everything shares the machine.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hogsend/hogsend/internal/pglocal"
)

// hookSink is the receiver: it verifies, counts, and for its flaky path fails each message's
// first two attempts.
type hookSink struct {
	secret    string
	flaky     bool
	ok, bad   atomic.Int64
	mu        sync.Mutex
	attempts  map[string][]time.Time // flaky: attempts per Webhook-Id
	successes map[string]int
	lastOK    atomic.Int64 // unix nanos of the latest 2xx
	wh        *svix.Webhook
	srv       *http.Server
	url       string
}

func startHookSink(flaky bool) (*hookSink, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	s := &hookSink{secret: "whsec_" + base64.StdEncoding.EncodeToString(b), flaky: flaky,
		attempts: map[string][]time.Time{}, successes: map[string]int{}}
	var err error
	if s.wh, err = svix.NewWebhook(s.secret); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.url = "http://" + ln.Addr().String() + "/hook"
	s.srv = &http.Server{Handler: s}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// subscribe makes the receiver the endpoint of contact.created.
func (s *hookSink) subscribe(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types)
		VALUES ($1, $2, left($2, 12), '["contact.created"]')`, s.url, s.secret)
	return err
}

func (s *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if s.wh.Verify(body, r.Header) != nil {
		s.bad.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if s.flaky {
		id := r.Header.Get("Webhook-Id")
		s.mu.Lock()
		s.attempts[id] = append(s.attempts[id], time.Now())
		n := len(s.attempts[id])
		if n > 2 {
			s.successes[id]++
		}
		s.mu.Unlock()
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	s.ok.Add(1)
	s.lastOK.Store(time.Now().UnixNano())
	w.WriteHeader(http.StatusOK)
}

func runWebhooks(events, concurrency int) error {
	ctx := context.Background()
	sink, err := startHookSink(false)
	if err != nil {
		return err
	}
	defer sink.srv.Close()
	fmt.Printf("hogsend webhooks benchmark — %d events at concurrency %d, receiver on %s\n", events, concurrency, sink.url)

	// (a) the ceiling: signed POSTs straight to the receiver.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}, Timeout: 30 * time.Second}
	wh, _ := svix.NewWebhook(sink.secret)
	rawRate, rawFailures := parallel(events, concurrency, func(i int) error {
		body, _ := json.Marshal(map[string]any{"id": "msg_raw_" + strconv.Itoa(i), "type": "contact.created", "data": map[string]any{"i": i}})
		now := time.Now()
		sig, err := wh.Sign("msg_raw_"+strconv.Itoa(i), now, body)
		if err != nil {
			return err
		}
		req, _ := http.NewRequest(http.MethodPost, sink.url, bytes.NewReader(body))
		req.Header.Set("Webhook-Id", "msg_raw_"+strconv.Itoa(i))
		req.Header.Set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("Webhook-Signature", sig)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("raw: %d", res.StatusCode)
		}
		return nil
	})
	fmt.Printf("(a) raw signed POST loop     %7.0f deliveries/s   failures %d\n", rawRate, rawFailures)

	// (b) the engine: API and worker processes, PostgreSQL, the Temporal CLI's dev server.
	setup, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer setup.stop()
	dir, err := os.MkdirTemp("", "hogsend-bench-webhooks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr, _, stopTemporal, err := startTemporal(ctx, 0, filepath.Join(dir, "temporal.db"))
	if err != nil {
		return err
	}
	defer stopTemporal()
	port, err := pglocal.FreePort()
	if err != nil {
		return err
	}
	env := []string{"TEMPORAL_ADDRESS=" + addr, "TEMPORAL_NAMESPACE=default", "TEMPORAL_TASK_QUEUE=webhooks-bench",
		"PORT=" + strconv.Itoa(port), "OUTBOUND_WEBHOOK_BASE_DELAY_MS=1000"}
	if err := sink.subscribe(ctx, setup.conn); err != nil {
		return err
	}
	api, err := engineCmd(setup.dsn, "serve", env...)
	if err != nil {
		return err
	}
	defer func() { _ = api.Process.Signal(syscall.SIGTERM); _ = api.Wait() }()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitHTTP(base+"/v1/health/live", time.Minute); err != nil {
		return err
	}
	worker, err := engineCmd(setup.dsn, "worker", env...)
	if err != nil {
		return err
	}
	putContact := func(prefix string) func(i int) error {
		return func(i int) error {
			raw, _ := json.Marshal(map[string]any{"userId": prefix + strconv.Itoa(i)})
			req, _ := http.NewRequest(http.MethodPut, base+"/v1/contacts", bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+setup.token)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("PUT /v1/contacts: %d", res.StatusCode)
			}
			return nil
		}
	}
	before := sink.ok.Load()
	start := time.Now()
	putRate, failures := parallel(events, concurrency, putContact("wh-"))
	deadline := time.Now().Add(5 * time.Minute)
	for sink.ok.Load()-before < int64(events)-failures && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	delivered := sink.ok.Load() - before
	took := time.Unix(0, sink.lastOK.Load()).Sub(start)
	var retries int
	if err := setup.conn.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE kind = 'temporal.start'
		AND payload->>'workflowId' LIKE 'webhook-delivery:%'`).Scan(&retries); err != nil {
		return err
	}
	rate := float64(delivered) / took.Seconds()
	fmt.Printf("(b) PUT /v1/contacts → signed delivery %7.0f deliveries/s   %d delivered in %.1f s, bad signatures %d, request failures %d   (target ≥ 1,000/s)\n",
		rate, delivered, took.Seconds(), sink.bad.Load(), failures)
	fmt.Printf("    retry workflows started for them: %d   (target 0); the PUTs ran at %.0f req/s\n", retries, putRate)
	fmt.Printf("ratio (b)/(a) = %.0f %%\n", 100*rate/rawRate)

	// (c) a receiver that fails every event twice, and a worker crash in the middle.
	flaky, err := startHookSink(true)
	if err != nil {
		return err
	}
	defer flaky.srv.Close()
	if _, err := setup.conn.Exec(ctx, `UPDATE webhook_endpoints SET url = $1, secret = $2, secret_prefix = left($2, 12)`, flaky.url, flaky.secret); err != nil {
		return err
	}
	const flakyEvents = 200
	parallel(flakyEvents, concurrency, putContact("whf-"))
	time.Sleep(1500 * time.Millisecond) // into the retries (the first is due 2–3 s after the failure)
	_ = worker.Process.Signal(syscall.SIGKILL)
	_ = worker.Wait()
	if worker, err = engineCmd(setup.dsn, "worker", env...); err != nil {
		return err
	}
	defer func() { _ = worker.Process.Signal(syscall.SIGTERM); _ = worker.Wait() }()
	deadline = time.Now().Add(5 * time.Minute)
	for {
		flaky.mu.Lock()
		done := len(flaky.successes)
		flaky.mu.Unlock()
		if done == flakyEvents || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	once, twice, early := 0, 0, 0
	flaky.mu.Lock()
	for id, n := range flaky.successes {
		if n == 1 {
			once++
		} else {
			twice++
		}
		at := flaky.attempts[id]
		for k := 1; k < len(at); k++ {
			if at[k].Sub(at[k-1]) < time.Second*time.Duration(1<<k) { // base 1 s: after failure k, at least 2ᵏ s
				early++
			}
		}
	}
	flaky.mu.Unlock()
	fmt.Printf("(c) fails twice, worker killed mid-retries: %d of %d events delivered exactly once, %d more than once, %d retries before their time\n",
		once, flakyEvents, twice, early)
	if once != flakyEvents || early > 0 {
		return fmt.Errorf("webhook retries: %d of %d delivered once, %d early", once, flakyEvents, early)
	}
	return nil
}

// Command bench measures the engine against ceilings taken in the same run, so the ratios mean
// something on a noisy shared machine.
//
//	go run ./cmd/bench ingest [-requests 40000] [-concurrency 64] [-batch-events 100000]
//	go run ./cmd/bench journeys [-runs 1000] [-concurrency 32]
//	go run ./cmd/bench email [-sends 20000] [-concurrency 64] [-gogc 400]
//	go run ./cmd/bench buckets [-requests 20000] [-concurrency 64] [-members 200000]
//	go run ./cmd/bench campaign [-recipients 50000] [-concurrency 64] [-page 1000]
//	go run ./cmd/bench webhooks [-events 10000] [-concurrency 32]
//	go run ./cmd/bench faults [-load 60s] [-settle 3m] [-clients 8] [-rate 60]
//
// ingest starts a private durable PostgreSQL (or uses HOGSEND_BENCH_DATABASE_URL), runs the
// engine's API as a child process, and prints:
//
//	(a) single-event POST /v1/events: req/s, p50, p99 at the given concurrency;
//	(b) POST /v1/events/batch (500 events per request): events/s;
//	(c) the ceiling: pgx CopyFrom of the same rows into user_events;
//
// the ratio (b)/(c), and the engine's RSS (current and peak) under that load. journeys, email,
// buckets, campaign, webhooks and faults are described in their files.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend"
	"github.com/hogsend/hogsend/example/buckets"
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/pglocal"
	"github.com/hogsend/hogsend/schema"
)

const engineChildArg = "__engine"

func main() {
	if len(os.Args) > 1 && os.Args[1] == engineChildArg {
		// The engine under test, in its own process so its memory is its own.
		os.Args = append(os.Args[:1], os.Args[2:]...)
		runChild()
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench ingest|journeys|email|buckets|campaign|webhooks|faults [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ingest":
		fs := flag.NewFlagSet("ingest", flag.ExitOnError)
		requests := fs.Int("requests", 40000, "single-event requests to send")
		concurrency := fs.Int("concurrency", 64, "concurrent single-event clients")
		batchEvents := fs.Int("batch-events", 100000, "events to send through the batch route")
		users := fs.Int("users", 10000, "distinct contacts the events belong to")
		_ = fs.Parse(os.Args[2:])
		err = runIngest(*requests, *concurrency, *batchEvents, *users)
	case "email":
		fs := flag.NewFlagSet("email", flag.ExitOnError)
		sends := fs.Int("sends", 20000, "transactional sends (and raw messages)")
		concurrency := fs.Int("concurrency", 64, "concurrent HTTP clients / SMTP sessions")
		gogc := fs.String("gogc", "", "GOGC of the engine (empty = Go's default, 100)")
		_ = fs.Parse(os.Args[2:])
		err = runEmail(*sends, *concurrency, *gogc)
	case "buckets":
		fs := flag.NewFlagSet("buckets", flag.ExitOnError)
		requests := fs.Int("requests", 20000, "single-event requests per load and engine")
		concurrency := fs.Int("concurrency", 64, "concurrent clients")
		members := fs.Int("members", 200000, "members swept and contacts backfilled")
		_ = fs.Parse(os.Args[2:])
		err = runBuckets(*requests, *concurrency, *members)
	case "faults":
		fs := flag.NewFlagSet("faults", flag.ExitOnError)
		load := fs.Duration("load", time.Minute, "how long the load runs (the fault timeline stretches with it)")
		settle := fs.Duration("settle", 3*time.Minute, "how long pending work may take to finish after the load")
		clients := fs.Int("clients", 8, "concurrent clients")
		perSecond := fs.Float64("rate", 60, "requests per second, all clients together")
		_ = fs.Parse(os.Args[2:])
		err = runFaults(*load, *settle, *clients, *perSecond)
	case "campaign":
		fs := flag.NewFlagSet("campaign", flag.ExitOnError)
		recipients := fs.Int("recipients", 50000, "list subscribers (and raw messages)")
		concurrency := fs.Int("concurrency", 64, "sends in flight (CAMPAIGN_SEND_CONCURRENCY) and raw SMTP sessions")
		page := fs.Int("page", 1000, "recipients per page (CAMPAIGN_PAGE_SIZE)")
		_ = fs.Parse(os.Args[2:])
		err = runCampaign(*recipients, *concurrency, *page)
	case "webhooks":
		fs := flag.NewFlagSet("webhooks", flag.ExitOnError)
		events := fs.Int("events", 10000, "contacts created (one contact.created delivery each) and raw POSTs")
		concurrency := fs.Int("concurrency", 32, "concurrent clients")
		_ = fs.Parse(os.Args[2:])
		err = runWebhooks(*events, *concurrency)
	case "journeys":
		fs := flag.NewFlagSet("journeys", flag.ExitOnError)
		runs := fs.Int("runs", 1000, "workflows to start in (a) and enrolments in (b)")
		concurrency := fs.Int("concurrency", 32, "concurrent starters / HTTP clients")
		_ = fs.Parse(os.Args[2:])
		err = runJourneys(*runs, *concurrency)
	default:
		fmt.Fprintln(os.Stderr, "usage: bench ingest|journeys|email|buckets|campaign|webhooks|faults [flags]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runChild runs the engine; with HOGSEND_BENCH_CPUPROFILE=<file> it writes a CPU profile of
// the engine's life to <file>.<sub-command> (serve, worker; inspect with `go tool pprof`).
func runChild() {
	opts := &hogsend.Options{Journeys: benchJourneys, Templates: templates.Registry(), Lists: templates.Lists()}
	if os.Getenv(benchBucketsEnv) != "" {
		opts.Buckets = buckets.All()
	}
	path := os.Getenv("HOGSEND_BENCH_CPUPROFILE")
	if path == "" {
		hogsend.Main(opts)
		return
	}
	f, err := os.Create(path + "." + os.Args[len(os.Args)-1])
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := hogsend.Run(ctx, os.Args, os.Stdout, os.Stderr, opts)
	stop()
	pprof.StopCPUProfile()
	_ = f.Close()
	os.Exit(code)
}

// benchSetup is a migrated database, a connection to it and an ingest API key.
type benchSetup struct {
	dsn   string
	conn  *pgx.Conn
	token string
	stop  func()
}

// prepare starts the bench database with an API key of scopes (default: ingest).
func prepare(ctx context.Context, scopes ...string) (*benchSetup, error) {
	dsn, stopPG, err := benchDatabase(ctx)
	if err != nil {
		return nil, err
	}
	if len(scopes) == 0 {
		scopes = []string{"ingest"}
	}
	return prepareOn(ctx, dsn, stopPG, scopes...)
}

// prepareOn migrates the database at dsn and creates an API key with scopes; stopPG runs at stop.
func prepareOn(ctx context.Context, dsn string, stopPG func(), scopes ...string) (*benchSetup, error) {
	fail := func(err error) (*benchSetup, error) { stopPG(); return nil, err }
	m := &schema.Migrator{DatabaseURL: dsn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Up(ctx, schema.Engine()); err != nil {
		return fail(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fail(err)
	}
	token, _, hash := apikeys.Generate()
	if _, err := conn.Exec(ctx, `INSERT INTO api_keys (name, key_prefix, key_hash, scopes) VALUES ('bench', $1, $2, to_jsonb($3::text[]))`, token[:8], hash, scopes); err != nil {
		conn.Close(ctx)
		return fail(err)
	}
	return &benchSetup{dsn: dsn, conn: conn, token: token, stop: func() { conn.Close(context.Background()); stopPG() }}, nil
}

func runIngest(requests, concurrency, batchEvents, users int) error {
	ctx := context.Background()
	setup, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer setup.stop()
	dsn, conn, token := setup.dsn, setup.conn, setup.token

	base, engine, err := startEngine(dsn)
	if err != nil {
		return err
	}
	defer func() { _ = engine.Process.Signal(syscall.SIGTERM); _ = engine.Wait() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2, MaxConnsPerHost: concurrency * 2}, Timeout: 30 * time.Second}

	fmt.Printf("hogsend ingest benchmark — %d requests at concurrency %d, %d batch events, %d contacts\n", requests, concurrency, batchEvents, users)
	// Contacts exist first: the steady state is events of known people.
	seed := make([]map[string]any, 0, 500)
	for u := 0; u < users; u++ {
		seed = append(seed, map[string]any{"name": "seed", "userId": fmt.Sprintf("bench-user-%d", u)})
		if len(seed) == 500 || u == users-1 {
			if err := post(client, base+"/v1/events/batch", token, map[string]any{"events": seed}); err != nil {
				return fmt.Errorf("seed contacts: %w", err)
			}
			seed = seed[:0]
		}
	}

	// (a) single events. Bodies are encoded before the clock starts, so the load generator,
	// which shares the machine, spends its CPU on requests rather than on JSON.
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{"name": "page.viewed", "userId": fmt.Sprintf("bench-user-%d", rand.IntN(users)),
			"eventProperties": map[string]any{"path": "/pricing", "n": i}})
	}
	latencies := make([]time.Duration, requests)
	reqPerSec, failures := parallel(requests, concurrency, func(i int) error {
		t0 := time.Now()
		err := postRaw(client, base+"/v1/events", token, bodies[i%len(bodies)])
		latencies[i] = time.Since(t0)
		return err
	})
	slices.Sort(latencies)
	rss1, peak1 := rss(engine.Process.Pid)
	fmt.Printf("(a) POST /v1/events       %8.0f req/s   p50 %6.2f ms   p99 %6.2f ms   failures %d   (target ≥ 5000 req/s, p99 ≤ 50 ms)\n",
		reqPerSec, ms(latencies[requests/2]), ms(latencies[requests*99/100]), failures)

	// (b) batches of 500, encoded before the clock starts as in (a)
	batches := (batchEvents + 499) / 500
	batchBodies := make([][]byte, 16)
	for k := range batchBodies {
		events := make([]map[string]any, 500)
		for j := range events {
			events[j] = map[string]any{"name": "item.viewed", "userId": fmt.Sprintf("bench-user-%d", rand.IntN(users)),
				"eventProperties": map[string]any{"sku": "A-" + strconv.Itoa(j)}}
		}
		batchBodies[k], _ = json.Marshal(map[string]any{"events": events})
	}
	batchesPerSec, batchFailures := parallel(batches, 4, func(b int) error {
		return postRaw(client, base+"/v1/events/batch", token, batchBodies[b%len(batchBodies)])
	})
	batchRate := batchesPerSec * 500
	rss2, peak2 := rss(engine.Process.Pid)
	fmt.Printf("(b) POST /v1/events/batch %8.0f events/s   (%d requests of 500, failures %d)\n", batchRate, batches, batchFailures)
	batchEvents = batches * 500 // the ceiling copies as many rows

	// (c) the ceiling: raw COPY of the same rows into the same table
	rows := make([][]any, batchEvents)
	for i := range rows {
		props, _ := json.Marshal(map[string]any{"sku": "A-" + strconv.Itoa(i%500)})
		rows[i] = []any{fmt.Sprintf("bench-user-%d", rand.IntN(users)), "copy.viewed", props}
	}
	start := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"user_events"}, []string{"user_id", "event", "properties"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy ceiling: %w", err)
	}
	copyRate := perSecond(batchEvents, start)
	fmt.Printf("(c) pgx CopyFrom ceiling  %8.0f rows/s\n", copyRate)
	fmt.Printf("ratio (b)/(c) = %.0f %%   (target ≥ 40 %%);   ratio (a)/(c) = %.0f %%\n", 100*batchRate/copyRate, 100*reqPerSec/copyRate)
	fmt.Printf("engine RSS: %.0f MiB after (a), %.0f MiB after (b); peak %.0f MiB\n", rss1, rss2, max(peak1, peak2))
	return nil
}

func post(c *http.Client, url, token string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return postRaw(c, url, token, raw)
}

// put sends a PUT, which answers 200.
func put(c *http.Client, url, token string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return send(c, http.MethodPut, url, token, raw, http.StatusOK)
}

// postRaw sends a POST, which answers 202.
func postRaw(c *http.Client, url, token string, raw []byte) error {
	return send(c, http.MethodPost, url, token, raw, http.StatusAccepted)
}

func send(c *http.Client, method, url, token string, raw []byte, want int) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rss reads a process's current and peak resident memory in MiB.
func rss(pid int) (cur, peak float64) {
	body, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return cur, peak
}

// benchDatabase returns HOGSEND_BENCH_DATABASE_URL, or a fresh durable private cluster.
func benchDatabase(ctx context.Context) (string, func(), error) {
	if u := os.Getenv("HOGSEND_BENCH_DATABASE_URL"); u != "" {
		return u, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "hogsend-bench-pg-")
	if err != nil {
		return "", nil, err
	}
	_ = os.Chmod(dir, 0o711)
	c := &pglocal.Cluster{Dir: filepath.Join(dir, "data"), Durable: true}
	if err := c.Init(ctx); err != nil {
		return "", nil, err
	}
	if err := c.Start(ctx); err != nil {
		return "", nil, err
	}
	return c.URL("postgres"), func() { _ = c.Stop(); _ = os.RemoveAll(dir) }, nil
}

// engineCmd is a sub-command (serve, worker) of the engine in a child process of this same
// binary; extra environment (NAME=value) overrides the defaults.
func engineCmd(dsn, sub string, extra ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, engineChildArg, sub)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "NODE_ENV=test", "LOG_LEVEL=error",
		"BETTER_AUTH_SECRET="+strings.Repeat("b", 40), "EMAIL_PROVIDER=sink", "EMAIL_SINK_DIR="+filepath.Join(os.TempDir(), "hogsend-bench-mail"),
		"TEMPORAL_ADDRESS=127.0.0.1:1")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd, cmd.Start()
}

// startEngine runs `serve` in a child process and waits for it to listen.
func startEngine(dsn string, extra ...string) (string, *exec.Cmd, error) {
	port, err := pglocal.FreePort()
	if err != nil {
		return "", nil, err
	}
	cmd, err := engineCmd(dsn, "serve", append([]string{"PORT=" + strconv.Itoa(port)}, extra...)...)
	if err != nil {
		return "", nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return base, cmd, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return "", nil, fmt.Errorf("engine did not listen on port %d", port)
}

// perSecond is how many of n things per second since start.
func perSecond[N int | int64](n N, start time.Time) float64 {
	return float64(n) / time.Since(start).Seconds()
}

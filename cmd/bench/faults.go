package main

// faults drives a mixed load at the engine while it breaks what the engine runs on, then reports
// from the database and the mail sink what was lost, duplicated or left stuck:
//
//	PostgreSQL (fsync on), the Temporal CLI dev server with a database file, an in-process SMTP
//	sink, a webhook receiver, and the API and the worker as separate processes of this binary;
//	five kinds of clients — keyed events (retried until acknowledged), keyless events (sent
//	once), events that enrol a journey which sends at once (keyed, retried), transactional
//	sends (keyed, retried), contact upserts whose contact.created goes to the receiver
//	(retried) — while, on a timeline, the API is killed (-9) and restarted, the worker too,
//	PostgreSQL is stopped in immediate mode and restarted, and Temporal is stopped for 20 s.
//
// Every figure should be 0; the exit status is 1 when one is not.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"

	"github.com/hogsend/hogsend/email/smtptest"
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/internal/pglocal"
	"github.com/hogsend/hogsend/journey"
)

// faultsJourney sends one email at once: every acknowledged enrolment must yield exactly one.
var faultsJourney = benchJourney("faults-send", "faults.enrol", func(ctx journey.Context, _ journey.User) error {
	_, err := journey.Send(ctx, templates.Quickstart, templates.QuickstartProps{})
	return err
})

// The kinds of load.
const (
	kindKeyed = iota
	kindKeyless
	kindEnrol
	kindSend
	kindUpsert
	kinds
)

var kindNames = [kinds]string{"keyed events", "keyless events", "journey enrolments", "transactional sends", "contact upserts"}

// acks records what the engine acknowledged, by kind and sequence number.
type acks struct {
	mu   sync.Mutex
	seqs [kinds][]int
}

func (a *acks) add(kind, seq int) {
	a.mu.Lock()
	a.seqs[kind] = append(a.seqs[kind], seq)
	a.mu.Unlock()
}

// faultRig is the engine and everything it runs on, each part restartable.
type faultRig struct {
	dir      string
	pg       *pglocal.Cluster
	dsn      string
	sink     *smtptest.Server
	tPort    int
	stopT    func()
	apiPort  int
	env      []string
	mu       sync.Mutex
	api, wkr *exec.Cmd
}

func runFaults(load, settle time.Duration, clients int, perSecond float64) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hogsend-faults-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o711)
	r := &faultRig{dir: dir, pg: &pglocal.Cluster{Dir: filepath.Join(dir, "pg"), Durable: true}}
	if err := r.pg.Init(ctx); err != nil {
		return err
	}
	if err := r.pg.Start(ctx); err != nil {
		return err
	}
	defer r.pg.Stop()
	r.dsn = r.pg.URL("postgres")
	setup, err := prepareOn(ctx, r.dsn, func() {}, "ingest")
	if err != nil {
		return err
	}
	defer setup.stop()
	if r.sink, err = smtptest.Start(false); err != nil {
		return err
	}
	defer r.sink.Close()
	hooks, err := startHookSink(false)
	if err != nil {
		return err
	}
	defer hooks.srv.Close()
	if err := hooks.subscribe(ctx, setup.conn); err != nil {
		return err
	}
	if r.tPort, err = pglocal.FreePort(); err != nil {
		return err
	}
	if err := r.startTemporal(ctx); err != nil {
		return err
	}
	defer func() { r.stopT() }()
	if r.apiPort, err = pglocal.FreePort(); err != nil {
		return err
	}
	r.env = []string{"TEMPORAL_ADDRESS=127.0.0.1:" + strconv.Itoa(r.tPort), "TEMPORAL_NAMESPACE=default",
		"TEMPORAL_TASK_QUEUE=faults", "EMAIL_PROVIDER=smtp", "SMTP_URL=" + r.sink.URL(), "PORT=" + strconv.Itoa(r.apiPort),
		// A delivery whose attempt died with the API is re-driven within the settle time.
		"OUTBOUND_WEBHOOK_STUCK_AFTER_MS=30000"}
	if err := r.restart("api"); err != nil {
		return err
	}
	if err := r.restart("worker"); err != nil {
		return err
	}
	defer r.kill("api")
	defer r.kill("worker")
	base := "http://127.0.0.1:" + strconv.Itoa(r.apiPort)
	if err := waitHTTP(base+"/v1/health/live", 60*time.Second); err != nil {
		return err
	}
	fmt.Printf("hogsend fault test — %s of load at %.0f requests/s from %d clients, then up to %s to settle\n", load, perSecond, clients, settle)

	// The load: each client cycles through the kinds with its own sequence numbers.
	var (
		a       acks
		next    atomic.Int64
		stopped atomic.Bool
		wg      sync.WaitGroup
	)
	httpc := &http.Client{Timeout: 15 * time.Second}
	// Paced to what the Temporal dev server can start (a quarter of the requests enrol a run).
	pace := rate.NewLimiter(rate.Limit(perSecond), 1)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for !stopped.Load() {
				_ = pace.Wait(ctx)
				seq := int(next.Add(1))
				kind := seq % kinds
				if deliver(httpc, base, setup.token, kind, seq, &stopped, start.Add(load+settle)) {
					a.add(kind, seq)
				}
			}
		})
	}

	// The faults, on a timeline from the start of the load.
	step := func(at time.Duration, what string, do func() error) error {
		time.Sleep(time.Until(start.Add(at)))
		fmt.Printf("  %5.1fs  %s\n", time.Since(start).Seconds(), what)
		return do()
	}
	scale := max(1, load.Seconds()/60) // the timeline is laid out for a minute of load
	faults := []struct {
		at   time.Duration
		what string
		do   func() error
	}{
		{5 * time.Second, "kill -9 the API", func() error { r.kill("api"); return nil }},
		{7 * time.Second, "restart the API", func() error { return r.restart("api") }},
		{14 * time.Second, "kill -9 the worker", func() error { r.kill("worker"); return nil }},
		{16 * time.Second, "restart the worker", func() error { return r.restart("worker") }},
		{24 * time.Second, "PostgreSQL: immediate stop and restart", func() error {
			if err := r.pg.Crash(); err != nil {
				return err
			}
			return r.pg.Start(ctx)
		}},
		{32 * time.Second, "stop Temporal", func() error { r.stopT(); return nil }},
		{52 * time.Second, "restart Temporal", func() error { return r.startTemporal(ctx) }},
	}
	for _, f := range faults {
		if err := step(time.Duration(float64(f.at)*scale), f.what, f.do); err != nil {
			stopped.Store(true)
			return fmt.Errorf("%s: %w", f.what, err)
		}
	}
	time.Sleep(time.Until(start.Add(load)))
	stopped.Store(true)
	wg.Wait()
	fmt.Printf("  %5.1fs  load stopped; settling\n", time.Since(start).Seconds())

	// Settle: until nothing is pending (or the bound passes), then count.
	settleStart := time.Now()
	var rep faultReport
	for {
		if rep, err = r.report(ctx, &a); err != nil && time.Since(settleStart) < settle {
			time.Sleep(time.Second) // the database may still be recovering
			continue
		}
		if err != nil || rep.settled() || time.Since(settleStart) >= settle {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		return err
	}
	rep.print(time.Since(settleStart))
	if !rep.clean() {
		return errors.New("faults lost, duplicated or stuck something")
	}
	return nil
}

// deliver sends one request of a kind and reports whether the engine acknowledged it. Keyed
// requests are retried (a lost answer is safe to repeat) until acknowledged or the deadline;
// a keyless event is sent once: repeating it after a lost answer could store it twice.
func deliver(c *http.Client, base, token string, kind, seq int, stopped *atomic.Bool, deadline time.Time) bool {
	path, body, do := "/v1/events", map[string]any{}, post
	switch kind {
	case kindKeyed:
		body = map[string]any{"name": "faults.keyed", "userId": fmt.Sprintf("k-%d", seq), "idempotencyKey": fmt.Sprintf("fk-%d", seq)}
	case kindKeyless:
		body = map[string]any{"name": "faults.keyless", "userId": fmt.Sprintf("l-%d", seq%50), "eventProperties": map[string]any{"seq": seq}}
	case kindEnrol:
		body = map[string]any{"name": "faults.enrol", "userId": fmt.Sprintf("j-%d", seq), "email": fmt.Sprintf("j-%d@faults.test", seq),
			"idempotencyKey": fmt.Sprintf("fe-%d", seq)}
	case kindSend:
		path = "/v1/emails"
		body = map[string]any{"to": fmt.Sprintf("t-%d@faults.test", seq), "template": "welcome", "idempotencyKey": fmt.Sprintf("ft-%d", seq)}
	case kindUpsert:
		path, do = "/v1/contacts", put
		body = map[string]any{"userId": fmt.Sprintf("u-%d", seq)}
	}
	for {
		err := do(c, base+path, token, body)
		if err == nil {
			return true
		}
		if kind == kindKeyless || time.Now().After(deadline) {
			return false
		}
		if stopped.Load() && strings.Contains(err.Error(), "status 4") {
			return false // refused for good (bad request): not acknowledged
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *faultRig) startTemporal(ctx context.Context) error {
	_, _, stop, err := startTemporal(ctx, r.tPort, filepath.Join(r.dir, "temporal.db"))
	if err != nil {
		return err
	}
	r.stopT = stop
	return nil
}

// restart starts the API or the worker process (again).
func (r *faultRig) restart(which string) error {
	sub := map[string]string{"api": "serve", "worker": "worker"}[which]
	cmd, err := engineCmd(r.dsn, sub, r.env...)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if which == "api" {
		r.api = cmd
	} else {
		r.wkr = cmd
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// kill ends the API or the worker with SIGKILL: no shutdown of any kind.
func (r *faultRig) kill(which string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := r.api
	if which == "worker" {
		cmd = r.wkr
	}
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
}

func waitHTTP(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", url, within)
}

// faultReport is what the database and the sink hold, set against what was acknowledged.
type faultReport struct {
	acked, lost, duplicated [kinds]int
	redelivered             int // deliveries of one Message-ID beyond its first
	stuckRuns, outbox, dead int
	undelivered             int // webhook deliveries not delivered
}

func (f faultReport) settled() bool {
	return f.stuckRuns == 0 && f.outbox == 0 && f.undelivered == 0 && f.lost == [kinds]int{}
}

func (f faultReport) clean() bool { return f.settled() && f.duplicated == [kinds]int{} && f.dead == 0 }

func (f faultReport) print(settling time.Duration) {
	fmt.Printf("\nsettled after %.0fs\n%-22s %8s %6s %11s\n", settling.Seconds(), "", "acked", "lost", "duplicated")
	for k := range kinds {
		fmt.Printf("%-22s %8d %6d %11d\n", kindNames[k], f.acked[k], f.lost[k], f.duplicated[k])
	}
	fmt.Printf("journey runs not completed: %d;  outbox rows undispatched: %d;  webhooks undelivered: %d;  dead-lettered: %d\n",
		f.stuckRuns, f.outbox, f.undelivered, f.dead)
	fmt.Printf("repeat deliveries of one Message-ID (ambiguous outcomes retried as the same message): %d\n", f.redelivered)
	verdict := "CLEAN: 0 lost, 0 duplicated, nothing stuck"
	if !f.clean() {
		verdict = "NOT CLEAN"
	}
	fmt.Println(verdict)
}

// report counts, per kind, acknowledged requests whose effect is missing (lost) and effects
// that exist more than once (duplicated), plus the runs and outbox rows still pending.
func (r *faultRig) report(ctx context.Context, a *acks) (faultReport, error) {
	conn, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return faultReport{}, err
	}
	defer conn.Close(ctx)
	counts := func(query string) (map[int]int, error) {
		rows, err := conn.Query(ctx, query)
		if err != nil {
			return nil, err
		}
		out := map[int]int{}
		for rows.Next() {
			var seq, n int
			if err := rows.Scan(&seq, &n); err != nil {
				return nil, err
			}
			out[seq] = n
		}
		return out, rows.Err()
	}
	// Per recipient: distinct messages (Message-IDs), and deliveries of one message beyond its
	// first (an ambiguous outcome retried with the same identity: a provider or mailbox can
	// recognise it; reported, not counted as a duplicate).
	mails := map[string]map[string]int{}
	for _, m := range r.sink.Messages() {
		id := m.Header.Get("Message-Id")
		for _, to := range m.To {
			if mails[to] == nil {
				mails[to] = map[string]int{}
			}
			mails[to][id]++
		}
	}
	var rep faultReport
	stored := [kinds]map[int]int{}
	var qerr error
	for k, q := range map[int]string{
		kindKeyed:   `SELECT substr(idempotency_key, 4)::int, count(*) FROM user_events WHERE event = 'faults.keyed' GROUP BY 1`,
		kindKeyless: `SELECT (properties->>'seq')::int, count(*) FROM user_events WHERE event = 'faults.keyless' GROUP BY 1`,
	} {
		if stored[k], qerr = counts(q); qerr != nil {
			return rep, qerr
		}
	}
	for k, prefix := range map[int]string{kindEnrol: "j-%d@faults.test", kindSend: "t-%d@faults.test"} {
		stored[k] = map[int]int{}
		for addr, ids := range mails {
			var seq int
			if _, err := fmt.Sscanf(addr, prefix, &seq); err == nil {
				stored[k][seq] = len(ids)
				for _, n := range ids {
					rep.redelivered += n - 1
				}
			}
		}
	}
	// An upsert's effect is its contact's contact.created delivery: one row, delivered.
	if stored[kindUpsert], qerr = counts(`SELECT substr(c.external_id, 3)::int, count(d.id) FROM contacts c
		LEFT JOIN webhook_deliveries d ON d.event_type = 'contact.created' AND d.payload->'data'->>'id' = c.id::text
		WHERE c.external_id LIKE 'u-%' GROUP BY 1`); qerr != nil {
		return rep, qerr
	}
	a.mu.Lock()
	for k := range kinds {
		rep.acked[k] = len(a.seqs[k])
		for _, seq := range a.seqs[k] {
			if stored[k][seq] == 0 {
				rep.lost[k]++
			}
		}
		for _, n := range stored[k] {
			if n > 1 {
				rep.duplicated[k]++
			}
		}
	}
	a.mu.Unlock()
	err = conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM journey_states WHERE journey_id = 'faults-send' AND status <> 'completed'),
		(SELECT count(*) FROM outbox WHERE dispatched_at IS NULL),
		(SELECT count(*) FROM dead_letter_queue),
		(SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered')`).Scan(&rep.stuckRuns, &rep.outbox, &rep.dead, &rep.undelivered)
	return rep, err
}

package main

// journeys measures journey enrolment against a raw Temporal start loop on the same Temporal
// server (the CLI's dev server, as `dev` runs it; built into .hogsend/bin on first use), in one
// run:
//
//	(a) raw loop: ExecuteWorkflow of a trivial workflow that sleeps an hour, from `concurrency`
//	    goroutines, with a worker serving it: runs/s until every run is sleeping (its local
//	    activity counted it), and the rate of the start calls alone;
//	(b) engine: POST /v1/events whose event triggers a journey that sends an email and sleeps an
//	    hour (API and worker as child processes): runs/s until every run is waiting in Postgres —
//	    event stored, state row, workflow started, email sent, sleep begun — and the rate at
//	    which the outbox made the start calls;
//	(c) history events per journey step: a journey of send, sleep and wait, minus an empty one.

import (
	"context"
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

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/internal/pglocal"
	"github.com/hogsend/hogsend/journey"
	hsworker "github.com/hogsend/hogsend/worker"
)

func benchJourney(id, event string, run journey.RunFunc) *journey.Journey {
	return journey.MustDefine(journey.Meta{ID: id, Name: id, Enabled: true, EntryLimit: journey.EntryUnlimited,
		Trigger: journey.Trigger{Event: event}}, run)
}

// benchJourneys are registered by the engine child processes.
var benchJourneys = []*journey.Journey{
	benchJourney("bench-enrol", "bench.enrol", func(ctx journey.Context, u journey.User) error {
		if _, err := journey.Send(ctx, templates.Quickstart, templates.QuickstartProps{}); err != nil {
			return err
		}
		_, err := ctx.Sleep(journey.Hours(1), "")
		return err
	}),
	benchJourney("bench-steps", "bench.steps", func(ctx journey.Context, u journey.User) error {
		if _, err := journey.Send(ctx, templates.Quickstart, templates.QuickstartProps{}); err != nil {
			return err
		}
		if _, err := ctx.Sleep(journey.Seconds(1), ""); err != nil {
			return err
		}
		_, err := ctx.WaitForEvent("bench.never", journey.Seconds(1), "")
		return err
	}),
	benchJourney("bench-empty", "bench.empty", func(journey.Context, journey.User) error { return nil }),
	faultsJourney,
}

// rawSleeping counts raw workflows that reached their sleep.
var rawSleeping atomic.Int64

// rawSleep is the ceiling's workflow: a local activity (the run says it began), then a sleep.
func rawSleep(ctx workflow.Context) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.ExecuteLocalActivity(ctx, markSleeping).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.Sleep(ctx, time.Hour)
}

func markSleeping(context.Context) error { rawSleeping.Add(1); return nil }

func runJourneys(runs, concurrency int) error {
	ctx := context.Background()
	setup, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer setup.stop()
	fmt.Printf("hogsend journeys benchmark — %d runs at concurrency %d, Temporal CLI dev server (in-memory SQLite)\n", runs, concurrency)
	addr, temporalPID, stopTemporal, err := startTemporal(ctx, 0, "")
	if err != nil {
		return err
	}
	defer stopTemporal()
	tc, err := client.Dial(client.Options{HostPort: addr, Logger: quietLogger{}})
	if err != nil {
		return err
	}
	defer tc.Close()

	// (a) the ceiling: a raw start loop of a sleeping workflow, with a worker serving it.
	w := sdkworker.New(tc, "bench-raw", sdkworker.Options{MaxConcurrentWorkflowTaskPollers: 8}) // as the engine worker
	w.RegisterWorkflowWithOptions(rawSleep, workflow.RegisterOptions{Name: "bench-raw-sleep"})
	w.RegisterActivity(markSleeping)
	if err := w.Start(); err != nil {
		return err
	}
	cpu0 := cpuSeconds(temporalPID)
	start := time.Now()
	callRate, rawFailures := parallel(runs, concurrency, func(i int) error {
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-raw-%d", i), TaskQueue: "bench-raw"}, "bench-raw-sleep")
		return err
	})
	for rawSleeping.Load() < int64(runs)-rawFailures {
		time.Sleep(5 * time.Millisecond)
	}
	rawRate := perSecond(runs, start)
	rawCPU := (cpuSeconds(temporalPID) - cpu0) / float64(runs) * 1000
	fmt.Printf("(a) raw start loop          %7.1f runs/s     started and sleeping   (start calls alone %.1f/s; failures %d)\n",
		rawRate, callRate, rawFailures)
	// Drain: every raw run visible, so no deferred server work of (a) is billed to (b).
	for {
		res, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "WorkflowType = 'bench-raw-sleep'"})
		if err == nil && res.GetCount() >= int64(runs)-rawFailures {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.Stop()

	// (b) the engine: API and worker in child processes.
	env := []string{"TEMPORAL_ADDRESS=" + addr, "TEMPORAL_NAMESPACE=default", "TEMPORAL_TASK_QUEUE=bench-journeys"}
	base, api, err := startEngine(setup.dsn, env...)
	if err != nil {
		return err
	}
	defer func() { _ = api.Process.Signal(syscall.SIGTERM); _ = api.Wait() }()
	wk, err := engineCmd(setup.dsn, "worker", env...)
	if err != nil {
		return err
	}
	defer func() { _ = wk.Process.Signal(syscall.SIGTERM); _ = wk.Wait() }()
	if err := waitForRows(ctx, setup, `SELECT count(*) FROM worker_heartbeats`, 1, 30*time.Second); err != nil {
		return fmt.Errorf("engine worker: %w", err)
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}, Timeout: 30 * time.Second}
	cpu0 = cpuSeconds(temporalPID)
	api0, worker0, pg0 := cpuSeconds(api.Process.Pid), cpuSeconds(wk.Process.Pid), postgresCPU()
	start = time.Now()
	_, postFailures := parallel(runs, concurrency, func(i int) error {
		return post(httpc, base+"/v1/events", setup.token, map[string]any{"name": "bench.enrol", "userId": fmt.Sprintf("bench-%d", i),
			"email": fmt.Sprintf("bench-%d@example.com", i)})
	})
	if err := waitForRows(ctx, setup, `SELECT count(*) FROM outbox WHERE kind = 'journey.start' AND dispatched_at IS NOT NULL`,
		runs-int(postFailures), 10*time.Minute); err != nil {
		return err
	}
	startRate := perSecond(runs, start)
	if err := waitForRows(ctx, setup, `SELECT count(*) FROM journey_states WHERE journey_id = 'bench-enrol' AND status = 'waiting'`,
		runs-int(postFailures), 10*time.Minute); err != nil {
		return err
	}
	enrolRate := perSecond(runs, start)
	perRun := func(now, before float64) float64 { return (now - before) / float64(runs) * 1000 }
	engineCPU := perRun(cpuSeconds(temporalPID), cpu0)
	apiCPU, workerCPU, pgCPU := perRun(cpuSeconds(api.Process.Pid), api0), perRun(cpuSeconds(wk.Process.Pid), worker0), perRun(postgresCPU(), pg0)
	fmt.Printf("(b) engine enrolments       %7.1f runs/s     event stored, enrolled, started, email sent, sleeping   (workflow starts alone %.1f/s; failures %d)\n",
		enrolRate, startRate, postFailures)
	fmt.Printf("ratio (b)/(a) = %.0f %%   (target ≥ 80 %%);   start calls only: %.0f %%\n", 100*enrolRate/rawRate, 100*startRate/callRate)
	fmt.Printf("    CPU per run: Temporal server raw %.1f ms, engine %.1f ms; engine API %.1f ms, worker %.1f ms, PostgreSQL %.1f ms\n",
		rawCPU, engineCPU, apiCPU, workerCPU, pgCPU)

	// (c) history events per step.
	steps, err := historyLength(ctx, setup, tc, httpc, base, "bench.steps", "bench-steps")
	if err != nil {
		return err
	}
	empty, err := historyLength(ctx, setup, tc, httpc, base, "bench.empty", "bench-empty")
	if err != nil {
		return err
	}
	fmt.Printf("(c) history events: send+sleep+wait journey %d, empty journey %d → %.1f events per step   (target ≤ 8)\n",
		steps, empty, float64(steps-empty)/3)
	return nil
}

// parallel calls fn(0..n-1) from c goroutines; it returns calls/s and the failures.
func parallel(n, c int, fn func(i int) error) (float64, int64) {
	var next, failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return perSecond(n, start), failures.Load()
}

// waitForRows polls a count query until it reaches want.
func waitForRows(ctx context.Context, s *benchSetup, query string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var n int
	for time.Now().Before(deadline) {
		if err := s.conn.QueryRow(ctx, query).Scan(&n); err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("timed out: %q reached %d of %d", query, n, want)
}

// historyLength enrolls one contact in a journey, waits for the run to finish and counts the
// events of its history.
func historyLength(ctx context.Context, s *benchSetup, tc client.Client, httpc *http.Client, base, event, journeyID string) (int, error) {
	user := "history-" + journeyID
	if err := post(httpc, base+"/v1/events", s.token, map[string]any{"name": event, "userId": user, "email": user + "@example.com"}); err != nil {
		return 0, err
	}
	if err := waitForRows(ctx, s, fmt.Sprintf(`SELECT count(*) FROM journey_states WHERE journey_id = '%s' AND status = 'completed'`, journeyID), 1, time.Minute); err != nil {
		return 0, err
	}
	var wfID, runID string
	if err := s.conn.QueryRow(ctx, `SELECT workflow_id, run_id FROM journey_states WHERE journey_id = $1`, journeyID).Scan(&wfID, &runID); err != nil {
		return 0, err
	}
	// The state completes inside the run's last task; wait for the execution to close.
	if err := tc.GetWorkflow(ctx, wfID, runID).Get(ctx, nil); err != nil {
		return 0, err
	}
	n := 0
	iter := tc.GetWorkflowHistory(ctx, wfID, runID, false, 0)
	for iter.HasNext() {
		if _, err := iter.Next(); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// startTemporal runs the Temporal CLI's dev server (no UI) with the journey search attributes,
// building the CLI as `dev` does when it is missing: in memory, or in dbFile when set; on port,
// or a free one when zero.
func startTemporal(ctx context.Context, port int, dbFile string) (string, int, func(), error) {
	bin, err := filepath.Abs(filepath.Join(".hogsend", "bin", "temporal"))
	if err != nil {
		return "", 0, nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		fmt.Println("building the Temporal CLI into .hogsend/bin (first run only; a few minutes)…")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/temporalio/cli/cmd/temporal")
		build.Dir = filepath.Join("tools", "temporal")
		if out, err := build.CombinedOutput(); err != nil {
			return "", 0, nil, fmt.Errorf("build the Temporal CLI (run the bench from the repository root): %w\n%s", err, out)
		}
	}
	if port == 0 {
		if port, err = pglocal.FreePort(); err != nil {
			return "", 0, nil, err
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--log-level", "error"}
	if dbFile != "" {
		args = append(args, "--db-filename", dbFile)
	}
	for _, name := range hsworker.JourneySearchAttributes {
		args = append(args, "--search-attribute", name+"=Keyword")
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		c, err := client.Dial(client.Options{HostPort: addr, Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return addr, cmd.Process.Pid, stop, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	return "", 0, nil, fmt.Errorf("the Temporal dev server did not answer on %s", addr)
}

// cpuSeconds is a process's user+system CPU time so far.
func cpuSeconds(pid int) float64 {
	body, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(body[strings.LastIndexByte(string(body), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ = 100)
}

// postgresCPU sums the CPU time of every postgres process (the bench's cluster is the only one
// it starts; a server of someone else's is counted too, so run it on a quiet machine).
func postgresCPU() float64 {
	dirs, _ := os.ReadDir("/proc")
	total := 0.0
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			total += cpuSeconds(pid)
		}
	}
	return total
}

// quietLogger keeps the SDK's client logs out of the figures.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

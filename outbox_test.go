package hogsend

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/worker/workertest"
	"github.com/hogsend/hogsend/workflows"
)

// pingPerEvent is a consumer that asks Temporal to start a ping workflow for every event, the way
// journey triggers will.
type pingPerEvent struct{}

func (pingPerEvent) ConsumeEvent(_ context.Context, _ pgx.Tx, ev *ingest.StoredEvent, fx *ingest.Effects) error {
	fx.Intents = append(fx.Intents, outbox.Start(outbox.StartWorkflow{WorkflowID: "ping-" + ev.ID, WorkflowType: workflows.PingName}))
	return nil
}

// gate is a TCP proxy to a target that refuses connections until opened: Temporal "down", then "up".
type gate struct {
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // closed: connections are refused
	g := &gate{addr: addr, target: target}
	t.Cleanup(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.ln != nil {
			g.ln.Close()
		}
	})
	return g
}

func (g *gate) open(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", g.addr)
	require.NoError(t, err)
	g.mu.Lock()
	g.ln = ln
	g.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", g.target)
			if err != nil {
				in.Close()
				continue
			}
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// workflowStarted reports whether the in-process server knows the workflow.
func workflowStarted(t *testing.T, id string) bool {
	_, err := workertest.Client(t).DescribeWorkflowExecution(context.Background(), id, "")
	return err == nil
}

func TestIngestWhileTemporalIsDownDeliversAfterItReturns(t *testing.T) {
	t.Parallel()
	srv := workertest.Server(t)
	g := newGate(t, srv.GetFrontendHostPort())
	_, dsn := schematest.TestDB(t)
	env := testEnv(t, dsn, true)
	env["TEMPORAL_ADDRESS"] = g.addr
	e, _ := testEngine(t, env)
	e.Ingest().Consumers = []ingest.Consumer{pingPerEvent{}}
	base := serve(t, e)

	code, out := postJSON(t, base+"/v1/events", map[string]any{"name": "while.down", "userId": "u1"})
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, true, out["stored"], "ingest acknowledges while Temporal is unreachable")
	var eventID string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT id::text FROM user_events WHERE event = 'while.down'`).Scan(&eventID))
	waitUntil(t, "a failed dispatch attempt", func() bool {
		var attempts int
		var lastError *string
		_ = e.pool.QueryRow(context.Background(), `SELECT attempts, last_error FROM outbox WHERE kind = 'temporal.start'`).Scan(&attempts, &lastError)
		return attempts >= 1 && lastError != nil
	})
	require.False(t, workflowStarted(t, "ping-"+eventID))

	g.open(t) // Temporal is back
	waitUntil(t, "the workflow start after Temporal returned", func() bool { return workflowStarted(t, "ping-"+eventID) })
	waitUntil(t, "the outbox row marked done", func() bool {
		var pending int
		_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE dispatched_at IS NULL`).Scan(&pending)
		return pending == 0
	})
}

func TestCommittedIntentsSurviveACrashBeforeDispatch(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	env := testEnv(t, dsn, true)
	e, _ := testEngine(t, env)

	// The "crashed" process: it committed the event and its intent, then died before dispatching.
	crashed := &ingest.Service{DB: e.pool, Consumers: []ingest.Consumer{pingPerEvent{}}}
	res, err := crashed.Ingest(context.Background(), ingest.Event{Name: "before.crash", UserID: "u2"})
	require.NoError(t, err)
	require.True(t, res.Stored)
	require.False(t, workflowStarted(t, "ping-"+res.EventID))

	// The next process to start sweeps the pending row.
	serve(t, e)
	waitUntil(t, "the sweeper starting the workflow", func() bool { return workflowStarted(t, "ping-"+res.EventID) })

	// Dispatching again (a lease expiring mid-flight) starts nothing twice.
	_, err = e.pool.Exec(context.Background(), `UPDATE outbox SET dispatched_at = NULL, next_attempt_at = now()`)
	require.NoError(t, err)
	e.Outbox().Kick()
	waitUntil(t, "the repeated row marked done", func() bool {
		var pending int
		_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE dispatched_at IS NULL`).Scan(&pending)
		return pending == 0
	})
	var lastError *string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT last_error FROM outbox`).Scan(&lastError))
	require.Nil(t, lastError, "an already started workflow counts as done")
}

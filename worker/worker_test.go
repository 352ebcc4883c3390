package worker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/worker"
	"github.com/hogsend/hogsend/worker/workertest"
	"github.com/hogsend/hogsend/workflows"
)

func TestMain(m *testing.M) { schematest.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestHeartbeatLifecycle(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	w, err := worker.New(worker.Config{
		Client: workertest.Client(t), DB: pool, TaskQueue: workertest.TaskQueue(t),
		Logger: quiet(), EngineVersion: "test", HeartbeatEvery: 50 * time.Millisecond,
		Namespace: workertest.Server(t).GetDefaultNamespace(),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	lastSeen := func() *time.Time {
		var ts *time.Time
		err := pool.QueryRow(context.Background(), `SELECT last_seen_at FROM worker_heartbeats WHERE worker_id = $1`, w.ID()).Scan(&ts)
		if err != nil {
			return nil
		}
		return ts
	}
	require.Eventually(t, func() bool { return lastSeen() != nil }, 10*time.Second, 20*time.Millisecond)
	first := *lastSeen()
	require.Eventually(t, func() bool { return lastSeen().After(first) }, 10*time.Second, 20*time.Millisecond, "the heartbeat is refreshed")
	_, alive, err := store.LatestHeartbeat(context.Background(), pool, 30*time.Second)
	require.NoError(t, err)
	require.True(t, alive)

	cancel()
	require.NoError(t, <-done)
	require.Nil(t, lastSeen(), "a graceful stop deletes the row at once")
}

func TestStaleHeartbeatIsDown(t *testing.T) {
	t.Parallel()
	tx := schematest.TestTx(t)
	ctx := context.Background()
	_, err := tx.Exec(ctx, `INSERT INTO worker_heartbeats (worker_id, task_queue, hostname, engine_version, last_seen_at)
		VALUES ('killed', 'q', 'h', 'v', now() - interval '31 seconds')`)
	require.NoError(t, err)
	last, alive, err := store.LatestHeartbeat(ctx, tx, 30*time.Second)
	require.NoError(t, err)
	require.False(t, alive, "a worker killed with -9 is down once its row is 30 s old")
	require.NotNil(t, last)
}

func TestEnsureScheduleCreatesThenUpdates(t *testing.T) {
	t.Parallel()
	c := workertest.Client(t)
	ctx := context.Background()
	s := worker.Schedule{ID: "hogsend-test-" + workertest.TaskQueue(t), Cron: "*/5 * * * *", Workflow: workflows.PingName, TaskQueue: "q"}
	require.NoError(t, worker.EnsureSchedule(ctx, c, s))
	s.Cron = "*/1 * * * *"
	require.NoError(t, worker.EnsureSchedule(ctx, c, s), "a second call updates instead of failing")

	h := c.ScheduleClient().GetHandle(ctx, s.ID)
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	desc, err := h.Describe(ctx)
	require.NoError(t, err)
	// Temporal stores cron specs in its structured form; one calendar entry every minute.
	require.Len(t, desc.Schedule.Spec.Calendars, 1)
	require.Equal(t, []client.ScheduleRange{{Start: 0, End: 59, Step: 1}}, desc.Schedule.Spec.Calendars[0].Minute)
	action := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.Equal(t, workflows.PingName, action.Workflow)
}

func TestNewRejectsMissingDependencies(t *testing.T) {
	t.Parallel()
	_, err := worker.New(worker.Config{})
	require.ErrorContains(t, err, "required")
}

func TestEnsureSearchAttributesRegistersTheJourneyAttributesOnce(t *testing.T) {
	t.Parallel()
	c := workertest.Client(t)
	ns := workertest.Server(t).GetDefaultNamespace()
	for range 2 { // the second call finds them and changes nothing
		require.NoError(t, worker.EnsureSearchAttributes(context.Background(), c, ns))
	}
	have, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	for _, name := range worker.JourneySearchAttributes {
		require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, have.GetCustomAttributes()[name], name)
	}
	require.ErrorContains(t, worker.EnsureSearchAttributes(context.Background(), c, "no-such-namespace"), "no-such-namespace")
}

func TestTheWorkerSchedulesTheJourneyWatchdog(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	c, queue := workertest.Client(t), workertest.TaskQueue(t)
	w, err := worker.New(worker.Config{Client: c, DB: pool, TaskQueue: queue, Logger: quiet(),
		Namespace: workertest.Server(t).GetDefaultNamespace()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	h := c.ScheduleClient().GetHandle(context.Background(), worker.WatchdogScheduleID(queue))
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	require.Eventually(t, func() bool { _, err := h.Describe(context.Background()); return err == nil }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, h.Trigger(context.Background(), client.ScheduleTriggerOptions{}))
	var started *client.ScheduleWorkflowExecution
	require.Eventually(t, func() bool {
		desc, err := h.Describe(context.Background())
		if err == nil && len(desc.Info.RecentActions) > 0 {
			started = desc.Info.RecentActions[0].StartWorkflowResult
		}
		return started != nil
	}, 10*time.Second, 20*time.Millisecond)
	var res contract.SweepResult
	require.NoError(t, c.GetWorkflow(context.Background(), started.WorkflowID, started.FirstExecutionRunID).Get(context.Background(), &res),
		"the sweep ran on this worker against its database")
}

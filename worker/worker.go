// Package worker runs the engine's Temporal worker: it registers every workflow and activity under
// its constant name, keeps a heartbeat row in Postgres so the API can tell whether any worker is
// alive, and owns the engine's Temporal Schedules.
package worker

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities"
	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/imports"
	"github.com/hogsend/hogsend/internal/journeys"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/workflows"
)

// DefaultTaskQueue is the task queue when TEMPORAL_TASK_QUEUE is unset.
const DefaultTaskQueue = "hogsend"

// Workflow is a workflow function registered under a fixed name.
type Workflow struct {
	Name string
	Func any
}

// Activity is an activity function registered under a fixed name.
type Activity struct {
	Name string
	Func any
}

// Options are the application's additions to the worker.
type Options struct {
	Workflows  []Workflow
	Activities []Activity
}

// Config holds the worker's dependencies, built by the composition root.
type Config struct {
	Client        client.Client
	DB            *pgxpool.Pool
	TaskQueue     string
	Logger        *slog.Logger
	EngineVersion string
	Options       Options
	// HeartbeatEvery defaults to 10s.
	HeartbeatEvery time.Duration

	// Namespace is checked for the journey search attributes at start. Defaults to "default".
	Namespace string
	// Journeys are every defined journey (ENABLED_JOURNEYS filtered or not): in-flight runs of a
	// journey taken out of the filter still need their code.
	Journeys []*journey.Journey
	// JourneyActivities back the journey runs (Trigger needs its Ingest service).
	JourneyActivities *activities.Journeys
	// Buckets back the reconcile sweep, scheduled on ReconcileCron (nil = no sweep).
	Buckets       *activities.Buckets
	ReconcileCron string
	// Campaigns back the campaign sends and the reaper, scheduled on ReaperCron (nil = none).
	Campaigns  *activities.Campaigns
	ReaperCron string
	// Webhooks back outbound delivery retries and the sweeper on WebhookSweeperCron (nil = none).
	Webhooks           *activities.Webhooks
	WebhookSweeperCron string
	// Alerts back the check-alerts workflow, scheduled on AlertsCron (nil = no checks).
	Alerts     *activities.Alerts
	AlertsCron string
}

// Worker is one worker process's Temporal worker plus its heartbeat.
type Worker struct {
	cfg Config
	id  string
	tw  sdkworker.Worker
	log *slog.Logger
}

// New builds the worker and registers everything; nothing runs until Run.
func New(cfg Config) (*Worker, error) {
	if cfg.Client == nil || cfg.DB == nil || cfg.TaskQueue == "" {
		return nil, errors.New("worker: Client, DB and TaskQueue are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = 10 * time.Second
	}
	w := &Worker{cfg: cfg, id: newWorkerID(), log: cfg.Logger}
	// Custom names everywhere: aliasing would also register Go function names, which are not durable.
	// Journey tasks run their local activities (state writes, sends) inside the task, so a task
	// takes milliseconds of Postgres time: more pollers keep several in flight.
	w.tw = sdkworker.New(cfg.Client, cfg.TaskQueue, sdkworker.Options{DisableRegistrationAliasing: true,
		MaxConcurrentWorkflowTaskPollers: 8})

	ops := &activities.Ops{DB: cfg.DB, WorkerID: w.id}
	var wfs []Workflow
	for _, b := range workflows.Builtins {
		wfs = append(wfs, Workflow{Name: b.Name, Func: b.Func})
	}
	wfs = append(wfs, cfg.Options.Workflows...)
	imports := &activities.Imports{Imports: &imports.Service{DB: cfg.DB}}
	defined := map[string]bool{}
	for _, j := range cfg.Journeys {
		defined[j.ID] = true
	}
	watchdog := &activities.Watchdog{Watchdog: &journeys.Watchdog{DB: cfg.DB, Logger: cfg.Logger,
		Defined: func(id string) bool { return defined[id] }}}
	acts := append([]Activity{
		{Name: contract.PingDatabaseName, Func: ops.PingDatabase},
		{Name: contract.SweepStalledStartsName, Func: watchdog.SweepStalledStarts},
		{Name: contract.PrepareImportName, Func: imports.PrepareImport},
		{Name: contract.ImportBatchName, Func: imports.ImportBatch},
		{Name: contract.FinishImportName, Func: imports.FinishImport},
	}, cfg.Options.Activities...)
	if len(cfg.Journeys) > 0 && cfg.JourneyActivities == nil {
		return nil, errors.New("worker: JourneyActivities are required when journeys are defined")
	}
	for _, j := range cfg.Journeys {
		wfs = append(wfs, Workflow{Name: journey.WorkflowName(j.ID), Func: workflows.JourneyWorkflow(j)})
	}
	if b := cfg.Buckets; b != nil {
		acts = append(acts,
			Activity{Name: contract.PlanReconcileName, Func: b.PlanReconcile},
			Activity{Name: contract.ReconcilePassName, Func: b.ReconcilePass},
			Activity{Name: contract.BeginBackfillName, Func: b.BeginBackfill},
			Activity{Name: contract.BackfillJoinPageName, Func: b.BackfillJoinPage},
			Activity{Name: contract.BackfillLeavePageName, Func: b.BackfillLeavePage},
			Activity{Name: contract.FinishBackfillName, Func: b.FinishBackfill},
			Activity{Name: contract.FailBackfillName, Func: b.FailBackfill},
			Activity{Name: contract.ExpireMembershipName, Func: b.ExpireMembership})
	}
	if ja := cfg.JourneyActivities; ja != nil {
		acts = append(acts,
			Activity{Name: contract.JourneyTransitionName, Func: ja.Transition},
			Activity{Name: contract.JourneySendName, Func: ja.Send},
			Activity{Name: contract.JourneyTriggerName, Func: ja.Trigger},
			Activity{Name: contract.JourneyLookupName, Func: ja.Lookup})
	}
	for _, wf := range wfs {
		w.tw.RegisterWorkflowWithOptions(wf.Func, workflow.RegisterOptions{Name: wf.Name})
	}
	if c := cfg.Campaigns; c != nil {
		acts = append(acts,
			Activity{Name: contract.BeginCampaignName, Func: c.BeginCampaign},
			Activity{Name: contract.SendCampaignName, Func: c.SendCampaignPages},
			Activity{Name: contract.PlanCampaignName, Func: c.PlanCampaignWaves},
			Activity{Name: contract.CompleteCampaignName, Func: c.CompleteCampaign},
			Activity{Name: contract.ReapCampaignsName, Func: c.ReapCampaigns})
	}
	if wh := cfg.Webhooks; wh != nil {
		acts = append(acts,
			Activity{Name: contract.AttemptWebhookDeliveryName, Func: wh.AttemptWebhookDelivery},
			Activity{Name: contract.SweepWebhookDeliveriesName, Func: wh.SweepWebhookDeliveries})
	}
	if al := cfg.Alerts; al != nil {
		acts = append(acts, Activity{Name: contract.CheckAlertsName, Func: al.CheckAlerts})
	}
	for _, a := range acts {
		w.tw.RegisterActivityWithOptions(a.Func, activity.RegisterOptions{Name: a.Name})
	}
	return w, nil
}

// ID is this process's worker id (`<hostname>:<pid>:<8 hex>`).
func (w *Worker) ID() string { return w.id }

func newWorkerID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Run starts polling and heartbeating and blocks until ctx is cancelled. On the way out the
// heartbeat row is deleted first, so the API reports the worker down at once.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.waitForTemporal(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before Temporal came back
		}
		return err
	}
	for _, s := range w.schedules() {
		if err := EnsureSchedule(ctx, w.cfg.Client, s.Schedule); err != nil {
			w.log.Warn("could not create the "+s.what+" schedule; "+s.without, "error", err)
		}
	}
	if w.cfg.Buckets != nil {
		w.startBackfills(ctx)
	}
	if err := w.tw.Start(); err != nil {
		return fmt.Errorf("start temporal worker: %w", err)
	}
	w.log.Info("Hogsend worker ready", "engineVersion", w.cfg.EngineVersion, "taskQueue", w.cfg.TaskQueue, "workerId", w.id)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.heartbeat(ctx)
	}()
	<-ctx.Done()
	<-hbDone
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := store.DeleteHeartbeat(stopCtx, w.cfg.DB, w.id); err != nil {
		w.log.Warn("could not delete worker heartbeat", "error", err)
	}
	w.tw.Stop()
	return nil
}

// ownedSchedule is a schedule the worker keeps, with what is missing while it cannot.
type ownedSchedule struct {
	Schedule
	what, without string
}

// schedules are the engine's schedules this worker's configuration calls for.
func (w *Worker) schedules() []ownedSchedule {
	q := w.cfg.TaskQueue
	out := []ownedSchedule{{Schedule{ID: WatchdogScheduleID(q), Cron: "* * * * *", Workflow: workflows.JourneyWatchdogName,
		TaskQueue: q, RunTimeout: time.Minute}, "journey watchdog", "stalled enrolments are not swept"}}
	if w.cfg.Buckets != nil {
		out = append(out, ownedSchedule{Schedule{ID: ReconcileScheduleID(q), Cron: cmp.Or(w.cfg.ReconcileCron, DefaultReconcileCron),
			Workflow: workflows.BucketReconcileName, TaskQueue: q, RunTimeout: 30 * time.Minute,
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE}, "bucket reconcile", "clock-driven bucket changes wait"})
	}
	if w.cfg.Campaigns != nil {
		out = append(out, ownedSchedule{Schedule{ID: ReaperScheduleID(q), Cron: cmp.Or(w.cfg.ReaperCron, DefaultReconcileCron),
			Workflow: workflows.CampaignReaperName, TaskQueue: q, RunTimeout: 2 * time.Minute}, "campaign reaper", "stuck campaigns are not re-driven"})
	}
	if w.cfg.Webhooks != nil {
		out = append(out, ownedSchedule{Schedule{ID: WebhookSweeperScheduleID(q), Cron: cmp.Or(w.cfg.WebhookSweeperCron, "*/1 * * * *"),
			Workflow: workflows.WebhookSweeperName, TaskQueue: q, RunTimeout: time.Minute}, "webhook sweeper", "lost deliveries are not re-driven"})
	}
	if w.cfg.Alerts != nil {
		out = append(out, ownedSchedule{Schedule{ID: AlertsScheduleID(q), Cron: cmp.Or(w.cfg.AlertsCron, DefaultReconcileCron),
			Workflow: workflows.CheckAlertsName, TaskQueue: q, RunTimeout: 3 * time.Minute}, "alert check", "alert rules are not evaluated"})
	}
	return out
}

// waitForTemporal checks the journey search attributes, waiting for Temporal while it is
// unreachable (a worker started during an outage begins when Temporal returns). Other errors,
// such as missing rights to register the attributes, stop the worker.
func (w *Worker) waitForTemporal(ctx context.Context) error {
	delay := time.Second
	for {
		err := EnsureSearchAttributes(ctx, w.cfg.Client, w.cfg.Namespace)
		var down *serviceerror.Unavailable
		if !errors.As(err, &down) {
			return err
		}
		w.log.Warn("Temporal is unreachable; the worker waits for it", "retryIn", delay, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 15*time.Second)
	}
}

// heartbeat upserts the worker's row now and every HeartbeatEvery. The first failure is logged
// at debug level, later ones are silent: the API reports the gap anyway.
func (w *Worker) heartbeat(ctx context.Context) {
	host, _ := os.Hostname()
	hb := store.Heartbeat{WorkerID: w.id, TaskQueue: w.cfg.TaskQueue, Hostname: host, EngineVersion: w.cfg.EngineVersion}
	logged := false
	beat := func() {
		bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := store.UpsertHeartbeat(bctx, w.cfg.DB, hb)
		if err == nil {
			err = store.DeleteStaleHeartbeats(bctx, w.cfg.DB, 24*time.Hour)
		}
		if err != nil && !logged && ctx.Err() == nil {
			w.log.Debug("worker heartbeat failed", "error", err)
			logged = true
		}
	}
	beat()
	t := time.NewTicker(w.cfg.HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			beat()
		}
	}
}

// startBackfills starts a backfill for every bucket that is new or whose criteria changed. One
// workflow id per job, so workers booting together start each once; a failure is logged and
// the next boot tries again (until then the sweep holds the bucket's joins).
func (w *Worker) startBackfills(ctx context.Context) {
	due, err := w.cfg.Buckets.Backfiller.Due(ctx)
	if err != nil {
		w.log.Warn("could not list the bucket backfills to run", "error", err)
		return
	}
	for _, in := range due {
		_, err := w.cfg.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.BackfillWorkflowID(in.BucketID, in.JobID),
			TaskQueue: w.cfg.TaskQueue, WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY},
			workflows.BucketBackfillName, workflows.BackfillState{Job: in})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			w.log.Warn("could not start a bucket backfill", "bucketId", in.BucketID, "error", err)
		}
	}
}

package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Schedule is an engine-owned Temporal Schedule: a workflow started on a cron spec.
type Schedule struct {
	// ID is fixed forever (e.g. "hogsend-bucket-reconcile"): it is how the schedule is found again.
	ID        string
	Cron      string
	Workflow  string
	TaskQueue string
	Args      []any
	// RunTimeout bounds each run (0 = none), so a run nobody picks up does not skip the next.
	RunTimeout time.Duration
	// Overlap is what a tick does while the last run is still going; unset = skip it.
	Overlap enumspb.ScheduleOverlapPolicy
}

// WatchdogScheduleID is the journey watchdog's schedule: "hogsend-journey-watchdog", suffixed
// with the task queue when it is not the default one, so engines sharing a namespace each
// sweep their own database.
func WatchdogScheduleID(taskQueue string) string {
	return scheduleID("hogsend-journey-watchdog", taskQueue)
}

// ReconcileScheduleID is the bucket reconcile sweep's schedule, "hogsend-bucket-reconcile"
// (suffixed as the watchdog's is).
func ReconcileScheduleID(taskQueue string) string {
	return scheduleID("hogsend-bucket-reconcile", taskQueue)
}

// ReaperScheduleID is the campaign reaper's schedule, "campaign-reaper" (suffixed as the
// watchdog's is).
func ReaperScheduleID(taskQueue string) string {
	return scheduleID("campaign-reaper", taskQueue)
}

// WebhookSweeperScheduleID is the outbound webhook sweeper's schedule, "hogsend-webhook-sweeper"
// (suffixed as the watchdog's is).
func WebhookSweeperScheduleID(taskQueue string) string {
	return scheduleID("hogsend-webhook-sweeper", taskQueue)
}

// AlertsScheduleID is the alert check's schedule, "hogsend-check-alerts" (suffixed as the
// watchdog's is).
func AlertsScheduleID(taskQueue string) string {
	return scheduleID("hogsend-check-alerts", taskQueue)
}

// DefaultReconcileCron is the sweep's cadence when BUCKET_RECONCILE_CRON is unset (and the
// reaper's and the alert check's when their crons are).
const DefaultReconcileCron = "*/5 * * * *"

func scheduleID(base, taskQueue string) string {
	if taskQueue == DefaultTaskQueue {
		return base
	}
	return base + "-" + taskQueue
}

func (s Schedule) overlap() enumspb.ScheduleOverlapPolicy {
	if s.Overlap == enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED {
		return enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
	}
	return s.Overlap
}

// catchupWindow: a schedule that missed runs while Temporal was down runs at most once late.
const catchupWindow = time.Minute

func (s Schedule) spec() client.ScheduleSpec {
	return client.ScheduleSpec{CronExpressions: []string{s.Cron}}
}

func (s Schedule) action() *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:                 s.ID + "-run",
		Workflow:           s.Workflow,
		TaskQueue:          s.TaskQueue,
		Args:               s.Args,
		WorkflowRunTimeout: s.RunTimeout,
	}
}

// EnsureSchedule creates the schedule, or updates it in place when it exists, so every worker
// can call it at boot: the result is one schedule with the latest spec. Overlapping runs are
// skipped.
func EnsureSchedule(ctx context.Context, c client.Client, s Schedule) error {
	spec := s.spec()
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:            s.ID,
		Spec:          spec,
		Action:        s.action(),
		Overlap:       s.overlap(),
		CatchupWindow: catchupWindow,
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", s.ID, err)
	}
	err = c.ScheduleClient().GetHandle(ctx, s.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sched := in.Description.Schedule
			sched.Spec = &spec
			sched.Action = s.action()
			if sched.Policy == nil {
				sched.Policy = &client.SchedulePolicies{}
			}
			sched.Policy.Overlap = s.overlap()
			sched.Policy.CatchupWindow = catchupWindow
			return &client.ScheduleUpdate{Schedule: &sched}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", s.ID, err)
	}
	return nil
}

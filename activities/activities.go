// Package activities holds the engine's Temporal activities: methods on structs that carry their
// dependencies, one input struct in and one result struct out, registered under constant names.
package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/buckets"
	"github.com/hogsend/hogsend/internal/journeys"
	"github.com/hogsend/hogsend/internal/store"
)

// Ops are the engine's operational activities.
type Ops struct {
	DB store.DBTX
	// WorkerID identifies the worker process in results.
	WorkerID string
}

// PingDatabase checks that the worker can reach Postgres.
func (o *Ops) PingDatabase(ctx context.Context) (contract.PingDatabaseResult, error) {
	if err := store.Ping(ctx, o.DB); err != nil {
		return contract.PingDatabaseResult{}, fmt.Errorf("worker %s cannot reach the database: %w", o.WorkerID, err)
	}
	return contract.PingDatabaseResult{Worker: o.WorkerID}, nil
}

// Watchdog is the journey watchdog's activity.
type Watchdog struct{ Watchdog *journeys.Watchdog }

// SweepStalledStarts re-dispatches or fails enrolments that no run has claimed.
func (w *Watchdog) SweepStalledStarts(ctx context.Context) (contract.SweepResult, error) {
	res, err := w.Watchdog.Sweep(ctx)
	return contract.SweepResult{Redispatched: res.Redispatched, Failed: res.Failed}, err
}

// Buckets are the activities of the bucket reconcile sweep and of backfills.
type Buckets struct {
	Reconciler *buckets.Reconciler
	Backfiller *buckets.Backfiller
}

// PlanReconcile lists the buckets the sweep visits this tick, with their passes.
func (b *Buckets) PlanReconcile(ctx context.Context) ([]contract.ReconcilePlan, error) {
	return b.Reconciler.Plan(ctx)
}

// ReconcilePass runs one bounded batch of a pass.
func (b *Buckets) ReconcilePass(ctx context.Context, in contract.PassInput) (contract.PassResult, error) {
	activity.RecordHeartbeat(ctx, in.Cursor)
	return b.Reconciler.Pass(ctx, in.BucketID, in.Pass, in.Cursor)
}

// BeginBackfill marks a backfill job processing; false when its bucket is gone.
func (b *Buckets) BeginBackfill(ctx context.Context, in contract.BackfillInput) (bool, error) {
	return b.Backfiller.Begin(ctx, in)
}

// BackfillJoinPage silently joins one page of matching contacts.
func (b *Buckets) BackfillJoinPage(ctx context.Context, in contract.BackfillPage) (contract.PassResult, error) {
	activity.RecordHeartbeat(ctx, in.Cursor)
	return b.Backfiller.JoinPage(ctx, in.Job, in.Cursor)
}

// BackfillLeavePage re-checks one page of members (re-evaluation).
func (b *Buckets) BackfillLeavePage(ctx context.Context, in contract.BackfillPage) (contract.PassResult, error) {
	activity.RecordHeartbeat(ctx, in.Cursor)
	return b.Backfiller.LeavePage(ctx, in.Job, in.Cursor)
}

// FinishBackfill stores the criteria hash and completes the job.
func (b *Buckets) FinishBackfill(ctx context.Context, in contract.BackfillEnd) error {
	return b.Backfiller.Finish(ctx, in.Job, in.Total, in.Processed)
}

// FailBackfill records why the job stopped.
func (b *Buckets) FailBackfill(ctx context.Context, in contract.BackfillEnd) error {
	return b.Backfiller.Fail(ctx, in.Job, in.Message)
}

// ExpireMembership is a fast-expiry timer's check of its membership.
func (b *Buckets) ExpireMembership(ctx context.Context, in contract.Expiry) (contract.ExpiryResult, error) {
	outcome, err := b.Reconciler.Expire(ctx, in)
	return contract.ExpiryResult{Outcome: outcome}, err
}

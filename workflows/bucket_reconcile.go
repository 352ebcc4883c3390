package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// BucketReconcileName is the workflow type of BucketReconcile, run on BUCKET_RECONCILE_CRON by
// the schedule the worker keeps (worker.ReconcileScheduleID).
const BucketReconcileName = "hogsend-bucket-reconcile"

// reconcileBatches bounds the batches of one pass per tick; what is left waits for the next.
const reconcileBatches = 50

// BucketReconcile makes one sweep: for every bucket the plan names, its passes in order, each
// in bounded batches. A failing bucket is logged and skipped; the others go on. Correctness
// rests on the database (compare-and-swap flips, deterministic transition keys), so a retried
// batch changes nothing twice.
func BucketReconcile(ctx workflow.Context) (contract.ReconcileResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 2},
	})
	var plan []contract.ReconcilePlan
	if err := workflow.ExecuteActivity(ctx, contract.PlanReconcileName).Get(ctx, &plan); err != nil {
		return contract.ReconcileResult{}, err
	}
	res := contract.ReconcileResult{Buckets: len(plan)}
	for _, p := range plan {
		changed, err := reconcileBucket(ctx, p)
		res.Changed += changed
		if err != nil {
			res.Failed++
			workflow.GetLogger(ctx).Error("bucket reconcile failed; the next tick tries again", "bucketId", p.BucketID, "error", err)
		}
	}
	return res, nil
}

// reconcileBucket runs a bucket's passes in order; an error stops that bucket's later passes.
func reconcileBucket(ctx workflow.Context, p contract.ReconcilePlan) (int, error) {
	changed := 0
	for _, pass := range p.Passes {
		in := contract.PassInput{BucketID: p.BucketID, Pass: pass}
		for range reconcileBatches {
			var out contract.PassResult
			if err := workflow.ExecuteActivity(ctx, contract.ReconcilePassName, in).Get(ctx, &out); err != nil {
				return changed, err
			}
			changed += out.Changed
			if !out.More {
				break
			}
			in.Cursor = out.Cursor
		}
	}
	return changed, nil
}

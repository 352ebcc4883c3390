package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// BucketBackfillName is the workflow type of BucketBackfill, started by the worker at boot for
// every bucket whose criteria hash changed (or that is new).
const BucketBackfillName = "hogsend-bucket-backfill"

// BackfillWorkflowID is one workflow per backfill job: workers booting together reuse the open
// job, so they start it once; engines sharing a namespace have their own jobs.
func BackfillWorkflowID(bucketID, jobID string) string {
	return "bucket-backfill:" + bucketID + ":" + jobID
}

// Backfill phases.
const (
	backfillJoins  = "joins"
	backfillLeaves = "leaves"
	backfillFinish = "finish"
)

// backfillPagesPerRun bounds a run's history; the backfill continues as new with its cursor.
const backfillPagesPerRun = 100

// BackfillState is where a backfill is: it is the workflow's input, so a continued run picks
// up from its cursor.
type BackfillState struct {
	Job     contract.BackfillInput
	Phase   string // "" = not begun
	Cursor  string
	Changed int // rows joined and left so far
}

// BucketBackfill brings a bucket's members in line with its criteria over existing data: pages
// of silent joins, then (re-evaluation) pages of announced leaves, then the hash is stored.
func BucketBackfill(ctx workflow.Context, st BackfillState) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
	fail := func(err error) (int, error) {
		_ = workflow.ExecuteActivity(ctx, contract.FailBackfillName, contract.BackfillEnd{Job: st.Job, Message: err.Error()}).Get(ctx, nil)
		return st.Changed, err
	}
	if st.Phase == "" {
		var registered bool
		if err := workflow.ExecuteActivity(ctx, contract.BeginBackfillName, st.Job).Get(ctx, &registered); err != nil {
			return fail(err)
		}
		if !registered {
			return 0, nil // the job is failed: the bucket is gone
		}
		st.Phase = backfillJoins
	}
	for pages := 0; st.Phase != backfillFinish; pages++ {
		if pages == backfillPagesPerRun {
			return 0, workflow.NewContinueAsNewError(ctx, BucketBackfillName, st)
		}
		name := contract.BackfillJoinPageName
		if st.Phase == backfillLeaves {
			name = contract.BackfillLeavePageName
		}
		var res contract.PassResult
		if err := workflow.ExecuteActivity(ctx, name, contract.BackfillPage{Job: st.Job, Cursor: st.Cursor}).Get(ctx, &res); err != nil {
			return fail(err)
		}
		st.Changed, st.Cursor = st.Changed+res.Changed, res.Cursor
		if res.More {
			continue
		}
		st.Cursor = ""
		if st.Phase == backfillJoins && st.Job.Mode == contract.BackfillReeval {
			st.Phase = backfillLeaves
		} else {
			st.Phase = backfillFinish
		}
	}
	if err := workflow.ExecuteActivity(ctx, contract.FinishBackfillName, contract.BackfillEnd{Job: st.Job, Total: st.Changed,
		Processed: st.Changed}).Get(ctx, nil); err != nil {
		return fail(err)
	}
	return st.Changed, nil
}

package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/workflows"
)

// reconcilePlan is a tick over two buckets: b1 leaves in two batches then TTL; b2's dwell fails.
var reconcilePlan = []contract.ReconcilePlan{
	{BucketID: "b1", Passes: []string{"leaves", "ttl"}},
	{BucketID: "b2", Passes: []string{"dwell", "ttl"}},
}

// fakeReconcilePass: b1 leaves has a second batch; b2 dwell fails; the rest change one row.
func fakeReconcilePass(_ context.Context, in contract.PassInput) (contract.PassResult, error) {
	switch {
	case in.BucketID == "b1" && in.Pass == "leaves" && in.Cursor == "":
		return contract.PassResult{Processed: 1000, Changed: 3, Cursor: "m-1000", More: true}, nil
	case in.BucketID == "b2" && in.Pass == "dwell":
		return contract.PassResult{}, errors.New("database is restarting")
	}
	return contract.PassResult{Processed: 1, Changed: 1}, nil
}

func TestBucketReconcileRunsPassesInBatchesAndSkipsAFailingBucket(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.BucketReconcile, workflow.RegisterOptions{Name: workflows.BucketReconcileName})
	var mu sync.Mutex
	var calls []contract.PassInput
	env.RegisterActivityWithOptions(func(context.Context) ([]contract.ReconcilePlan, error) { return reconcilePlan, nil },
		activity.RegisterOptions{Name: contract.PlanReconcileName})
	env.RegisterActivityWithOptions(func(ctx context.Context, in contract.PassInput) (contract.PassResult, error) {
		mu.Lock()
		calls = append(calls, in)
		mu.Unlock()
		return fakeReconcilePass(ctx, in)
	}, activity.RegisterOptions{Name: contract.ReconcilePassName})

	env.ExecuteWorkflow(workflows.BucketReconcileName)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "one bucket failing does not fail the tick")
	var res contract.ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, contract.ReconcileResult{Buckets: 2, Changed: 5, Failed: 1}, res)
	require.Equal(t, []contract.PassInput{
		{BucketID: "b1", Pass: "leaves"}, {BucketID: "b1", Pass: "leaves", Cursor: "m-1000"}, {BucketID: "b1", Pass: "ttl"},
		{BucketID: "b2", Pass: "dwell"}, {BucketID: "b2", Pass: "dwell"}, // retried once, then the bucket's later passes are skipped
	}, calls)
}

// backfillJob is a re-evaluation whose joins take two pages and leaves one.
var backfillJob = contract.BackfillInput{JobID: "00000000-0000-4000-8000-000000000002", BucketID: "b1", Mode: contract.BackfillReeval,
	Hash: "0123456789abcdef0123456789abcdef"}

func fakeBackfillPage(_ context.Context, in contract.BackfillPage) (contract.PassResult, error) {
	if in.Cursor == "" && in.Job.Mode == contract.BackfillReeval {
		return contract.PassResult{Processed: 500, Changed: 20, Cursor: "c-500", More: true}, nil
	}
	return contract.PassResult{Processed: 10, Changed: 1}, nil
}

func TestBucketBackfillPagesJoinsThenLeavesThenFinishes(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.BucketBackfill, workflow.RegisterOptions{Name: workflows.BucketBackfillName})
	var mu sync.Mutex
	var calls []string
	record := func(name string) { mu.Lock(); calls = append(calls, name); mu.Unlock() }
	env.RegisterActivityWithOptions(func(context.Context, contract.BackfillInput) (bool, error) { record("begin"); return true, nil },
		activity.RegisterOptions{Name: contract.BeginBackfillName})
	for _, name := range []string{contract.BackfillJoinPageName, contract.BackfillLeavePageName} {
		env.RegisterActivityWithOptions(func(ctx context.Context, in contract.BackfillPage) (contract.PassResult, error) {
			record(name + "@" + in.Cursor)
			if name == contract.BackfillLeavePageName {
				return contract.PassResult{Changed: 2}, nil
			}
			return fakeBackfillPage(ctx, in)
		}, activity.RegisterOptions{Name: name})
	}
	var end contract.BackfillEnd
	env.RegisterActivityWithOptions(func(_ context.Context, in contract.BackfillEnd) error { end = in; record("finish"); return nil },
		activity.RegisterOptions{Name: contract.FinishBackfillName})

	env.ExecuteWorkflow(workflows.BucketBackfillName, workflows.BackfillState{Job: backfillJob})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"begin", contract.BackfillJoinPageName + "@", contract.BackfillJoinPageName + "@c-500",
		contract.BackfillLeavePageName + "@", "finish"}, calls)
	require.Equal(t, 23, end.Processed)
	require.Equal(t, "bucket-backfill:b1:"+backfillJob.JobID, workflows.BackfillWorkflowID("b1", backfillJob.JobID))
}

func TestBucketExpirySleepsToTheDeadlineThenChecks(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.BucketExpiry, workflow.RegisterOptions{Name: workflows.BucketExpiryName})
	start := env.Now()
	var checkedAt time.Time
	env.RegisterActivityWithOptions(func(ctx context.Context, in contract.Expiry) (contract.ExpiryResult, error) {
		checkedAt = env.Now()
		return contract.ExpiryResult{Outcome: "left"}, nil
	}, activity.RegisterOptions{Name: contract.ExpireMembershipName})
	env.ExecuteWorkflow(workflows.BucketExpiryName, contract.Expiry{RowID: "r1", BucketID: "b1", UserKey: "u1", ArmedExpiresAt: start.Add(90 * time.Minute)})
	require.NoError(t, env.GetWorkflowError())
	var res contract.ExpiryResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "left", res.Outcome)
	require.False(t, checkedAt.Before(start.Add(90*time.Minute)), "checked at the deadline, not before")
	require.Equal(t, "bucket-expiry:r1", contract.BucketExpiryID("r1"))
}

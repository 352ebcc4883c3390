package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"

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

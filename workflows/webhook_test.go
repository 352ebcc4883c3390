package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/workflows"
)

// fakeDelivery fails twice, each time due again later, then is delivered.
type fakeDelivery struct {
	clock    func() time.Time
	step     time.Duration // the n-th failure is due again n steps later
	due      time.Time
	attempts []time.Time
}

func (f *fakeDelivery) attempt(context.Context, string) (contract.DeliveryOutcome, error) {
	now := f.clock()
	if now.Before(f.due) { // not due: untouched
		return contract.DeliveryOutcome{Status: "pending", NextRetryAt: &f.due, Attempts: len(f.attempts)}, nil
	}
	f.attempts = append(f.attempts, now)
	if len(f.attempts) == 3 {
		return contract.DeliveryOutcome{Status: "delivered", Attempts: 3}, nil
	}
	f.due = now.Add(time.Duration(len(f.attempts)) * f.step)
	return contract.DeliveryOutcome{Status: "pending", NextRetryAt: &f.due, Attempts: len(f.attempts)}, nil
}

func TestADeliveryIsRetriedAtItsTimesUntilDelivered(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	// Started after a failed first attempt: due 10 s later.
	f := &fakeDelivery{clock: env.Now, step: 10 * time.Second, due: env.Now().Add(10 * time.Second)}
	env.RegisterWorkflowWithOptions(workflows.DeliverWebhook, workflow.RegisterOptions{Name: workflows.DeliverWebhookName})
	env.RegisterActivityWithOptions(f.attempt, activity.RegisterOptions{Name: contract.AttemptWebhookDeliveryName})
	start := env.Now()
	env.ExecuteWorkflow(workflows.DeliverWebhookName, contract.DeliverWebhookInput{DeliveryID: "d1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var out contract.DeliveryOutcome
	require.NoError(t, env.GetWorkflowResult(&out))
	require.Equal(t, "delivered", out.Status)
	require.Len(t, f.attempts, 3)
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} // each after its due time, never before
	for i, at := range f.attempts {
		require.GreaterOrEqual(t, at.Sub(start), want[i], "attempt %d", i+1)
		require.Less(t, at.Sub(start), want[i]+time.Second, "attempt %d", i+1)
	}
}

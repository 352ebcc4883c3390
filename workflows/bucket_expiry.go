package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// BucketExpiryName is the workflow type of BucketExpiry: a join to a fast-expiry bucket starts
// one per membership (id contract.BucketExpiryID), so the clock-driven leave comes at its moment rather
// than at the next sweep.
const BucketExpiryName = contract.BucketExpiryWorkflow

// BucketExpiry sleeps until the membership's deadline, then has it checked. A deadline moved
// since (a deferral, a rejoin) makes this timer a no-op; the sweep stays the backstop.
func BucketExpiry(ctx workflow.Context, in contract.Expiry) (contract.ExpiryResult, error) {
	if d := in.ArmedExpiresAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return contract.ExpiryResult{}, err
		}
	}
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var res contract.ExpiryResult
	err := workflow.ExecuteLocalActivity(ctx, contract.ExpireMembershipName, in).Get(ctx, &res)
	return res, err
}

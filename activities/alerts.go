package activities

import (
	"context"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/alerts"
)

// Alerts is the check-alerts activity.
type Alerts struct {
	Checker *alerts.Checker
}

// CheckAlerts evaluates every enabled rule once.
func (a *Alerts) CheckAlerts(ctx context.Context) (contract.AlertCheckResult, error) {
	return a.Checker.Check(ctx)
}

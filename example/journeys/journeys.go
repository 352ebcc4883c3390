// Package journeys holds the example app's journeys: the lifecycle series of the reference
// engine, written in Go, and three short test journeys that let black-box tests watch sleeps and
// waits in seconds.
package journeys

import (
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/journey"
)

// All are the example journeys in catalog order.
func All() []*journey.Journey {
	return []*journey.Journey{
		ActivationWelcome, ActivationNudges, TrialUpgrade, AbandonedCheckout, RetentionMilestone,
		ReferralInvite, FeedbackNPS, ReactivationDormancy, ChurnPrevention,
		TestOnboarding, TestWaitForEvent, TestSleep,
	}
}

// seen reports whether the contact has had the event, within the window when one is given.
func seen(ctx journey.Context, u journey.User, event string, within ...journey.Duration) (bool, error) {
	var w *journey.Duration
	if len(within) > 0 {
		w = &within[0]
	}
	found, _, err := ctx.History().HasEvent(u.ID, event, w)
	return found, err
}

// base are the props every send carries; the pipeline fills in the rest (name fallback,
// unsubscribe link).
func base(u journey.User) templates.Base {
	name := u.String("firstName")
	if name == "" {
		name = u.String("name")
	}
	return templates.Base{Name: name}
}

// exitOn lists exit events without property filters.
func exitOn(events ...string) []journey.ExitRule {
	rules := make([]journey.ExitRule, len(events))
	for i, e := range events {
		rules[i] = journey.ExitRule{Event: e}
	}
	return rules
}

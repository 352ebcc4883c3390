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
		TestOnboarding, TestWaitForEvent, TestSleep, TestProWelcome,
	}
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

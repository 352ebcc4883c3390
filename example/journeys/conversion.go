package journeys

import (
	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/journey"
)

// TrialUpgrade walks a trial towards a subscription; subscribing ends it.
var TrialUpgrade = journey.MustDefine(journey.Meta{
	ID: "conversion-trial-upgrade", Name: "Conversion — Trial to Paid", Enabled: true,
	Trigger: journey.Trigger{Event: "trial.started"}, EntryLimit: journey.EntryOnce,
	ExitOn: journey.ExitOn("subscription.created", "user.deleted"), Suppress: journey.Days(1),
}, func(ctx journey.Context, u journey.User) error {
	// Each stage: sleep, then send when its condition holds.
	stages := []struct {
		label string
		after journey.Duration
		send  func() (bool, error)
	}{
		{"usage-milestone", journey.Days(3), func() (bool, error) {
			return sendIf(ctx, u, "usage.milestone_reached", true, templates.UsageMilestone, templates.UsageMilestoneProps{Base: base(u)})
		}},
		{"trial-midpoint", journey.Days(4), func() (bool, error) {
			return sendIf(ctx, u, "paid_feature.attempted", true, templates.UsageMilestone,
				templates.UsageMilestoneProps{Base: base(u), UsageLabel: "Pro features"})
		}},
		{"trial-ending", journey.Days(3), func() (bool, error) {
			_, err := journey.Send(ctx, templates.TrialExpiring, templates.TrialExpiringProps{Base: base(u), DaysLeft: 3})
			return true, err
		}},
		{"trial-final", journey.Days(2), func() (bool, error) {
			_, err := journey.Send(ctx, templates.TrialExpiring, templates.TrialExpiringProps{Base: base(u), DaysLeft: 1})
			return true, err
		}},
		{"post-expiry", journey.Days(2), func() (bool, error) {
			return sendIf(ctx, u, "subscription.created", false, templates.Winback, templates.WinbackProps{Base: base(u), DiscountPercent: 20})
		}},
	}
	for _, s := range stages {
		if _, err := ctx.Sleep(s.after, s.label); err != nil {
			return err
		}
		if _, err := s.send(); err != nil {
			return err
		}
	}
	return nil
})

// sendIf sends t when the contact has (want=true) or has not (want=false) ever had event.
func sendIf[P any](ctx journey.Context, u journey.User, event string, want bool, t email.Template[P], props P) (bool, error) {
	had, err := ctx.Seen(event, journey.Ever)
	if err != nil || had != want {
		return false, err
	}
	_, err = journey.Send(ctx, t, props)
	return err == nil, err
}

// AbandonedCheckout brings a shopper back to an unfinished checkout; completing it ends the
// journey.
var AbandonedCheckout = journey.MustDefine(journey.Meta{
	ID: "conversion-abandoned-checkout", Name: "Conversion — Abandoned Checkout", Enabled: true,
	Trigger: journey.Trigger{Event: "checkout.abandoned"}, EntryLimit: journey.EntryOncePerPeriod,
	EntryPeriod: journey.Days(3), ExitOn: journey.ExitOn("subscription.created", "checkout.completed"),
	Suppress: journey.Hours(4),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := ctx.Sleep(journey.Hours(2), "initial-followup"); err != nil {
		return err
	}
	if done, err := ctx.Seen("checkout.completed", journey.Hours(2)); err != nil || done {
		return err
	}
	if _, err := journey.Send(ctx, templates.TrialExpiring, templates.TrialExpiringProps{Base: base(u), DaysLeft: 0}); err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Days(1), "second-followup"); err != nil {
		return err
	}
	if done, err := ctx.Seen("checkout.completed", journey.Hours(26)); err != nil || done {
		return err
	}
	_, err := journey.Send(ctx, templates.Winback, templates.WinbackProps{Base: base(u), DiscountPercent: 10, ExpiresIn: "48 hours"})
	return err
})

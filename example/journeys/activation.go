package journeys

import (
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/journey"
)

// ActivationWelcome greets a new user, points them at what fits how far they got, and
// introduces the community.
var ActivationWelcome = journey.MustDefine(journey.Meta{
	ID: "activation-welcome", Name: "Activation — Welcome Series", Enabled: true,
	Trigger: journey.Trigger{Event: "user.created"}, EntryLimit: journey.EntryOnce,
	ExitOn: journey.ExitOn("user.deleted"), Suppress: journey.Hours(12),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := journey.Send(ctx, templates.Quickstart, templates.QuickstartProps{Base: base(u)}); err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Days(2), "post-welcome"); err != nil {
		return err
	}
	used, err := ctx.Seen("feature.used", journey.Ever)
	if err != nil {
		return err
	}
	if used {
		_, err = journey.Send(ctx, templates.FeatureHighlight, templates.FeatureHighlightProps{Base: base(u)})
	} else {
		_, err = journey.Send(ctx, templates.Nudge, templates.NudgeProps{Base: base(u), DaysSinceSignup: 2})
	}
	if err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Days(2), "pre-community"); err != nil {
		return err
	}
	_, err = journey.Send(ctx, templates.Community, templates.CommunityProps{Base: base(u)})
	return err
})

// ActivationNudges reacts to what a new user has not done yet; activating ends it.
var ActivationNudges = journey.MustDefine(journey.Meta{
	ID: "activation-nudge-series", Name: "Activation — Behavioral Nudges", Enabled: true,
	Trigger: journey.Trigger{Event: "user.created"}, EntryLimit: journey.EntryOnce,
	ExitOn: journey.ExitOn("user.deleted", "user.activated"), Suppress: journey.Hours(12),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := ctx.Sleep(journey.Days(2), "initial-nudge"); err != nil {
		return err
	}
	if used, err := ctx.Seen("feature.used", journey.Days(2)); err != nil {
		return err
	} else if !used {
		if _, err := journey.Send(ctx, templates.Nudge, templates.NudgeProps{Base: base(u), DaysSinceSignup: 2}); err != nil {
			return err
		}
	}
	if _, err := ctx.Sleep(journey.Days(1), "setup-check"); err != nil {
		return err
	}
	if done, err := ctx.Seen("setup.completed", journey.Days(3)); err != nil {
		return err
	} else if !done {
		if _, err := journey.Send(ctx, templates.Quickstart, templates.QuickstartProps{Base: base(u)}); err != nil {
			return err
		}
	}
	if _, err := ctx.Sleep(journey.Days(2), "first-value"); err != nil {
		return err
	}
	if valued, err := ctx.Seen("value.delivered", journey.Ever); err != nil {
		return err
	} else if valued {
		if _, err := journey.Send(ctx, templates.FeatureHighlight, templates.FeatureHighlightProps{Base: base(u)}); err != nil {
			return err
		}
	}
	if _, err := ctx.Sleep(journey.Days(2), "community"); err != nil {
		return err
	}
	_, err := journey.Send(ctx, templates.Community, templates.CommunityProps{Base: base(u)})
	return err
})

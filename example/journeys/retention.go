package journeys

import (
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/journey"
)

// RetentionMilestone celebrates a milestone, then invites the user to the community.
var RetentionMilestone = journey.MustDefine(journey.Meta{
	ID: "retention-milestone", Name: "Retention — Milestone Celebration", Enabled: true,
	Trigger: journey.Trigger{Event: "milestone.reached"}, EntryLimit: journey.EntryUnlimited,
	ExitOn: journey.ExitOn("user.deleted"), Suppress: journey.Days(1),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := journey.Send(ctx, templates.Achievement, templates.AchievementProps{Base: base(u),
		AchievementName: u.String("milestone")}); err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Days(1), "post-milestone"); err != nil {
		return err
	}
	_, err := journey.Send(ctx, templates.Community, templates.CommunityProps{Base: base(u)})
	return err
})

// ReferralInvite asks engaged users who just hit a milestone to bring a friend.
var ReferralInvite = journey.MustDefine(journey.Meta{
	ID: "referral-invite", Name: "Referral — Invite a Friend", Enabled: true,
	Trigger: journey.Trigger{Event: "milestone.reached"}, EntryLimit: journey.EntryOncePerPeriod,
	EntryPeriod: journey.Days(7), ExitOn: journey.ExitOn("user.deleted"), Suppress: journey.Days(2),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := ctx.Sleep(journey.Hours(2), "post-achievement"); err != nil {
		return err
	}
	if active, err := ctx.Seen("session.completed", journey.Days(30)); err != nil || !active {
		return err
	}
	_, err := journey.Send(ctx, templates.Achievement, templates.AchievementProps{Base: base(u), CtaText: "Invite a Friend"})
	return err
})

// FeedbackNPS asks for a score after two weeks, reminds once, and checks in at day 60.
var FeedbackNPS = journey.MustDefine(journey.Meta{
	ID: "feedback-nps", Name: "Feedback — NPS Survey", Enabled: true,
	Trigger: journey.Trigger{Event: "user.created"}, EntryLimit: journey.EntryOnce,
	ExitOn: journey.ExitOn("user.deleted", "nps.submitted"), Suppress: journey.Days(1),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := ctx.Sleep(journey.Days(14), "day-14"); err != nil {
		return err
	}
	if _, err := journey.Send(ctx, templates.NPSSurvey, templates.SurveyProps{Base: base(u)}); err != nil {
		return err
	}
	for _, step := range []struct {
		label string
		after journey.Duration
	}{{"nps-reminder", journey.Days(3)}, {"day-60", journey.Days(46)}} {
		if _, err := ctx.Sleep(step.after, step.label); err != nil {
			return err
		}
		if answered, err := ctx.Seen("nps.submitted", step.after); err != nil || answered {
			return err
		}
		if _, err := journey.Send(ctx, templates.NPSSurvey, templates.SurveyProps{Base: base(u)}); err != nil {
			return err
		}
	}
	return nil
})

// ReactivationDormancy wins back a dormant user over six weeks, then marks them suppressed.
var ReactivationDormancy = journey.MustDefine(journey.Meta{
	ID: "reactivation-dormancy", Name: "Reactivation — Dormancy Win-back", Enabled: true,
	Trigger: journey.Trigger{Event: "user.dormancy_detected"}, EntryLimit: journey.EntryOncePerPeriod,
	EntryPeriod: journey.Days(60),
	ExitOn:      journey.ExitOn("user.deleted", "session.completed", "feature.used", "bucket:left:went-dormant"),
	Suppress:    journey.Days(2),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := journey.Send(ctx, templates.Checkin, templates.CheckinProps{Base: base(u), DaysSinceActive: 14}); err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Days(7), "day-21"); err != nil {
		return err
	}
	if _, err := journey.Send(ctx, templates.Checkin, templates.CheckinProps{Base: base(u), DaysSinceActive: 21}); err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Days(9), "day-30"); err != nil {
		return err
	}
	offer := templates.WinbackProps{Base: base(u), DiscountPercent: 20}
	if u.String("plan") == "paid" {
		offer.DiscountPercent = 30
	}
	if _, err := journey.Send(ctx, templates.Winback, offer); err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Days(15), "day-45"); err != nil {
		return err
	}
	if _, err := journey.Send(ctx, templates.FinalNudge, templates.ReturnProps{Base: base(u)}); err != nil {
		return err
	}
	return ctx.Trigger(journey.TriggerOptions{Event: "user.suppressed",
		Properties: map[string]any{"reason": "dormancy_sequence_completed"}})
})

// ChurnPrevention follows a failed payment until it succeeds or the grace period runs out.
var ChurnPrevention = journey.MustDefine(journey.Meta{
	ID: "churn-prevention", Name: "Churn — Failed Payment Recovery", Enabled: true,
	Trigger: journey.Trigger{Event: "payment.failed"}, EntryLimit: journey.EntryOncePerPeriod,
	EntryPeriod: journey.Days(7), ExitOn: journey.ExitOn("payment.succeeded", "subscription.cancelled", "user.deleted"),
	Suppress: journey.Hours(4),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := journey.Send(ctx, templates.PaymentFailed, templates.PaymentFailedProps{Base: base(u), GracePeriodDays: 3}); err != nil {
		return err
	}
	for _, step := range []struct {
		label         string
		after, within journey.Duration
		grace         int
	}{{"first-retry", journey.Days(1), journey.Days(1), 2}, {"final-notice", journey.Days(2), journey.Days(3), 1}} {
		if _, err := ctx.Sleep(step.after, step.label); err != nil {
			return err
		}
		if paid, err := ctx.Seen("payment.succeeded", step.within); err != nil || paid {
			return err
		}
		if _, err := journey.Send(ctx, templates.PaymentFailed, templates.PaymentFailedProps{Base: base(u), GracePeriodDays: step.grace}); err != nil {
			return err
		}
	}
	return nil
})

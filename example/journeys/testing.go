package journeys

import (
	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/example/buckets"
	"github.com/hogsend/hogsend/journey"
)

// Test journeys: fixtures for black-box tests, with waits of seconds. Each step leaves an event
// the test can look for.

// TestOnboarding branches on the trigger's plan and completes at once.
var TestOnboarding = journey.MustDefine(journey.Meta{
	ID: "test-onboarding", Name: "Test — Onboarding Flow", Enabled: true,
	Trigger: journey.Trigger{Event: "test.signup"}, EntryLimit: journey.EntryUnlimited, Suppress: journey.Hours(0),
}, func(ctx journey.Context, u journey.User) error {
	fire := func(event, step string) error {
		return ctx.Trigger(journey.TriggerOptions{Event: event, Properties: map[string]any{"step": step}})
	}
	if err := fire("journey.welcome_fired", "welcome"); err != nil {
		return err
	}
	var err error
	if u.String("plan") == "pro" {
		err = fire("journey.pro_path", "pro_branch")
	} else {
		err = fire("journey.free_path", "free_branch")
	}
	if err != nil {
		return err
	}
	return fire("journey.completed", "done")
})

// TestWaitForEvent waits four seconds for test.activated.
var TestWaitForEvent = journey.MustDefine(journey.Meta{
	ID: "test-wait-for-event", Name: "Test — Wait for Event", Enabled: true,
	Trigger:    journey.Trigger{Event: "test.wait_start", Where: []condition.Property{condition.Prop("eligible").Eq(true)}},
	EntryLimit: journey.EntryUnlimited, Suppress: journey.Seconds(0),
	ExitOn: []journey.ExitRule{{Event: "test.cancel", Where: []condition.Property{condition.Prop("scope").Eq("wait")}}},
}, func(ctx journey.Context, u journey.User) error {
	res, err := ctx.WaitForEvent("test.activated", journey.Seconds(4), "await-activation")
	if err != nil {
		return err
	}
	outcome := "test.wait_satisfied"
	if res.TimedOut {
		outcome = "test.wait_timed_out"
	}
	return ctx.Trigger(journey.TriggerOptions{Event: outcome})
})

// TestSleep sleeps three seconds between a checkpoint and a test.slept event.
var TestSleep = journey.MustDefine(journey.Meta{
	ID: "test-sleep", Name: "Test — Sleep", Enabled: true,
	Trigger: journey.Trigger{Event: "test.sleep_start"}, EntryLimit: journey.EntryOncePerPeriod,
	EntryPeriod: journey.Seconds(10), ExitOn: journey.ExitOn("test.cancel"), Suppress: journey.Seconds(0),
}, func(ctx journey.Context, u journey.User) error {
	if err := ctx.Checkpoint("before-sleep"); err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Seconds(3), "short-sleep"); err != nil {
		return err
	}
	return ctx.Trigger(journey.TriggerOptions{Event: "test.slept"})
})

// TestProWelcome starts when a contact joins the t-pro test bucket and waits five seconds
// before its event; leaving the bucket meanwhile exits it.
var TestProWelcome = journey.MustDefine(journey.Meta{
	ID: "test-pro-welcome", Name: "Test — Pro welcome", Enabled: true,
	Trigger: journey.Trigger{Event: buckets.TPro.Entered()}, EntryLimit: journey.EntryUnlimited,
	ExitOn: journey.ExitOn(buckets.TPro.Left()), Suppress: journey.Seconds(0),
}, func(ctx journey.Context, u journey.User) error {
	if _, err := ctx.Sleep(journey.Seconds(5), "pro-welcome-wait"); err != nil {
		return err
	}
	return ctx.Trigger(journey.TriggerOptions{Event: "test.pro_welcomed"})
})

// Package buckets holds the example app's buckets: its lifecycle segments, and the test
// buckets that black-box tests drive (windows of seconds, like the test journeys).
package buckets

import (
	"github.com/hogsend/hogsend/bucket"
	c "github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/journey"
)

// All is every bucket of the example app, in registration order.
func All() []*bucket.Bucket {
	return []*bucket.Bucket{WentDormant, PayingCustomer,
		TPro, TSignedUp, TOnce, TPeriod, TPower, TLapsed, TDormant, TTTL, TWindow, TDwell}
}

// Lifecycle segments.
var (
	// WentDormant holds contacts who used to finish sessions and have not in two weeks. Joining
	// starts the dormancy win-back journey (which exits when they leave); a month in, the
	// reaction marks them long-dormant for the app's own reporting.
	WentDormant = bucket.MustDefine(bucket.Meta{
		ID: "went-dormant", Name: "Went dormant", Enabled: true,
		Description: "Finished a session before, but none in the last 14 days",
		Criteria:    c.All(c.Event("session.completed").Exists(), c.Event("session.completed").Within(c.Days(14)).NotExists()),
		EntryLimit:  bucket.EntryOncePerPeriod, EntryPeriod: c.Days(60),
	}).OnEnter(bucket.EnterOptions{}, func(ctx journey.Context, _ journey.User, t bucket.Transition) error {
		return ctx.Trigger(journey.TriggerOptions{Event: "user.dormancy_detected", Properties: map[string]any{"entryCount": t.EntryCount}})
	}).OnDwell(bucket.DwellOptions{After: c.Days(30)}, func(ctx journey.Context, _ journey.User, _ bucket.Transition) error {
		return ctx.Trigger(journey.TriggerOptions{Event: "user.long_dormant"})
	})

	// PayingCustomer is every contact on a paid plan.
	PayingCustomer = bucket.MustDefine(bucket.Meta{
		ID: "paying-customer", Name: "Paying customer", Enabled: true,
		Criteria: c.Any(c.Prop("plan").Eq("pro"), c.Prop("plan").Eq("team"), c.Prop("plan").Eq("enterprise")),
	})
)

// Test buckets: fixtures of the black-box bucket tests.
var (
	TPro = bucket.MustDefine(bucket.Meta{ID: "t-pro", Name: "Test — Pro", Enabled: true,
		Criteria: c.All(c.Prop("plan").Eq("pro"), c.Prop("converted").Neq(true))})
	TSignedUp = bucket.MustDefine(bucket.Meta{ID: "t-signed-up", Name: "Test — Signed up", Enabled: true,
		Criteria: c.Event("signup").Exists()})
	TOnce = bucket.MustDefine(bucket.Meta{ID: "t-once", Name: "Test — Once", Enabled: true, EntryLimit: bucket.EntryOnce,
		Criteria: c.Prop("plan").Eq("pro")})
	TPeriod = bucket.MustDefine(bucket.Meta{ID: "t-period", Name: "Test — Once per period", Enabled: true,
		EntryLimit: bucket.EntryOncePerPeriod, EntryPeriod: c.Seconds(5), Criteria: c.Prop("plan").Eq("pro")})
	TPower = bucket.MustDefine(bucket.Meta{ID: "t-power", Name: "Test — Power user", Enabled: true,
		Criteria: c.Event("key.action").Within(c.Seconds(5)).AtLeast(3)})
	TLapsed = bucket.MustDefine(bucket.Meta{ID: "t-lapsed", Name: "Test — Lapsed", Enabled: true,
		Criteria: c.All(c.Event("beat").Exists(), c.Event("beat").Within(c.Seconds(3)).NotExists())})
	TDormant = bucket.MustDefine(bucket.Meta{ID: "t-dormant", Name: "Test — Dormant", Enabled: true,
		Criteria: c.All(c.Event("app.active").Exists(), c.Event("app.active").Within(c.Days(7)).NotExists())})
	TTTL = bucket.MustDefine(bucket.Meta{ID: "t-ttl", Name: "Test — Time-boxed", Enabled: true, EntryLimit: bucket.EntryOnce,
		MaxDwell: c.Seconds(2), Criteria: c.Prop("tier").Eq("vip")})
	TWindow = bucket.MustDefine(bucket.Meta{ID: "t-window", Name: "Test — Window", Enabled: true,
		Criteria: c.Event("ping").Within(c.Seconds(3)).Exists()})
	TDwell = bucket.MustDefine(bucket.Meta{ID: "t-dwell", Name: "Test — Dwell", Enabled: true,
		Criteria: c.Prop("plan").Eq("x")}).
		OnDwell(bucket.DwellOptions{After: c.Seconds(2)}, func(ctx journey.Context, _ journey.User, t bucket.Transition) error {
			return ctx.Trigger(journey.TriggerOptions{Event: "test.dwelled", Properties: map[string]any{"dwellCount": t.DwellCount}})
		})
)

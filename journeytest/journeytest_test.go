package journeytest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/journeytest"
)

var vipOnly = journey.MustDefine(journey.Meta{ID: "vip-only", Name: "VIP only", Enabled: true,
	Trigger: journey.Trigger{Event: "order.placed"}, EntryLimit: journey.EntryUnlimited},
	func(ctx journey.Context, u journey.User) error {
		vip, err := ctx.History().InBucket(u.ID, "vip")
		if err != nil || !vip {
			return err
		}
		return ctx.Trigger(journey.TriggerOptions{Event: "vip.thanked"})
	})

func TestInBucketAsksTheMembership(t *testing.T) {
	t.Parallel()
	member := journeytest.New(t, vipOnly)
	member.InBucket("vip")
	member.Run(journeytest.User{ID: "u1"})
	require.Equal(t, []string{"vip.thanked"}, member.Triggered())

	other := journeytest.New(t, vipOnly)
	other.Run(journeytest.User{ID: "u2"})
	require.Empty(t, other.Triggered())
}

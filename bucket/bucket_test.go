package bucket_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/bucket"

	c "github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/journey"
)

func TestDefineListsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := bucket.Define(bucket.Meta{ID: "bad id", MinDwell: c.Hours(2), MaxDwell: c.Hours(1), EntryLimit: "sometimes",
		Criteria: c.All(c.Prop("plan").Neq("pro"), c.Event("bucket:entered:x").NotExists(), c.EmailEngaged("welcome", c.NotOpened), c.Any())})
	require.ErrorIs(t, err, bucket.ErrInvalid)
	for _, want := range []string{"may not contain ':' or spaces", "name is required", `entryLimit "sometimes"`,
		"maxDwell must be ≥ minDwell", "buckets of buckets", "email_engagement", "empty composite", "at least one positive condition"} {
		require.Contains(t, err.Error(), want)
	}

	_, err = bucket.Define(bucket.Meta{ID: "m", Name: "M", Kind: bucket.Manual})
	require.ErrorContains(t, err, "manual buckets are not implemented")
	_, err = bucket.Define(bucket.Meta{ID: "n", Name: "N"})
	require.ErrorContains(t, err, "criteria are required")

	// A windowed not_exists is the dormancy anchor: positive.
	b, err := bucket.Define(bucket.Meta{ID: "dormant", Name: "Dormant", Enabled: true,
		Criteria: c.Event("app.active").Within(c.Days(7)).NotExists()})
	require.NoError(t, err)
	require.Equal(t, bucket.Dynamic, b.Kind)
	require.Equal(t, bucket.EntryUnlimited, b.EntryLimit)
	require.True(t, b.IsTimeBased())
	require.Equal(t, "bucket:entered:dormant", b.Entered())
	require.Equal(t, "bucket:left:dormant", b.Left())
	raw, err := json.Marshal(b.Criteria)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"event","eventName":"app.active","check":"not_exists","within":{"hours":168}}`, string(raw))
}

func TestReactionsAreJourneysOfTheBucket(t *testing.T) {
	t.Parallel()
	noop := func(journey.Context, journey.User, bucket.Transition) error { return nil }
	b := bucket.MustDefine(bucket.Meta{ID: "went-dormant", Name: "Went dormant", Enabled: true,
		Criteria: c.Event("app.active").Within(c.Days(30)).NotExists()}).
		OnEnter(bucket.EnterOptions{FirstEntryOnly: true}, noop).
		OnLeave(bucket.LeaveOptions{}, noop).
		OnDwell(bucket.DwellOptions{After: c.Days(30)}, noop).
		OnDwell(bucket.DwellOptions{Every: c.Hours(1)}, noop)
	var ids, names, triggers []string
	for _, r := range b.Reactions() {
		ids, names, triggers = append(ids, r.Journey.ID), append(names, r.Journey.Name), append(triggers, r.Journey.Trigger.Event)
		require.Equal(t, journey.EntryUnlimited, r.Journey.EntryLimit)
		require.True(t, r.Journey.Enabled)
	}
	require.Equal(t, []string{"bucket-went-dormant-on-enter", "bucket-went-dormant-on-leave",
		"bucket-went-dormant-on-dwell-after-2592000000", "bucket-went-dormant-on-dwell-every-3600000"}, ids)
	require.Equal(t, "Went dormant — on enter", names[0])
	require.Equal(t, []string{"bucket:entered:went-dormant", "bucket:left:went-dormant",
		"bucket:dwell:went-dormant:after-2592000000", "bucket:dwell:went-dormant:every-3600000"}, triggers)

	// Reaction definition errors surface when the registry is built, all together.
	broken := bucket.MustDefine(bucket.Meta{ID: "broken", Name: "Broken", Criteria: c.Prop("x").Exists()}).
		OnEnter(bucket.EnterOptions{}, nil).
		OnDwell(bucket.DwellOptions{After: c.Hours(1), Every: c.Hours(2)}, noop)
	_, err := bucket.NewRegistry([]*bucket.Bucket{b, broken, b}, nil)
	require.ErrorContains(t, err, "the entered reaction has no handler")
	require.ErrorContains(t, err, "exactly one of After and Every")
	require.ErrorContains(t, err, `duplicate bucket id "went-dormant"`)
}

func TestCandidatesComeFromTheIndexes(t *testing.T) {
	t.Parallel()
	pro := bucket.MustDefine(bucket.Meta{ID: "pro", Name: "Pro", Enabled: true, Criteria: c.All(c.Prop("plan").Eq("pro"), c.Prop("converted").Neq(true))})
	signed := bucket.MustDefine(bucket.Meta{ID: "signed", Name: "Signed", Enabled: true, Criteria: c.Event("signup").Exists()})
	off := bucket.MustDefine(bucket.Meta{ID: "off", Name: "Off", Criteria: c.Event("signup").Exists()})
	other := bucket.MustDefine(bucket.Meta{ID: "other", Name: "Other", Enabled: true, Criteria: c.Prop("tier").Eq("vip")})
	r, err := bucket.NewRegistry([]*bucket.Bucket{pro, signed, off, other}, func(id string) bool { return id != "other" })
	require.NoError(t, err)
	ids := func(bs []*bucket.Bucket) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.ID)
		}
		return out
	}
	require.Equal(t, []string{"pro", "signed", "off"}, ids(r.All()), "ENABLED_BUCKETS drops the rest")
	_, found := r.Get("other")
	require.False(t, found)
	require.Equal(t, []string{"signed"}, ids(r.Candidates("signup", nil, nil)), "disabled buckets are never candidates")
	require.Equal(t, []string{"signed", "pro"}, ids(r.Candidates("signup", map[string]any{"x": 1}, map[string]any{"plan": "pro"})))
	require.Equal(t, []string{"pro"}, ids(r.Candidates("page.viewed", map[string]any{"converted": true}, nil)), "a property key of the payload narrows too")
	require.Empty(t, r.Candidates("page.viewed", map[string]any{"path": "/"}, nil), "an event no bucket references costs nothing")
	require.Empty(t, r.Candidates("bucket:entered:pro", nil, map[string]any{"plan": "pro"}))
}

func TestCriteriaHashFollowsTheCriteriaOnly(t *testing.T) {
	t.Parallel()
	a := bucket.MustDefine(bucket.Meta{ID: "a", Name: "A", Criteria: c.Prop("plan").Eq("pro")})
	b := bucket.MustDefine(bucket.Meta{ID: "b", Name: "B", MaxDwell: c.Hours(1), Criteria: c.Prop("plan").Eq("pro")})
	d := bucket.MustDefine(bucket.Meta{ID: "d", Name: "D", Criteria: c.Prop("plan").Eq("team")})
	ha, err := a.CriteriaHash()
	require.NoError(t, err)
	hb, _ := b.CriteriaHash()
	hd, _ := d.CriteriaHash()
	require.Equal(t, ha, hb)
	require.NotEqual(t, ha, hd)
}

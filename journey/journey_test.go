package journey_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/journey"
)

func run(journey.Context, journey.User) error { return nil }

func valid() journey.Meta {
	return journey.Meta{ID: "welcome", Name: "Welcome", Enabled: true, EntryLimit: journey.EntryOnce,
		Trigger: journey.Trigger{Event: "user.signed_up", Where: []condition.Property{condition.Prop("plan").Eq("trial")}},
		ExitOn:  []journey.ExitRule{{Event: "user.deleted"}}, Suppress: journey.Days(7)}
}

func TestDefineValidates(t *testing.T) {
	t.Parallel()
	j, err := journey.Define(valid(), run)
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, j.Period())

	m := valid()
	m.ID, m.Name, m.Trigger.Event, m.EntryLimit = "", "", "", "twice"
	m.ExitOn = []journey.ExitRule{{Event: ""}}
	m.Trigger.Where = []condition.Property{{Name: "x", Op: "like", Value: "y", HasValue: true}}
	_, err = journey.Define(m, nil)
	require.Error(t, err)
	for _, want := range []string{"id is required", "name is required", "trigger.event is required", "entryLimit",
		"exitOn[0].event", `unknown operator "like"`, "run function"} {
		require.ErrorContains(t, err, want)
	}
	m = valid()
	m.ID = "a:b"
	_, err = journey.Define(m, run)
	require.ErrorContains(t, err, "may not contain")
	require.Panics(t, func() { journey.MustDefine(journey.Meta{}, run) })

	m = valid()
	m.EntryLimit, m.EntryPeriod = journey.EntryOncePerPeriod, journey.Hours(2)
	require.Equal(t, 2*time.Hour, journey.MustDefine(m, run).Period())
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	a := journey.MustDefine(valid(), run)
	bm := valid()
	bm.ID = "nudge"
	b := journey.MustDefine(bm, run)
	cm := valid()
	cm.ID, cm.Trigger.Event = "winback", "user.idle"
	c := journey.MustDefine(cm, run)

	r, err := journey.NewRegistry([]*journey.Journey{a, b, c}, func(id string) bool { return id != "nudge" })
	require.NoError(t, err)
	require.Equal(t, []*journey.Journey{a, b, c}, r.Defined(), "every journey stays defined for the worker")
	require.Equal(t, []*journey.Journey{a, c}, r.Enabled())
	require.Equal(t, []*journey.Journey{a}, r.Triggered("user.signed_up"))
	_, ok := r.Get("nudge")
	require.False(t, ok)

	_, err = journey.NewRegistry([]*journey.Journey{a, a}, nil)
	require.ErrorIs(t, err, journey.ErrDuplicateID)
}

func TestNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "journey-welcome", journey.WorkflowName("welcome"))
	require.Equal(t, "journey:welcome:5f0c", journey.WorkflowID("welcome", "5f0c", ""))
	keyed := journey.WorkflowID("cart", "5f0c", "ada@example.com")
	require.Regexp(t, `^journey:cart:5f0c:[0-9a-f]{16}$`, keyed, "the key is hashed: no property value in the id")
	require.NotEqual(t, keyed, journey.WorkflowID("cart", "5f0c", "bob@example.com"))
	u := journey.User{Properties: map[string]any{"firstName": "Ada", "n": 1.0}}
	require.Equal(t, "Ada", u.String("firstName"))
	require.Equal(t, "", u.String("n"))
}

package condition_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/condition"
)

func jsonOf(t *testing.T, c condition.Condition) string {
	t.Helper()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return string(b)
}

func TestBuilderShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		c    condition.Condition
		want string
	}{
		{condition.Prop("plan").Eq("trial"), `{"type":"property","property":"plan","operator":"eq","value":"trial"}`},
		{condition.Prop("beta").Eq(false), `{"type":"property","property":"beta","operator":"eq","value":false}`},
		{condition.Prop("n").Eq(0), `{"type":"property","property":"n","operator":"eq","value":0}`},
		{condition.Prop("seats").Gte(5), `{"type":"property","property":"seats","operator":"gte","value":5}`},
		{condition.Prop("email").Exists(), `{"type":"property","property":"email","operator":"exists"}`},
		{condition.Prop("email").NotExists(), `{"type":"property","property":"email","operator":"not_exists"}`},
		{condition.Event("app.active").Within(condition.Days(30)).NotExists(),
			`{"type":"event","eventName":"app.active","check":"not_exists","within":{"hours":720}}`},
		{condition.Event("key.action").Within(condition.Minutes(90)).AtLeast(10),
			`{"type":"event","eventName":"key.action","check":"count","operator":"gte","value":10,"within":{"minutes":90}}`},
		{condition.Event("x").Exists(), `{"type":"event","eventName":"x","check":"exists"}`},
		{condition.EmailEngaged("welcome", condition.NotOpened), `{"type":"email_engagement","templateKey":"welcome","check":"not_opened"}`},
		{condition.All(), `{"type":"composite","operator":"and","conditions":[]}`},
		{condition.Any(condition.Prop("a").Eq(1.5), condition.All(condition.Prop("b").Contains("<x>"))),
			`{"type":"composite","operator":"or","conditions":[{"type":"property","property":"a","operator":"eq","value":1.5},` +
				`{"type":"composite","operator":"and","conditions":[{"type":"property","property":"b","operator":"contains","value":"\u003cx\u003e"}]}]}`},
	}
	for _, c := range cases {
		require.JSONEq(t, c.want, jsonOf(t, c.c))
		back, err := condition.Parse([]byte(c.want))
		require.NoError(t, err, c.want)
		require.JSONEq(t, c.want, jsonOf(t, back), "round trip")
	}
	require.Panics(t, func() { condition.Prop("x").Gt("5") }, "gt takes numbers only")
	require.Panics(t, func() { condition.Prop("x").Eq([]int{1}) })
	require.Equal(t, 30*24*3_600_000.0, condition.Days(30).Milliseconds())
}

func TestPropertySemantics(t *testing.T) {
	t.Parallel()
	props := map[string]any{"plan": "pro", "seats": float64(5), "ints": 7, "num": json.Number("3"), "flag": true,
		"str5": "5", "nil": nil, "obj": map[string]any{"a": 1}, "title": "Head of Growth"}
	cases := []struct {
		c    condition.Property
		want bool
	}{
		{condition.Prop("plan").Eq("pro"), true},
		{condition.Prop("plan").Eq("free"), false},
		{condition.Prop("seats").Eq(5), true},
		{condition.Prop("seats").Eq(5.0), true},
		{condition.Prop("ints").Eq(7), true},
		{condition.Prop("num").Eq(3), true},
		{condition.Prop("flag").Eq(true), true},
		{condition.Prop("flag").Eq("true"), false},
		{condition.Prop("str5").Eq(5), false},
		{condition.Prop("missing").Eq("x"), false},
		{condition.Prop("missing").Neq("x"), true},
		{condition.Prop("nil").Neq("x"), true},
		{condition.Prop("obj").Eq("x"), false},
		{condition.Prop("seats").Gt(4), true},
		{condition.Prop("seats").Gte(5), true},
		{condition.Prop("seats").Lt(5), false},
		{condition.Prop("seats").Lte(5), true},
		{condition.Prop("str5").Gt(1), false},
		{condition.Prop("missing").Lt(1), false},
		{condition.Prop("plan").Exists(), true},
		{condition.Prop("nil").Exists(), false},
		{condition.Prop("nil").NotExists(), true},
		{condition.Prop("missing").NotExists(), true},
		{condition.Prop("title").Contains("Growth"), true},
		{condition.Prop("title").Contains("growth"), false},
		{condition.Prop("seats").Contains("5"), false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, c.c.Matches(props), "%s %s %v", c.c.Name, c.c.Op, c.c.Value)
	}
	require.True(t, condition.MatchAll(nil, props))
	require.False(t, condition.MatchAll([]condition.Property{condition.Prop("plan").Eq("pro"), condition.Prop("seats").Gt(10)}, props))
	require.False(t, condition.Property{Name: "plan", Op: "between"}.Matches(props), "an unknown operator never matches")
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		`{"type":"not","conditions":[]}`, `{"type":"property","property":"a","operator":"like","value":"x"}`,
		`{"type":"property","property":"a","operator":"eq","value":{"x":1}}`, `{"type":"event","eventName":"a","check":"sometimes"}`,
		`{"type":"event","eventName":"a","check":"count","operator":"between"}`, `{"type":"composite","operator":"xor","conditions":[]}`,
		`{"type":"composite","operator":"and","conditions":[{"type":"nope"}]}`, `{"type":"email_engagement","check":"bounced"}`, `[]`, `{`,
	} {
		_, err := condition.Parse([]byte(bad))
		require.Error(t, err, bad)
	}
	// Unknown keys are dropped.
	c, err := condition.Parse([]byte(`{"type":"property","property":"a","operator":"exists","extra":1}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"property","property":"a","operator":"exists"}`, jsonOf(t, c))
}

func TestHashIsCanonical(t *testing.T) {
	t.Parallel()
	c := condition.All(condition.Prop("plan").Eq("pro"), condition.Event("app.active").Within(condition.Days(30)).NotExists())
	got, err := condition.Hash(c)
	require.NoError(t, err)
	canonical := `{"conditions":[{"operator":"eq","property":"plan","type":"property","value":"pro"},` +
		`{"check":"not_exists","eventName":"app.active","type":"event","within":{"hours":720}}],"operator":"and","type":"composite"}`
	sum := sha256.Sum256([]byte(canonical))
	require.Equal(t, hex.EncodeToString(sum[:]), got)

	html, err := condition.Hash(condition.Prop("a").Contains("<b>&"))
	require.NoError(t, err)
	sum = sha256.Sum256([]byte(`{"operator":"contains","property":"a","type":"property","value":"<b>&"}`))
	require.Equal(t, hex.EncodeToString(sum[:]), html, "no HTML escaping")

	null, err := condition.Hash(nil)
	require.NoError(t, err)
	sum = sha256.Sum256([]byte(`null`))
	require.Equal(t, hex.EncodeToString(sum[:]), null)
}

// FuzzParse: any input parses or errors, never panics, and what parses re-parses to the same JSON.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"type":"property","property":"a","operator":"eq","value":1}`,
		`{"type":"composite","operator":"or","conditions":[{"type":"event","eventName":"e","check":"count","operator":"gte","value":2,"within":{"hours":1.5}}]}`,
		`{"type":"email_engagement","templateKey":"w","check":"opened"}`, `{}`, `null`,
		`{"type":"composite","operator":"and","conditions":[{"type":"event","eventName":"app.active","check":"exists"},` +
			`{"type":"event","eventName":"app.active","check":"not_exists","within":{"hours":168}}]}`,
		`{"type":"composite","operator":"and","conditions":[{"type":"property","property":"plan","operator":"neq","value":"pro"},` +
			`{"type":"composite","operator":"or","conditions":[]}]}`,
		`{"type":"event","eventName":"bucket:entered:x","check":"count","within":{"minutes":-5,"seconds":0.5}}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	facts := &memFacts{events: map[string][]time.Time{"app.active": {now.Add(-time.Hour)}, "e": {now}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := condition.Parse(data)
		if err != nil {
			return
		}
		// Whatever parses can be evaluated, walked and offered as bucket criteria without a
		// panic: bad criteria are an error listing the problems.
		if _, err := condition.Evaluate(context.Background(), c, map[string]any{"plan": "pro", "a": 1.0}, facts, now); err != nil {
			t.Fatalf("evaluate %s: %v", data, err)
		}
		_ = condition.FirstWindow(c)
		if _, err := bucket.Define(bucket.Meta{ID: "fuzz", Name: "Fuzz", Criteria: c}); err != nil && !errors.Is(err, bucket.ErrInvalid) {
			t.Fatalf("define: %v", err)
		}
		first, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal parsed condition: %v", err)
		}
		again, err := condition.Parse(first)
		if err != nil {
			t.Fatalf("re-parse %s: %v", first, err)
		}
		second, _ := json.Marshal(again)
		if string(first) != string(second) {
			t.Fatalf("unstable: %s vs %s", first, second)
		}
	})
}

// memFacts answers event counts from a list of event times by name.
type memFacts struct {
	events map[string][]time.Time
	sent   map[string][2]bool // templateKey → opened, clicked
	asked  []string
}

func (f *memFacts) EventCount(_ context.Context, name string, since *time.Time) (int, error) {
	f.asked = append(f.asked, name)
	n := 0
	for _, at := range f.events[name] {
		if since == nil || !at.Before(*since) {
			n++
		}
	}
	return n, nil
}

func (f *memFacts) LatestSend(_ context.Context, key string) (bool, bool, bool, error) {
	s, ok := f.sent[key]
	return ok, s[0], s[1], nil
}

func TestEvaluateEventsWindowsAndShortCircuit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	f := &memFacts{events: map[string][]time.Time{
		"app.active": {now.Add(-10 * 24 * time.Hour)},
		"key.action": {now.Add(-time.Minute), now.Add(-2 * time.Minute), now.Add(-3 * time.Hour)},
	}, sent: map[string][2]bool{"welcome": {true, false}}}
	ctx := context.Background()
	eval := func(c condition.Condition, props map[string]any) bool {
		t.Helper()
		ok, err := condition.Evaluate(ctx, c, props, f, now)
		require.NoError(t, err)
		return ok
	}
	dormant := condition.All(condition.Event("app.active").Exists(), condition.Event("app.active").Within(condition.Days(7)).NotExists())
	require.True(t, eval(dormant, nil), "active ever, not in the last 7 days")
	require.True(t, eval(condition.Event("key.action").Within(condition.Hours(1)).AtLeast(2), nil))
	require.False(t, eval(condition.Event("key.action").Within(condition.Hours(1)).AtLeast(3), nil), "the window's lower bound excludes the old one")
	require.True(t, eval(condition.Event("key.action").Exactly(3), nil))
	require.True(t, eval(condition.Event("key.action").Count(condition.CountGt, 0), nil))
	require.False(t, eval(condition.Event("never").Exists(), nil))
	require.True(t, eval(condition.EmailEngaged("welcome", condition.Opened), nil))
	require.True(t, eval(condition.EmailEngaged("welcome", condition.NotClicked), nil))
	require.False(t, eval(condition.EmailEngaged("other", condition.NotOpened), nil), "no send: false for every check")
	require.True(t, eval(condition.All(), nil))
	require.False(t, eval(condition.Any(), nil))

	// "and" stops at the first false: the event leg is never asked.
	f.asked = nil
	require.False(t, eval(condition.All(condition.Prop("plan").Eq("pro"), condition.Event("app.active").Exists()), map[string]any{"plan": "free"}))
	require.Empty(t, f.asked)
	require.True(t, eval(condition.Any(condition.Prop("plan").Eq("free"), condition.Event("x").Exists()), map[string]any{"plan": "free"}))
	require.Empty(t, f.asked)
}

func TestLeafShapes(t *testing.T) {
	t.Parallel()
	c := condition.All(condition.Prop("plan").Neq("pro"), condition.Any(condition.Event("a").Within(condition.Seconds(5)).NotExists(), condition.Event("b").NotExists()))
	leaves := condition.Leaves(c)
	require.Len(t, leaves, 3)
	require.True(t, condition.Negative(leaves[0]))
	require.False(t, condition.Negative(leaves[1]), "a windowed not_exists anchors on a past event")
	require.True(t, condition.Negative(leaves[2]))
	require.Equal(t, 5*time.Second, condition.FirstWindow(c).Duration())
	require.Nil(t, condition.FirstWindow(condition.Prop("x").Exists()))
}

package journey_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/journey"
)

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

func TestWallClockAcrossDST(t *testing.T) {
	t.Parallel()
	// Saturday 2026-03-07 12:00 in New York; the clocks spring forward at 02:00 on Sunday.
	w := journey.NewWhen(at(t, "America/New_York", "2026-03-07 12:00"), "America/New_York", nil)
	got, err := w.Tomorrow().At("02:30")
	require.NoError(t, err)
	require.Equal(t, "2026-03-08T03:30:00-04:00", got.Format(time.RFC3339), "a skipped time lands after the gap")

	// Saturday 2026-10-31; the clocks fall back at 02:00 on Sunday, so 01:30 happens twice.
	w = journey.NewWhen(at(t, "America/New_York", "2026-10-31 12:00"), "America/New_York", nil)
	got, err = w.Tomorrow().At("01:30")
	require.NoError(t, err)
	require.Equal(t, "2026-11-01T01:30:00-04:00", got.Format(time.RFC3339), "a repeated time is the earlier one")

	// "Next day" is calendar arithmetic, not +24h: across the change the gap is 23 or 25 hours.
	got, err = w.Tomorrow().At("12:00")
	require.NoError(t, err)
	require.Equal(t, 25*time.Hour, got.Sub(at(t, "America/New_York", "2026-10-31 12:00")))
}

func TestResolvers(t *testing.T) {
	t.Parallel()
	now := at(t, "Europe/Paris", "2026-11-25 10:00") // a Wednesday
	w := journey.NewWhen(now, "Europe/Paris", nil)

	next, err := w.Next("monday").At("09:00")
	require.NoError(t, err)
	require.Equal(t, "2026-11-30T09:00:00+01:00", next.Format(time.RFC3339))
	today, err := w.Next("Wed").At("11:00")
	require.NoError(t, err)
	require.Equal(t, "2026-11-25T11:00:00+01:00", today.Format(time.RFC3339), "today counts when still ahead")
	past, err := w.Next("wednesday").At("10:00")
	require.NoError(t, err)
	require.Equal(t, "2026-12-02T10:00:00+01:00", past.Format(time.RFC3339), "exactly now is past: a week later")
	nowMode, err := w.IfPast("now").Next("wednesday").At("08:00")
	require.NoError(t, err)
	require.True(t, nowMode.Equal(now))

	local, err := w.NextLocal("08:00")
	require.NoError(t, err)
	require.Equal(t, "2026-11-26T08:00:00+01:00", local.Format(time.RFC3339))
	in3, err := w.In(journey.Days(3)).At("14:00")
	require.NoError(t, err)
	require.Equal(t, "2026-11-28T14:00:00+01:00", in3.Format(time.RFC3339))
	pastIn, err := w.In(journey.Hours(0)).At("09:00")
	require.NoError(t, err)
	require.Equal(t, "2026-11-26T09:00:00+01:00", pastIn.Format(time.RFC3339), "roll 0 still moves a past time one day")

	tokyo, err := w.TZ("Asia/Tokyo").Tomorrow().At("08:00")
	require.NoError(t, err)
	require.Equal(t, "2026-11-26T08:00:00+09:00", tokyo.Format(time.RFC3339))
}

func TestSendWindow(t *testing.T) {
	t.Parallel()
	now := at(t, "UTC", "2026-11-25 10:00")
	w := journey.NewWhen(now, "UTC", &journey.SendWindow{Start: "09:00", End: "17:00"})
	cases := []struct {
		clock string
		want  string
	}{
		{"12:00", "2026-11-26T12:00:00Z"}, // open
		{"07:00", "2026-11-26T09:00:00Z"}, // before: same day at start
		{"17:00", "2026-11-27T09:00:00Z"}, // exactly end is closed: next day at start
		{"09:00", "2026-11-26T09:00:00Z"}, // exactly start is open
	}
	for _, c := range cases {
		got, err := w.Tomorrow().At(c.clock)
		require.NoError(t, err)
		require.Equal(t, c.want, got.Format(time.RFC3339), c.clock)
	}
	night := w.Window("22:00", "06:00")
	for clock, want := range map[string]string{"23:00": "2026-11-26T23:00:00Z", "05:00": "2026-11-26T05:00:00Z", "12:00": "2026-11-26T22:00:00Z"} {
		got, err := night.Tomorrow().At(clock)
		require.NoError(t, err)
		require.Equal(t, want, got.Format(time.RFC3339), clock)
	}
	always, err := w.Window("08:00", "08:00").Tomorrow().At("03:00")
	require.NoError(t, err)
	require.Equal(t, "2026-11-26T03:00:00Z", always.Format(time.RFC3339))
}

func TestWhenErrors(t *testing.T) {
	t.Parallel()
	w := journey.NewWhen(time.Now(), "UTC", nil)
	for _, bad := range []string{"24:00", "12:60", "8h", "", "1:5", "-1:00", "123:00"} {
		_, err := w.Tomorrow().At(bad)
		require.Error(t, err, bad)
	}
	_, err := w.Next("someday").At("09:00")
	require.ErrorContains(t, err, "weekday")
	_, err = w.TZ("Mars/Olympus").Tomorrow().At("09:00")
	require.ErrorContains(t, err, "time zone")
	_, err = w.TZ("Local").Tomorrow().At("09:00")
	require.Error(t, err)
	_, err = w.Window("9", "17:00").Tomorrow().At("09:00")
	require.Error(t, err)
	_, err = w.IfPast("later").Tomorrow().At("09:00")
	require.Error(t, err)
	ok, err := w.Tomorrow().At(" 7:05 ")
	require.NoError(t, err)
	require.Equal(t, 7, ok.Hour())
}

func TestFirstValidZoneSkipsEmptyAndInvalidZones(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Europe/Paris", journey.FirstValidZone("", "Mars/Olympus", "Europe/Paris", "Asia/Tokyo"))
	require.Equal(t, "UTC", journey.FirstValidZone("", "Local", "nope"))
}

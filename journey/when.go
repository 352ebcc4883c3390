package journey

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // every worker resolves zones the same way, whatever the host has installed
)

// SendWindow is a daily window ("09:00"–"17:00", or overnight "22:00"–"06:00") in the bound zone.
type SendWindow struct {
	Start, End string
}

// When computes future instants in a time zone ("next Monday 09:00 in the contact's zone,
// inside the send window"). It does no I/O and takes "now" from the workflow clock, so it is
// deterministic in workflow code. Builders return new values; an error (bad zone, weekday or
// time of day) is returned by the terminal call.
type When struct {
	now    time.Time
	loc    *time.Location
	window *SendWindow
	ifPast string
	err    error
	seal   func(time.Time) time.Time
}

// NewWhen binds a scheduler to now (workflow time), a zone ("" = UTC) and the default window
// (nil = no quiet hours).
func NewWhen(now time.Time, zone string, window *SendWindow) When {
	w := When{now: now, ifPast: "next", window: window}
	return w.TZ(zone)
}

// TZ returns a scheduler bound to another IANA zone.
func (w When) TZ(zone string) When {
	if zone == "" {
		zone = "UTC"
	}
	loc, err := LoadZone(zone)
	if err != nil {
		w.err = err
		return w
	}
	w.loc = loc
	return w
}

// LoadZone loads a valid IANA zone ("Local" and "" are refused: they differ between hosts).
func LoadZone(zone string) (*time.Location, error) {
	if zone == "" || zone == "Local" {
		return nil, fmt.Errorf("invalid time zone %q", zone)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("invalid time zone %q", zone)
	}
	return loc, nil
}

// WithSeal returns a scheduler that passes every computed instant through seal. The journey
// runner records instants with it, so a replay on newer time-zone data returns the same time.
func (w When) WithSeal(seal func(time.Time) time.Time) When {
	w.seal = seal
	return w
}

// FirstValidZone is the first candidate that is a valid IANA zone ("" and invalid ones are
// skipped), else "UTC": how a run's zone is chosen from the contact's data and the default.
func FirstValidZone(candidates ...string) string {
	for _, z := range candidates {
		if z == "" {
			continue
		}
		if _, err := LoadZone(z); err == nil {
			return z
		}
	}
	return "UTC"
}

// Window returns a scheduler with another send window.
func (w When) Window(start, end string) When {
	if _, err := parseClock(start); err != nil {
		w.err = err
	} else if _, err := parseClock(end); err != nil {
		w.err = err
	}
	w.window = &SendWindow{Start: start, End: end}
	return w
}

// IfPast says what to do when the computed time is not in the future: "next" (default) moves it
// to the next occurrence, "now" sends now.
func (w When) IfPast(mode string) When {
	if mode != "next" && mode != "now" {
		w.err = fmt.Errorf(`ifPast must be "next" or "now", got %q`, mode)
	}
	w.ifPast = mode
	return w
}

// Day is a chosen day waiting for its time of day.
type Day struct {
	w      When
	offset func(today time.Time) (days int, roll int)
}

// Next is the coming weekday ("mon".."sun" or "monday".."sunday"), today included.
func (w When) Next(weekday string) Day {
	wd, err := parseWeekday(weekday)
	if err != nil && w.err == nil {
		w.err = err
	}
	return Day{w: w, offset: func(today time.Time) (int, int) {
		return (int(wd) - int(today.Weekday()) + 7) % 7, 7
	}}
}

// Tomorrow is the next calendar day in the zone.
func (w When) Tomorrow() Day {
	return Day{w: w, offset: func(time.Time) (int, int) { return 1, 0 }}
}

// In is the calendar day (in the zone) of now + d.
func (w When) In(d Duration) Day {
	return Day{w: w, offset: func(today time.Time) (int, int) {
		target := w.now.Add(time.Duration(d.Milliseconds() * float64(time.Millisecond))).In(w.loc)
		return daysBetween(today, target), 0
	}}
}

// NextLocal is the next time the clock shows hhmm in the zone (today if still ahead).
func (w When) NextLocal(hhmm string) (time.Time, error) {
	return Day{w: w, offset: func(time.Time) (int, int) { return 0, 1 }}.At(hhmm)
}

// At fixes the time of day and returns the instant: moved past now per IfPast, then clamped into
// the send window.
func (d Day) At(hhmm string) (time.Time, error) {
	w := d.w
	if w.err != nil {
		return time.Time{}, w.err
	}
	clock, err := parseClock(hhmm)
	if err != nil {
		return time.Time{}, err
	}
	today := w.now.In(w.loc)
	days, roll := d.offset(today)
	t := wallClock(today, days, clock, w.loc)
	if !t.After(w.now) {
		if w.ifPast == "now" {
			t = w.now
		} else {
			t = wallClock(today, days+max(roll, 1), clock, w.loc)
		}
	}
	t, err = w.clamp(t)
	if err == nil && w.seal != nil {
		t = w.seal(t)
	}
	return t, err
}

// clamp moves t into the send window, if there is one.
func (w When) clamp(t time.Time) (time.Time, error) {
	if w.window == nil {
		return t, nil
	}
	start, err := parseClock(w.window.Start)
	if err != nil {
		return time.Time{}, err
	}
	end, err := parseClock(w.window.End)
	if err != nil {
		return time.Time{}, err
	}
	if start == end {
		return t, nil
	}
	local := t.In(w.loc)
	at := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	switch {
	case start < end && at < start:
		return wallClock(local, 0, start, w.loc), nil
	case start < end && at >= end:
		return wallClock(local, 1, start, w.loc), nil
	case start > end && at >= end && at < start:
		return wallClock(local, 0, start, w.loc), nil
	}
	return t, nil
}

// wallClock is the instant the zone's clock shows clock on the day `days` after day's date.
// A time skipped by a spring-forward gap uses the offset in force before the gap (so it lands
// after the gap); a time that occurs twice in a fall-back overlap is the earlier one.
func wallClock(day time.Time, days int, clock time.Duration, loc *time.Location) time.Time {
	y, m, d := day.Date()
	wall := time.Date(y, m, d+days, 0, 0, 0, 0, time.UTC).Add(clock) // the wall time, read as UTC
	_, before := wall.Add(-12 * time.Hour).In(loc).Zone()
	_, after := wall.Add(12 * time.Hour).In(loc).Zone()
	var valid []time.Time
	for _, off := range []int{before, after} {
		t := wall.Add(-time.Duration(off) * time.Second)
		if _, o := t.In(loc).Zone(); o == off {
			valid = append(valid, t)
		}
	}
	switch len(valid) {
	case 0: // in a gap
		return wall.Add(-time.Duration(before) * time.Second).In(loc)
	case 2:
		if valid[1].Before(valid[0]) {
			return valid[1].In(loc)
		}
	}
	return valid[0].In(loc)
}

// daysBetween counts calendar days from a's date to b's date.
func daysBetween(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	da := time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)
	db := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

// parseClock reads "H:mm" or "HH:mm" (hour 0–23, minute 0–59).
func parseClock(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	hour, herr := strconv.Atoi(h)
	minute, merr := strconv.Atoi(m)
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || herr != nil || merr != nil ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || strings.ContainsAny(h+m, "+-") {
		return 0, fmt.Errorf("invalid time of day %q: want HH:mm from 00:00 to 23:59", s)
	}
	return time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute, nil
}

var errWeekday = errors.New("invalid weekday")

// parseWeekday reads mon..sun or monday..sunday, any case.
func parseWeekday(s string) (time.Weekday, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if s == name || s == name[:3] {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%w %q: want mon..sun or monday..sunday", errWeekday, s)
}

// Package window is the grammar of maintenance windows: when a branch's
// hosts may be changed without an operator pressing a key.
//
// Two forms, each ending in a time zone from the Go tz database:
//
//	Sat 02:00-04:00 UTC                 weekdays and a time range
//	Mon-Fri 22:30-01:00 Europe/Berlin   a range past midnight ends the next day
//	Sat,Sun 03:00-05:00 America/New_York
//	* 04:00-04:30 UTC                   every day
//	cron 0 2 * * 6 2h UTC               cron fields (minute hour day-of-month month weekday) and a length
//
// Times are wall-clock times in the zone, so a window follows daylight
// saving as the people who set it expect. A parse error names the column
// (1-based, in characters) of what was wrong. A window that never opens is
// refused, and so are windows of one branch that overlap (Check).
package window

import (
	"fmt"
	"strings"
	"time"
)

// MaxLen bounds a window string: it is operator input stored with the
// branch and shown in every view.
const MaxLen = 200

// Window is one parsed window.
type Window struct {
	Source string         // as given, spaces normalised
	Loc    *time.Location // its zone
	Length time.Duration  // how long each opening lasts (1 minute … 7 days)
	// Starts: a weekday window has days and one start time; a cron window
	// has its field sets.
	days       [7]bool // by time.Weekday
	hour, min  int
	cron       *cronSpec
	isCron     bool
	firstStart time.Time // a start found when parsing (proof it opens)
}

// Opening is one occurrence of a window: [Start, End).
type Opening struct {
	Window string    `json:"window"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// Open reports whether t is inside the opening.
func (o Opening) Open(t time.Time) bool { return !t.Before(o.Start) && t.Before(o.End) }

// Error is a parse error: the column of the offending text and what to do.
type Error struct {
	Input  string
	Column int // 1-based, in characters; 0 when about the whole window
	Msg    string
}

func (e *Error) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("window %q: column %d: %s", e.Input, e.Column, e.Msg)
	}
	return fmt.Sprintf("window %q: %s", e.Input, e.Msg)
}

// token is a word of the input and the column it starts at.
type token struct {
	text string
	col  int
}

func tokens(s string) []token {
	var out []token
	col, start := 0, -1
	var b strings.Builder
	for _, r := range s {
		col++
		if r == ' ' || r == '\t' {
			if start >= 0 {
				out = append(out, token{b.String(), start})
				b.Reset()
				start = -1
			}
			continue
		}
		if start < 0 {
			start = col
		}
		b.WriteRune(r)
	}
	if start >= 0 {
		out = append(out, token{b.String(), start})
	}
	return out
}

// Parse reads one window.
func Parse(s string) (*Window, error) {
	if len(s) > MaxLen {
		return nil, &Error{Input: s[:40] + "…", Msg: fmt.Sprintf("longer than %d bytes", MaxLen)}
	}
	for i, r := range []rune(s) {
		if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return nil, &Error{Input: s, Column: i + 1, Msg: "control character; a window is one line of text such as 'Sat 02:00-04:00 UTC'"}
		}
	}
	toks := tokens(s)
	if len(toks) == 0 {
		return nil, &Error{Input: s, Msg: "empty; give days, a time range and a zone, e.g. 'Sat 02:00-04:00 UTC'"}
	}
	w := &Window{}
	var err error
	if strings.EqualFold(toks[0].text, "cron") {
		err = w.parseCron(s, toks)
	} else {
		err = w.parseWeekly(s, toks)
	}
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = t.text
	}
	w.Source = strings.Join(parts, " ")
	// A window must open: look for a start within the next few years
	// (a cron of 31 February never does).
	ref := time.Date(2024, 1, 1, 0, 0, 0, 0, w.Loc)
	st, ok := w.nextStart(ref)
	if !ok {
		return nil, &Error{Input: s, Msg: "never opens: no date matches its fields; check day of month against month"}
	}
	w.firstStart = st
	return w, nil
}

// parseWeekly reads "DAYS HH:MM-HH:MM ZONE".
func (w *Window) parseWeekly(s string, toks []token) error {
	if len(toks) < 3 {
		col := len([]rune(s)) + 1
		what := "a time range such as 02:00-04:00"
		if len(toks) == 2 {
			what = "a time zone such as UTC or Europe/Berlin"
		}
		return &Error{Input: s, Column: col, Msg: "missing " + what + "; e.g. 'Sat 02:00-04:00 UTC'"}
	}
	if len(toks) > 3 {
		return &Error{Input: s, Column: toks[3].col, Msg: fmt.Sprintf("unexpected %q after the zone; a window is DAYS HH:MM-HH:MM ZONE", toks[3].text)}
	}
	if err := w.parseDays(s, toks[0]); err != nil {
		return err
	}
	from, to, ok := strings.Cut(toks[1].text, "-")
	if !ok {
		return &Error{Input: s, Column: toks[1].col, Msg: fmt.Sprintf("%q is not a time range; write HH:MM-HH:MM (24-hour), e.g. 02:00-04:00", toks[1].text)}
	}
	h1, m1, err := clock(from)
	if err == nil && h1 == 24 {
		err = fmt.Errorf("24:00 only ends a window; start it at 00:00")
	}
	if err != nil {
		return &Error{Input: s, Column: toks[1].col, Msg: err.Error()}
	}
	h2, m2, err := clock(to)
	if err != nil {
		return &Error{Input: s, Column: toks[1].col + len([]rune(from)) + 1, Msg: err.Error()}
	}
	w.hour, w.min = h1, m1
	start, end := h1*60+m1, h2*60+m2
	if end == start {
		return &Error{Input: s, Column: toks[1].col, Msg: "starts and ends at the same time, so it never opens; give its end (a range past midnight such as 23:00-01:00 ends the next day)"}
	}
	if end < start {
		end += 24 * 60
	}
	w.Length = time.Duration(end-start) * time.Minute
	return w.parseZone(s, toks[2])
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func day(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	if len(s) > 3 {
		for name, d := range dayNames { // full names: saturday
			if strings.HasPrefix(s, name) && strings.HasPrefix(strings.ToLower(d.String()), s) {
				return d, true
			}
		}
		return 0, false
	}
	d, ok := dayNames[s]
	return d, ok
}

// parseDays reads "*", "Sat", "Sat,Sun", "Mon-Fri", "Mon-Wed,Sat".
func (w *Window) parseDays(s string, t token) error {
	if t.text == "*" || strings.EqualFold(t.text, "daily") {
		for i := range w.days {
			w.days[i] = true
		}
		return nil
	}
	col := t.col
	for _, part := range strings.Split(t.text, ",") {
		a, b, isRange := strings.Cut(part, "-")
		da, ok := day(a)
		if !ok {
			return &Error{Input: s, Column: col, Msg: fmt.Sprintf("%q is not a weekday; use Mon Tue Wed Thu Fri Sat Sun, a list (Sat,Sun), a range (Mon-Fri) or *", a)}
		}
		db := da
		if isRange {
			if db, ok = day(b); !ok {
				return &Error{Input: s, Column: col + len([]rune(a)) + 1, Msg: fmt.Sprintf("%q is not a weekday; use Mon Tue Wed Thu Fri Sat Sun", b)}
			}
		}
		for d := da; ; d = (d + 1) % 7 { // Fri-Mon wraps over the weekend
			w.days[d] = true
			if d == db {
				break
			}
		}
		col += len([]rune(part)) + 1
	}
	return nil
}

func clock(s string) (h, m int, err error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 || !digits(hs) || !digits(ms) {
		return 0, 0, fmt.Errorf("%q is not a time; write HH:MM (24-hour), e.g. 02:00", s)
	}
	h, m = atoi(hs), atoi(ms)
	if h == 24 && m == 0 {
		return 24, 0, nil // 22:00-24:00 ends at midnight
	}
	if h > 23 || m > 59 {
		return 0, 0, fmt.Errorf("%q is not a time of day; hours go 00-23 and minutes 00-59", s)
	}
	return h, m, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
		if n > 1<<20 {
			return n
		}
	}
	return n
}

func (w *Window) parseZone(s string, t token) error {
	if strings.EqualFold(t.text, "utc") || t.text == "Z" {
		w.Loc = time.UTC
		return nil
	}
	if strings.EqualFold(t.text, "local") {
		return &Error{Input: s, Column: t.col, Msg: "\"Local\" depends on the machine reading it; name the zone, e.g. UTC or Europe/Berlin"}
	}
	// LoadLocation also reads files: only tz database names, never paths.
	if strings.Contains(t.text, "..") || strings.HasPrefix(t.text, "/") || strings.ContainsAny(t.text, `\`) {
		return &Error{Input: s, Column: t.col, Msg: fmt.Sprintf("%q is not a time zone name; use one from the tz database, e.g. UTC or Europe/Berlin", t.text)}
	}
	loc, err := time.LoadLocation(t.text)
	if err != nil {
		return &Error{Input: s, Column: t.col, Msg: fmt.Sprintf("unknown time zone %q; use a name from the tz database, e.g. UTC or Europe/Berlin", t.text)}
	}
	w.Loc = loc
	return nil
}

// String is the window as given.
func (w *Window) String() string { return w.Source }

// nextStart is the first start at or after t, searching ahead up to
// about five years (a cron of 29 February opens only in leap years).
func (w *Window) nextStart(t time.Time) (time.Time, bool) {
	t = t.In(w.Loc)
	y, m, d := t.Date()
	for i := -1; i < 366*5; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, w.Loc)
		if w.isCron {
			if st, ok := w.cron.firstOn(day, t); ok {
				return st, true
			}
			continue
		}
		if !w.days[day.Weekday()] {
			continue
		}
		st := time.Date(day.Year(), day.Month(), day.Day(), w.hour, w.min, 0, 0, w.Loc)
		if !st.Before(t) {
			return st, true
		}
		if i > 8 {
			break // a weekly window repeats within a week
		}
	}
	return time.Time{}, false
}

// Current is the opening t is inside, if any.
func (w *Window) Current(t time.Time) (Opening, bool) {
	st, ok := w.nextStart(t.Add(-w.Length).Add(time.Nanosecond))
	if !ok || st.After(t) {
		return Opening{}, false
	}
	return Opening{Window: w.Source, Start: st, End: st.Add(w.Length)}, true
}

// Next is the opening t is inside, else the next one to start.
func (w *Window) Next(t time.Time) (Opening, bool) {
	if o, ok := w.Current(t); ok {
		return o, true
	}
	st, ok := w.nextStart(t)
	if !ok {
		return Opening{}, false
	}
	return Opening{Window: w.Source, Start: st, End: st.Add(w.Length)}, true
}

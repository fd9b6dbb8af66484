package window

import (
	"fmt"
	"strings"
	"time"
)

// cronSpec is the five fields of a cron line as sets.
type cronSpec struct {
	minute, hour [60]bool
	dom          [32]bool
	month        [13]bool
	dow          [7]bool
	// Cron's rule: when both day fields are restricted, a day matches
	// either; when one is *, only the other counts.
	domAny, dowAny bool
}

var cronFields = []struct {
	name     string
	min, max int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"weekday", 0, 7}}

// parseCron reads "cron MIN HOUR DOM MON DOW LENGTH ZONE".
func (w *Window) parseCron(s string, toks []token) error {
	if len(toks) < 8 {
		return &Error{Input: s, Column: len([]rune(s)) + 1,
			Msg: "a cron window is: cron MINUTE HOUR DAY-OF-MONTH MONTH WEEKDAY LENGTH ZONE, e.g. 'cron 0 2 * * 6 2h UTC'"}
	}
	if len(toks) > 8 {
		return &Error{Input: s, Column: toks[8].col, Msg: fmt.Sprintf("unexpected %q after the zone", toks[8].text)}
	}
	c := &cronSpec{}
	sets := [][]bool{c.minute[:], c.hour[:], c.dom[:], c.month[:], make([]bool, 8)}
	for i, f := range cronFields {
		if err := cronField(toks[1+i].text, f.min, f.max, sets[i]); err != nil {
			return &Error{Input: s, Column: toks[1+i].col, Msg: fmt.Sprintf("%s field: %v", f.name, err)}
		}
	}
	for d := 0; d < 7; d++ {
		c.dow[d] = sets[4][d] || (d == 0 && sets[4][7]) // 7 is Sunday too
	}
	c.domAny, c.dowAny = toks[3].text == "*", toks[5].text == "*"
	length, err := time.ParseDuration(toks[6].text)
	if err != nil || length < time.Minute || length > 7*24*time.Hour || length%time.Minute != 0 {
		return &Error{Input: s, Column: toks[6].col, Msg: fmt.Sprintf("%q is not a length from 1m to 168h in whole minutes, e.g. 2h or 90m", toks[6].text)}
	}
	w.Length, w.cron, w.isCron = length, c, true
	return w.parseZone(s, toks[7])
}

// cronField fills set from "*", "5", "1-5", "*/15", "0-30/10", "1,3,5".
func cronField(f string, lo, hi int, set []bool) error {
	for _, part := range strings.Split(f, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			if !digits(stepS) || atoi(stepS) < 1 || atoi(stepS) > hi {
				return fmt.Errorf("step %q must be a number from 1 to %d", stepS, hi)
			}
			step = atoi(stepS)
		}
		a, b := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			as, bs, _ := strings.Cut(rng, "-")
			if !digits(as) || !digits(bs) {
				return fmt.Errorf("%q is not a range of numbers such as 1-5", rng)
			}
			a, b = atoi(as), atoi(bs)
		case digits(rng):
			a = atoi(rng)
			b = a
			if hasStep {
				b = hi
			}
		default:
			return fmt.Errorf("%q is not a number, range, list or *", rng)
		}
		if a < lo || b > hi || a > b {
			return fmt.Errorf("%q is outside %d-%d", rng, lo, hi)
		}
		for v := a; v <= b; v += step {
			set[v] = true
		}
	}
	return nil
}

func (c *cronSpec) dayMatches(d time.Time) bool {
	if !c.month[d.Month()] {
		return false
	}
	dom, dow := c.dom[d.Day()], c.dow[d.Weekday()]
	switch {
	case c.domAny && c.dowAny:
		return true
	case c.domAny:
		return dow
	case c.dowAny:
		return dom
	}
	return dom || dow
}

// firstOn is the first start on day (midnight in the window's zone) at or
// after t.
func (c *cronSpec) firstOn(day, t time.Time) (time.Time, bool) {
	if !c.dayMatches(day) {
		return time.Time{}, false
	}
	for h := 0; h < 24; h++ {
		if !c.hour[h] {
			continue
		}
		for m := 0; m < 60; m++ {
			if !c.minute[m] {
				continue
			}
			st := time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, day.Location())
			if st.Day() != day.Day() { // a DST gap pushed it to another day
				continue
			}
			if !st.Before(t) {
				return st, true
			}
		}
	}
	return time.Time{}, false
}

package window

import (
	"fmt"
	"sync"
	"time"
)

// MaxWindows bounds how many windows one branch has.
const MaxWindows = 16

// overlapHorizon and overlapOpenings bound the overlap check: a year of
// openings covers every weekday and daylight-saving combination; a cron
// window that opens more often than that is checked on its first
// overlapOpenings openings.
const (
	overlapHorizon  = 366 * 24 * time.Hour
	overlapOpenings = 2000
)

// ParseAll parses a branch's windows and checks them together (Check).
func ParseAll(srcs []string, now time.Time) ([]*Window, error) {
	if len(srcs) > MaxWindows {
		return nil, fmt.Errorf("%d windows; a branch has at most %d", len(srcs), MaxWindows)
	}
	ws := make([]*Window, 0, len(srcs))
	for _, s := range srcs {
		w, err := Parse(s)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, Check(ws, now)
}

// Check refuses windows whose openings overlap — another window's or
// their own (a cron window opening every 30 minutes for an hour) — within
// the year after now: an overlap is almost always a typo, and it makes
// "the window that opened" ambiguous in every report.
func Check(ws []*Window, now time.Time) error {
	end := now.Add(overlapHorizon)
	for i, a := range ws {
		t := now
		for n := 0; n < overlapOpenings; n++ {
			st, ok := a.nextStart(t)
			if !ok || st.After(end) {
				break
			}
			if next, ok := a.nextStart(st.Add(time.Minute)); ok && next.Before(st.Add(a.Length)) {
				return fmt.Errorf("window %q overlaps itself: it opens again at %s, before its opening of %s ends; shorten it",
					a.Source, next.Format("Mon 2006-01-02 15:04 MST"), st.Format("Mon 2006-01-02 15:04 MST"))
			}
			for j, b := range ws {
				if j == i {
					continue
				}
				if o, ok := b.Current(st); ok {
					return fmt.Errorf("windows %q and %q overlap: %q opens at %s, inside %q (%s to %s); merge them into one or move one",
						a.Source, b.Source, a.Source, st.Format("Mon 2006-01-02 15:04 MST"), b.Source,
						o.Start.Format("Mon 15:04"), o.End.In(o.Start.Location()).Format("Mon 15:04 MST"))
				}
			}
			t = st.Add(time.Minute)
		}
	}
	return nil
}

// Current is the opening of any of ws that t is inside.
func Current(ws []*Window, t time.Time) (Opening, bool) {
	for _, w := range ws {
		if o, ok := w.Current(t); ok {
			return o, true
		}
	}
	return Opening{}, false
}

// Next is the opening of ws that t is inside, else the earliest to start.
func Next(ws []*Window, t time.Time) (Opening, bool) {
	if o, ok := Current(ws, t); ok {
		return o, true
	}
	var best Opening
	found := false
	for _, w := range ws {
		if o, ok := w.Next(t); ok && (!found || o.Start.Before(best.Start)) {
			best, found = o, true
		}
	}
	return best, found
}

// cache keeps parsed windows by source: a branch's windows are read at
// every hosts view and scrape, and loading a zone reads the tz database.
var cache struct {
	sync.Mutex
	m map[string]*Window
}

// ParseCached is Parse, remembering up to 1024 windows parsed without error.
func ParseCached(s string) (*Window, error) {
	cache.Lock()
	w, ok := cache.m[s]
	cache.Unlock()
	if ok {
		return w, nil
	}
	w, err := Parse(s)
	if err != nil {
		return nil, err
	}
	cache.Lock()
	if cache.m == nil || len(cache.m) >= 1024 {
		cache.m = map[string]*Window{}
	}
	cache.m[s] = w
	cache.Unlock()
	return w, nil
}

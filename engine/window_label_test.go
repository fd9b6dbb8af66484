package engine

import (
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/window"
)

// TestWindowLabel: one wording of a window for both faces, in the
// window's own zone.
func TestWindowLabel(t *testing.T) {
	utc := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC) // a Saturday
	w := &WindowView{Opening: window.Opening{Start: utc, End: utc.Add(2 * time.Hour)}}
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{utc.Add(-(2*24*time.Hour + 3*time.Hour)), "Sat 02:00 UTC (in 2d 3h)"},
		{utc.Add(-(90 * time.Minute)), "Sat 02:00 UTC (in 1h 30m)"},
		{utc.Add(-(5 * time.Minute)), "Sat 02:00 UTC (in 5m)"},
	} {
		if got := w.Label(c.now); got != c.want {
			t.Errorf("%v before: %q, want %q", utc.Sub(c.now), got, c.want)
		}
	}
	w.Open = true
	if got := w.Label(utc); got != "open until Sat 04:00 UTC" {
		t.Errorf("open: %q", got)
	}
}

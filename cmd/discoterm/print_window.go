package main

import (
	"fmt"
	"time"

	"github.com/discoterm/discoterm/engine"
)

// windowText is a branch's next maintenance window for the hosts table
// and log: "open until Sat 04:00 UTC", "Sat 02:00 UTC (in 2d 3h)", or "-"
// for a branch without windows. Times are shown in the window's own zone,
// as the operator wrote it.
func windowText(w *engine.WindowView, errText string, now time.Time) string {
	switch {
	case errText != "":
		return "never (" + errText + ")"
	case w == nil:
		return "-"
	case w.Open:
		return "open until " + w.End.Format("Mon 15:04 MST")
	}
	return fmt.Sprintf("%s (in %s)", w.Start.Format("Mon 15:04 MST"), until(w.Start.Sub(now)))
}

func until(d time.Duration) string {
	d = d.Round(time.Minute)
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

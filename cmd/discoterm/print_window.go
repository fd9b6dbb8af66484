package main

import (
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
	}
	return w.Label(now)
}

package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/ui/uitest"
)

// PrepareCall is the engine call both faces make for `push ID --prepare`
// (cmd/discoterm's TestPrepareBatchFace checks the batch side).
const prepareCall = "PreparePush(%s, reboot=false)"

// approvedOnScreen locks, stages, plans and approves on the console, with
// a window on main, and returns the plan's id.
func approvedOnScreen(t *testing.T, d *driver) string {
	t.Helper()
	if err := d.f.SetWindows("main", []string{"Sat 02:00-04:00 UTC"}); err != nil {
		t.Fatal(err)
	}
	d.key(":")
	d.typeText("lock main window change")
	d.key("enter")
	d.key(":")
	d.typeText("reboot")
	d.key("enter")
	d.key("p")
	d.keys("a", "y")
	if d.m.review.plan == nil || !d.m.review.plan.Approved {
		t.Fatalf("no approved plan on screen: %s", d.screen())
	}
	return d.m.review.plan.ID
}

func wantCall(t *testing.T, d *driver, want string) {
	t.Helper()
	if !slices.Contains(d.f.Calls(), want) {
		t.Fatalf("calls %q, want %s", d.f.Calls(), want)
	}
	if slices.ContainsFunc(d.f.Calls(), func(c string) bool { return strings.HasPrefix(c, "Push(") }) {
		t.Fatalf("prepare for window also pushed live: %q", d.f.Calls())
	}
}

// TestPrepareForWindow: P on the plan review, then w, opens "prepare for
// window" naming main's next window; y makes the call --batch push ID
// --prepare makes; the hosts pane shows each host's window and prepared
// state. Goldens at 80×24.
func TestPrepareForWindow(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 40, Entries: 30}, 80, 24)
	id := approvedOnScreen(t, d)
	d.key("P")
	d.wantScreen("w prepare for window")
	d.key("w")
	d.wantScreen("Prepare plan "+id+" for its window?", "Sat 02:00 UTC (in 6d 16h): Sat 02:00-04:00 UTC.")
	t.Run("dialog", func(t *testing.T) { golden.RequireEqual(t, render(t, d.m.View().Content, colorprofile.ANSI256)) })
	d.key("y")
	wantCall(t, d, strings.Replace(prepareCall, "%s", id, 1))

	// What collects leave on other hosts, as the hosts pane shows it.
	for _, c := range []struct {
		host, result, err string
		ps                store.Prepared
	}{
		{"build02", "done", "", store.Prepared{State: "applied", At: time.Date(2026, 3, 14, 2, 0, 3, 0, time.UTC)}},
		{"build03", "stale", "at its window: a file the plan read changed since; nothing applied", store.Prepared{State: "stale", At: time.Date(2026, 3, 14, 2, 0, 1, 0, time.UTC)}},
		{"db01", "failed", "failed (exit 1) at seq 7 (exec)", store.Prepared{State: "failed", Seq: 7, At: time.Date(2026, 3, 14, 2, 0, 4, 0, time.UTC)}},
		{"db02", "failed", "prepare lost (the waiter is gone)", store.Prepared{State: "lost"}},
	} {
		c.ps.Plan = id
		d.f.SetPrepared(c.host, &c.ps, c.result, c.err)
	}
	d.run(d.m.refreshHosts())
	d.settle()
	d.key("1")
	// At 80 columns beside the DRIFT column the texts are cut; the golden
	// shows what an operator sees there. At 160 they are whole.
	t.Run("hosts", func(t *testing.T) { golden.RequireEqual(t, render(t, d.m.View().Content, colorprofile.ANSI256)) })
	d.send(tea.WindowSizeMsg{Width: 160, Height: 24})
	d.wantScreen("prepared Sat 02:00", "applied 02:00:03 ok", "stale: at its", "failed at seq 7", "lost: re-prepare")
	// The next window has its own column there.
	d.wantScreen("WINDOW", "Sat 02:00 prepared Sat 02:00")
}

// TestPrepareFromCommandLine: `:push ID --prepare` asks the same "prepare
// for window" question (it used to push live) and makes the same call.
func TestPrepareFromCommandLine(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	id := approvedOnScreen(t, d)
	d.key(":")
	d.typeText("push " + id + " --prepare")
	d.key("enter")
	d.wantScreen("Prepare plan " + id + " for its window?")
	d.key("y")
	wantCall(t, d, strings.Replace(prepareCall, "%s", id, 1))
}

// TestPrepareWithoutWindow: a branch without windows cannot be prepared:
// w says how to set one, and nothing reaches the engine.
func TestPrepareWithoutWindow(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	approvedOnScreen(t, d)
	if err := d.f.SetWindows("main", nil); err != nil {
		t.Fatal(err)
	}
	d.run(d.m.refreshJournal())
	d.settle()
	d.keys("P", "w")
	if d.m.dialog != nil || !strings.Contains(d.flashText(), "main has no maintenance window — :policy main --window") {
		t.Fatalf("dialog %T, flash %q", d.m.dialog, d.flashText())
	}
	if slices.ContainsFunc(d.f.Calls(), func(c string) bool { return strings.HasPrefix(c, "PreparePush(") || strings.HasPrefix(c, "Push(") }) {
		t.Fatalf("calls %q", d.f.Calls())
	}
}

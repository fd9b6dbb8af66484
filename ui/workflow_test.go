package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/ui/uitest"
)

// The whole change workflow from the keyboard: lock, stage a file, plan,
// approve, push — checking what the engine was asked at each step.
func TestWorkflowLockStagePlanApprovePush(t *testing.T) {
	d := newDriver(t, uitestOptions(12), 120, 40)
	local := filepath.Join(t.TempDir(), "motd")
	if err := os.WriteFile(local, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// s is refused until the branch is locked, and says why.
	d.key("s")
	if d.m.dialog != nil {
		t.Fatal("stage dialog opened without the lock")
	}
	if got := d.flashText(); !strings.Contains(got, "needs your lock on main (press L)") {
		t.Fatalf("flash = %q", got)
	}

	d.key("L")
	if _, ok := d.m.dialog.(*lockDialog); !ok {
		t.Fatalf("dialog = %T, want the lock dialog", d.m.dialog)
	}
	d.key("enter") // an empty message is refused in the dialog
	if d.m.dialog == nil {
		t.Fatal("lock dialog closed on an empty message")
	}
	d.typeText("rotate motd")
	d.key("enter")
	if d.m.dialog != nil {
		t.Fatal("lock dialog still open")
	}
	d.wantCalls(`Lock(main, "rotate motd")`)
	if !d.m.lockedByMe() {
		t.Fatal("the journal does not show our lock")
	}
	d.wantScreen(`lock you "rotate motd"`)

	d.key("s")
	if _, ok := d.m.dialog.(*stageDialog); !ok {
		t.Fatalf("dialog = %T, want the stage dialog", d.m.dialog)
	}
	d.key("tab")
	d.typeText(local)
	d.key("tab")
	d.typeText("/etc/motd")
	d.key("tab")
	d.typeText("0640")
	d.key("ctrl+s")
	if d.m.dialog != nil {
		t.Fatalf("stage dialog still open: %s", d.m.dialog.(*stageDialog).err)
	}
	d.wantCalls(`Lock(main, "rotate motd")`, `Stage(main, file /etc/motd)`)
	if n := len(d.m.journal.view.Staged); n != 1 {
		t.Fatalf("%d staged entries on screen, want 1", n)
	}

	// Plan the whole branch (nothing selected).
	d.key("p")
	if d.m.focus != viewPlan || d.m.review.plan == nil {
		t.Fatalf("focus %v, plan %v", d.m.focus, d.m.review.plan)
	}
	plan := d.m.review.plan
	if len(d.m.jobs) != 0 {
		t.Fatalf("jobs left running: %v", d.m.jobs)
	}
	d.wantScreen("Plan", plan.ID, "not approved", "#1 file /etc/motd")
	d.key("G") // the staged entry is the last one
	d.wantScreen("#13 file /etc/motd staged", "modified ×")

	// P is refused before approval.
	d.key("P")
	if d.m.dialog != nil || !strings.Contains(d.flashText(), "not approved (press a)") {
		t.Fatalf("push before approve: dialog %T, flash %q", d.m.dialog, d.flashText())
	}

	d.key("a")
	d.wantScreen("Approve plan "+plan.ID, "Commits 1 staged entry to main as seq 13")
	d.key("k") // keep the lock
	d.key("y")
	d.wantCalls(`Lock(main, "rotate motd")`, `Stage(main, file /etc/motd)`, `Plan(main, [])`, `Approve(`+plan.ID+`, true)`)
	if !d.m.review.plan.Approved {
		t.Fatal("plan not shown approved")
	}

	d.key("P")
	d.wantScreen("Push plan "+plan.ID+"?", "reboot")
	d.key("y")
	d.wantCalls(`Lock(main, "rotate motd")`, `Stage(main, file /etc/motd)`, `Plan(main, [])`, `Approve(`+plan.ID+`, true)`,
		`Push(`+plan.ID+`, reboot=false)`)
	d.pump()
	if d.m.focus != viewPush || d.m.pushJob != "" || d.m.pushes.running {
		t.Fatalf("after push: focus %v job %q running %v", d.m.focus, d.m.pushJob, d.m.pushes.running)
	}
	d.wantScreen("Push", "finished", "done")
	if got := d.m.pushes.totals[engine.PushDone]; got == 0 {
		t.Fatalf("no host done: %v", d.m.pushes.totals)
	}
	if len(d.m.jobs) != 0 {
		t.Fatalf("jobs left running: %v", d.m.jobs)
	}
}

// Marked hosts are what p plans.
func TestPlanSelectedHosts(t *testing.T) {
	d := newDriver(t, uitestOptions(12), 120, 40)
	d.keys("space", "down", "space") // marks the first, skips one, marks the third
	sel := d.m.hosts.selection()
	if len(sel) != 2 {
		t.Fatalf("selection = %v", sel)
	}
	d.key("p")
	d.wantCalls(`Plan(main, [` + strings.Join(sel, " ") + `])`)
}

func uitestOptions(hosts int) uitest.Options { return uitest.Options{Hosts: hosts} }

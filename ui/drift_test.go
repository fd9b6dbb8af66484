package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/ui/uitest"
)

// The fake's drifted hosts on main (uitest/drift.go): lb01 (motd and
// sshd_config), db05 (both) and web07 (motd); three lost hosts cannot be
// checked; cache03 drifted too but follows staging.

// TestDriftCheckRepairAdopt: D checks the branch and shows each drifted
// path with its diff journal → host; r repairs the path under the cursor
// and A adopts it through exactly the calls :repair and :adopt make; the
// DRIFT column follows the check and the pushed repair.
func TestDriftCheckRepairAdopt(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 40, Drift: true}, 80, 24)
	d.wantScreen("DRIFT")
	if r := d.m.hosts.byName("web01"); r == nil || r.cells["drift"] != "none" {
		t.Fatalf("web01 checked before, clean: %+v", r)
	}
	if r := d.m.hosts.byName("web02"); r == nil || r.cells["drift"] != "–" {
		t.Fatalf("web02 never checked: %+v", r)
	}
	d.key("D")
	d.wantCalls("Drift(main, [])")
	if d.m.focus != viewDrift {
		t.Fatalf("after D the focus is %v, want the drift view", d.m.focus)
	}
	d.wantScreen("Drift", "5 paths drifted on 3 hosts", "lb01 /etc/motd", "-Welcome to the fleet — spring release", "+Welcome to lb01 — DO NOT EDIT")
	if !strings.Contains(d.flashText(), "3 of 32 hosts drifted, 3 could not be checked") {
		t.Errorf("flash %q", d.flashText())
	}
	d.pump()
	if r := d.m.hosts.byName("lb01"); r.cells["drift"] != "2 files" {
		t.Errorf("lb01 DRIFT %q after the check, want 2 files", r.cells["drift"])
	}
	if r := d.m.hosts.byName("db06"); r.cells["drift"] != "error" {
		t.Errorf("db06 (lost) DRIFT %q, want error", r.cells["drift"])
	}

	// The second path: lb01's sshd_config mode.
	d.key("down")
	d.wantScreen("lb01 /etc/ssh/sshd_config  mode", "mode 600 → 644 (journal → host)")
	d.key("up")
	before := len(d.f.Calls())
	d.key("r")
	keyCall := d.f.Calls()[before:]
	if d.m.focus != viewPlan || d.m.review.plan == nil || !d.m.review.plan.Hosts[0].Changes[0].Repair {
		t.Fatalf("r shows %v with plan %+v, want the repair plan in the review", d.m.focus, d.m.review.plan)
	}
	d.wantScreen("#1 file /etc/motd", "+Welcome to the fleet — spring release")
	repairPlan := d.m.review.plan.ID
	before = len(d.f.Calls())
	d.key(":")
	d.typeText("repair lb01 --path /etc/motd")
	d.key("enter")
	if lineCall := d.f.Calls()[before:]; fmt.Sprint(keyCall) != fmt.Sprint(lineCall) || fmt.Sprint(keyCall) != "[Repair(main, [lb01], [/etc/motd])]" {
		t.Errorf("r called %q, :repair called %q", keyCall, lineCall)
	}

	// Adopt needs the lock, and says so.
	d.key("6")
	d.key("down")
	d.key("A")
	if !strings.Contains(d.flashText(), "needs your lock on main") {
		t.Errorf("A without the lock: flash %q", d.flashText())
	}
	if err := d.f.Lock("main", "adopt the hand edit"); err != nil {
		t.Fatal(err)
	}
	d.pump()
	d.send(d.m.fetchJournal()())
	before = len(d.f.Calls())
	d.key("A")
	keyCall = d.f.Calls()[before:]
	if fmt.Sprint(keyCall) != "[Adopt(lb01, [/etc/ssh/sshd_config]) Stage(main, file /etc/ssh/sshd_config)]" {
		t.Errorf("A called %q", keyCall)
	}
	if !strings.Contains(d.flashText(), "staged 1 entry from lb01") {
		t.Errorf("flash after A: %q", d.flashText())
	}
	before = len(d.f.Calls())
	d.key(":")
	d.typeText("adopt lb01 --path /etc/ssh/sshd_config")
	d.key("enter")
	if lineCall := d.f.Calls()[before:]; fmt.Sprint(keyCall) != fmt.Sprint(lineCall) {
		t.Errorf("A called %q, :adopt called %q", keyCall, lineCall)
	}

	// Approve and push the first repair plan: lb01's motd no longer drifts.
	d.key(":")
	d.typeText("approve " + repairPlan)
	d.key("enter")
	d.key("y")
	d.key(":")
	d.typeText("push " + repairPlan)
	d.key("enter")
	d.key("y")
	d.send(d.m.fetchHosts()())
	if r := d.m.hosts.byName("lb01"); r.cells["drift"] != "1 file" {
		t.Errorf("lb01 DRIFT %q after the pushed repair, want 1 file", r.cells["drift"])
	}
	// The drift view says so too, and r has nothing left to do there.
	d.key("6")
	d.key("g")
	d.wantScreen("lb01 /etc/motd  ✓ matches the journal again", "lb01 /etc/ssh/sshd_config  mode")
	d.key("r")
	if !strings.Contains(d.flashText(), "matches the journal again (D checks again)") {
		t.Errorf("r on a repaired path: flash %q", d.flashText())
	}
}

// TestDriftKeysExplainThemselves: before any check r, R and A say why
// they cannot act; R repairs every drifted host shown as `repair HOST…`.
func TestDriftKeysExplainThemselves(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 40, Drift: true}, 80, 24)
	d.key("6")
	d.wantScreen("not checked yet")
	for _, k := range []string{"r", "R", "A"} {
		d.key(k)
		if !strings.Contains(d.flashText(), "no drift check yet (D checks)") {
			t.Errorf("%s before a check: flash %q", k, d.flashText())
		}
	}
	d.wantCalls()
	d.key("D")
	d.key("R")
	d.wantCalls("Drift(main, [])", "Repair(main, [lb01 db05 web07], [])")
	if n := len(d.m.review.plan.Hosts); n != 3 {
		t.Errorf("repair of all: %d hosts, want 3", n)
	}
	// Enter on a host shows when drift was last checked.
	d.key("1")
	for d.m.hosts.current().displayName() != "lb01" {
		d.key("down")
	}
	d.key("enter")
	d.wantScreen("drift: 2 files, checked 2026-03-14 09:26:53", "/etc/ssh/sshd_config")
}

// TestGoldenDrift: the hosts view with its DRIFT column after a check, and
// the drift view, at the smallest supported size and a large one.
func TestGoldenDrift(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			d := newDriver(t, uitest.Options{Hosts: 40, Drift: true}, size[0], size[1])
			shot := func(name string) {
				t.Run(name, func(t *testing.T) {
					golden.RequireEqual(t, render(t, d.m.View().Content, colorprofile.ANSI256))
				})
			}
			d.key("D")
			d.pump()
			shot("drift")
			d.key("1")
			d.key("F") // hosts sorted by drift, most first
			shot("hosts")
			for _, l := range strings.Split(d.screen(), "\n") {
				if w := len([]rune(l)); w > size[0] {
					t.Errorf("line wider than %d: %q", size[0], l)
				}
			}
		})
	}
}

// TestDriftLongPathNotCut: at 80 columns a path longer than the line is
// wrapped, never cut: it is what r and A act on.
func TestDriftLongPathNotCut(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 80, 24)
	long := "/etc/discoterm/" + strings.Repeat("a-rather-long-directory-name/", 3) + "and-a-file-name.conf"
	d.m.drift.setReport(&engine.DriftReport{Branch: "main", Checked: uitest.Epoch, Hosts: []engine.HostDrift{
		{HostID: "h1", Name: "web01", Paths: []engine.PathDrift{{Path: long, Seq: 3, Kind: journal.KindFile, What: []string{engine.DriftMode}, WantMode: "644", HostMode: "600"}}}}})
	d.key("6")
	flat := strings.NewReplacer("\n", "", " ", "", "›", "").Replace(d.screen())
	if !strings.Contains(flat, "web01"+long) {
		t.Fatalf("the path is cut:\n%s", d.screen())
	}
	d.wantScreen("mode · seq 3 file", "mode 644 → 600 (journal → host)")
	for _, l := range strings.Split(d.screen(), "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
}

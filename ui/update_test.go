package ui

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/ui/uitest"
)

func TestDisabledKeysSayWhy(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 100, 30)
	for _, c := range []struct{ key, why string }{
		{"a", "a approve plan — no plan yet (press p)"},
		{"P", "P push plan — no plan yet (press p)"},
		{"U", "U unlock branch — main is not locked"},
		{"s", "s stage a change — needs your lock on main (press L)"},
	} {
		d.key(c.key)
		if d.m.dialog != nil {
			t.Fatalf("%s opened %T", c.key, d.m.dialog)
		}
		if d.flashText() != c.why {
			t.Errorf("%s: flash %q, want %q", c.key, d.flashText(), c.why)
		}
	}
	d.wantCalls() // nothing reached the engine
	// Help shows the same reasons.
	d.key("?")
	d.wantScreen("stage a change", "↳ needs your lock on main (press L)")
	d.key("esc")
	if d.m.help != nil {
		t.Fatal("help still open")
	}
}

func TestSomeoneElsesLock(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 100, 30)
	d.f.LockAs("main", "bob@jump2", "kernel upgrade")
	d.send(refreshMsg{"journal"})
	d.key("2") // the journal refreshes when an operation or event says so
	d.send(opMsg{done: "x"})
	d.wantScreen(`lock bob@jump2 "kernel upgrade"`)
	d.key("L")
	if d.flashText() != "L lock branch — main is locked by bob@jump2" {
		t.Fatalf("flash %q", d.flashText())
	}
	d.key("U")
	d.wantScreen("Break someone else's lock?", `"kernel upgrade"`, "recorded in the audit trail")
	d.key("n")
	d.wantCalls()
	d.key("U")
	d.key("y")
	d.wantCalls("Unlock(main, true)")
	d.wantScreen("lock free")
}

func TestEventsUpdateHostsInPlace(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 30}, 120, 40)
	h, _ := d.f.HostByName("web01")
	if r := d.m.hosts.byID[h.ID]; r.state != stateAlive {
		t.Fatalf("web01 is %s", r.state)
	}
	h.Liveness = "lost"
	d.f.Emit(&engine.HostEvent{Header: engine.Header{Message: "web01 lost"}, Change: engine.HostLost, Host: h})
	d.pump()
	if r := d.m.hosts.byID[h.ID]; r.state != stateLost {
		t.Fatalf("web01 is %s after a lost event", r.state)
	}
	d.key("/")
	d.typeText("state:lost")
	d.key("enter")
	d.wantScreen("web01", `filter "state:lost"`)
	for _, r := range d.m.hosts.view {
		if r.state != stateLost {
			t.Fatalf("filter shows %s (%s)", r.displayName(), r.state)
		}
	}
	d.key("esc")
	if d.m.hosts.filter != "" || len(d.m.hosts.view) != 30 {
		t.Fatalf("esc left filter %q, %d rows", d.m.hosts.filter, len(d.m.hosts.view))
	}
}

// A host event carries the record: a host the table did not know appears
// at once, without re-reading every host.
func TestNewHostEventAddsTheRow(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 5}, 120, 40)
	if _, err := d.f.AddHost(t.Context(), engine.AddHostRequest{Addr: "fd00::99", Name: "new1"}); err != nil {
		t.Fatal(err)
	}
	d.pump()
	if len(d.m.hosts.rows) != 6 || d.m.hostsRefresh.scheduled || d.m.hostsRefresh.inFlight {
		t.Fatalf("%d rows (want 6); a re-read scheduled %v, in flight %v", len(d.m.hosts.rows), d.m.hostsRefresh.scheduled, d.m.hostsRefresh.inFlight)
	}
	d.wantScreen("new1")
}

// Ten thousand events queued at once arrive in two bursts, not ten
// thousand messages.
func TestEventBurstsCoalesce(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 10000}, 120, 40)
	hs, _ := d.f.Hosts(t.Context())
	evs := make([]engine.Event, len(hs))
	for i, h := range hs {
		h.Liveness = "lost"
		evs[i] = &engine.HostEvent{Change: engine.HostLost, Host: h}
	}
	d.f.Emit(evs...)
	d.pump()
	if d.bursts != 2 {
		t.Fatalf("%d bursts for 10,000 events, want 2 (at most %d per burst)", d.bursts, maxBurst)
	}
	for _, r := range d.m.hosts.rows {
		if r.state != stateLost && r.state != stateUntrusted {
			t.Fatalf("%s is %s", r.displayName(), r.state)
		}
	}
}

func TestCancelPush(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 40}, 120, 40)
	d.f.PushGate = make(chan struct{})
	d.async = []string{").push.func"}
	d.key("p")
	d.key("a")
	d.key("y")
	d.key("P")
	d.key("y")
	if d.m.pushJob == "" || d.m.focus != viewPush {
		t.Fatalf("push not running: job %q focus %v", d.m.pushJob, d.m.focus)
	}
	d.f.PushGate <- struct{}{} // one host may go
	d.f.PushGate <- struct{}{} // the second waits at the gate…
	// Esc on the Push view never stops the push.
	d.key("esc")
	if d.m.focus != viewPush || d.m.pushes.cancelling || d.m.pushJob == "" {
		t.Fatalf("esc changed the push: focus %v cancelling %v job %q", d.m.focus, d.m.pushes.cancelling, d.m.pushJob)
	}
	if !strings.Contains(d.flashText(), "x stops it") {
		t.Fatalf("esc: flash %q", d.flashText())
	}
	// x asks, saying what stops and what stays applied; n keeps it going.
	d.pump()
	d.key("x")
	d.wantScreen("Stop push", "will not be started", "Already applied and kept")
	d.key("n")
	if d.m.pushes.cancelling {
		t.Fatal("n stopped the push")
	}
	d.key("x")
	if d.m.dialog == nil || d.m.dialog != d.m.stopAsk {
		t.Fatal("x did not ask")
	}
	d.key("y") // …when the push is stopped
	if !strings.Contains(d.flashText(), "stopping push") {
		t.Fatalf("flash %q", d.flashText())
	}
	d.key("x")
	if !strings.Contains(d.flashText(), "already stopping") {
		t.Fatalf("second x: flash %q", d.flashText())
	}
	d.await()
	d.pump()
	if d.m.pushJob != "" || d.m.pushes.running {
		t.Fatal("push still shown running")
	}
	tot := d.m.pushes.totals
	if tot[engine.PushDone] != 2 || tot[engine.PushNotStarted] == 0 || tot[engine.PushCancelled] != 0 {
		t.Fatalf("totals after cancel: %v", tot)
	}
	if !strings.Contains(d.flashText(), "push cancelled: ") {
		t.Fatalf("flash %q", d.flashText())
	}
	d.wantScreen("not started", "finished")
}

// Quitting during a push cancels it and leaves once it has stopped.
func TestQuitDuringPush(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 40}, 120, 40)
	d.f.PushGate = make(chan struct{})
	d.async = []string{").push.func"}
	d.keys("p", "a", "y", "P", "y")
	d.key("q")
	d.wantScreen("Quit while pushing?")
	d.key("y")
	if d.quit {
		t.Fatal("quit before the push stopped")
	}
	d.await()
	if !d.quit {
		t.Fatal("did not quit after the push stopped")
	}
	if d.m.pushes.totals[engine.PushNotStarted] == 0 {
		t.Fatalf("totals %v", d.m.pushes.totals)
	}
}

func TestCommandLine(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	command := func(line string) {
		d.key(":")
		d.typeText(line)
		d.key("enter")
	}
	command("lock main fix the clocks")
	command(`exec --creates /etc/chrony/.done -- touch "/etc/chrony/.done"`)
	d.wantScreen(`touch "/etc/chrony/.done"`) // shown whole, as typed, before it is staged
	d.key("y")
	// One numbering: the staged entry is seq 13 (main's head is 12), in
	// the journal pane and for drop; another number names the range.
	d.key("2")
	d.wantScreen("approve commits them as seq 13", "   13 exec")
	command("drop 1")
	if got := d.flashText(); !strings.Contains(got, "seq 1 is not a staged entry of main: the staged entries are seq 13") {
		t.Errorf("drop 1 flashed %q", got)
	}
	command("drop 13")
	command("reboot")
	d.wantCalls(`Lock(main, "fix the clocks")`, `Stage(main, exec touch "/etc/chrony/.done")`, "Drop(main, 1)", "Drop(main, 13)", "Stage(main, reboot )")

	command("snap ./motd")
	if !strings.HasPrefix(d.flashText(), "snap needs --to PATH (absolute path on the hosts): snap LOCALFILE --to PATH") {
		t.Fatalf("flash %q", d.flashText())
	}
	command("snap ./motd --to etc/motd")
	if !strings.Contains(d.flashText(), "relative") {
		t.Fatalf("flash %q", d.flashText())
	}
	command("frobnicate")
	if d.flashText() != `unknown verb "frobnicate"; help lists them` {
		t.Fatalf("flash %q", d.flashText())
	}
	command("journal")
	if d.m.focus != viewJournal {
		t.Fatalf("focus %v", d.m.focus)
	}
	command("branch staging")
	if d.m.branch != "staging" || d.m.journal.view.Branch.Name != "staging" {
		t.Fatalf("branch %q, journal of %q", d.m.branch, d.m.journal.view.Branch.Name)
	}
	command("approve")
	if !strings.Contains(d.flashText(), "no plan on screen") {
		t.Fatalf("flash %q", d.flashText())
	}
	command("plan")
	command("push " + d.m.review.plan.ID)
	if !strings.Contains(d.flashText(), "is not approved — :approve "+d.m.review.plan.ID+" first") {
		t.Fatalf(":push of a plan not approved: flash %q", d.flashText())
	}
	command("approve " + d.m.review.plan.ID)
	d.wantScreen("Approve plan " + d.m.review.plan.ID + " on staging?")
	d.key("esc")
	command("quit")
	if !d.quit {
		t.Fatal(":quit did not quit")
	}
}

func TestAcceptHostKey(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	d.key("T")
	if !strings.Contains(d.flashText(), "has no unknown key") {
		t.Fatalf("flash %q", d.flashText())
	}
	d.key("/")
	d.typeText("untrusted")
	d.key("enter")
	r := d.m.hosts.current()
	if r == nil || r.state != stateUntrusted {
		t.Fatalf("cursor on %v", r)
	}
	d.key("T")
	d.wantScreen("Accept a new host key?", r.HostKey, r.displayName())
	d.key("n")
	d.wantCalls()
	d.key("T")
	d.key("y")
	d.wantCalls("TrustHost(" + r.ID + ", " + r.HostKey + ")")
	if d.m.hosts.byID[r.ID].state == stateUntrusted {
		t.Fatal("host still shown untrusted")
	}
}

// A scanned host with an unknown key arrives as an event that carries its
// record, fingerprint included: nothing is re-read.
func TestUntrustedEventCarriesTheHost(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	h, _ := d.f.HostByName("web01")
	h.Trusted, h.HostKey = false, "SHA256:newkeynewkeynewkey"
	d.f.Emit(&engine.HostEvent{Header: engine.Header{Message: "new host offers host key SHA256:newkey…; check it"},
		Change: engine.HostUntrusted, Host: h, Fingerprint: h.HostKey})
	d.pump()
	if r := d.m.hosts.byID[h.ID]; r.state != stateUntrusted || r.HostKey != "SHA256:newkeynewkeynewkey" {
		t.Fatalf("web01: %s %q", r.state, r.HostKey)
	}
}

func TestBackgroundPicksTheme(t *testing.T) {
	f := uitest.New(uitest.Options{})
	for _, c := range []struct {
		theme string
		bg    color.Color
		want  string
	}{
		{"", lipgloss.Color("#ffffff"), "light"},
		{"", lipgloss.Color("#000000"), "dark"},
		{"dark", lipgloss.Color("#ffffff"), "dark"},
		{"high-contrast", lipgloss.Color("#ffffff"), "high-contrast"},
	} {
		m, err := NewModel(f, Options{Theme: c.theme})
		if err != nil {
			t.Fatal(err)
		}
		m.Update(tea.BackgroundColorMsg{Color: c.bg})
		if m.c.Theme.Name != c.want {
			t.Errorf("theme %q on %v: got %s", c.theme, c.bg, m.c.Theme.Name)
		}
		if c.theme == "high-contrast" && m.c.Theme.Dark {
			t.Error("high-contrast ignored a light background")
		}
		m.Close()
	}
	if _, err := NewModel(f, Options{Theme: "nope"}); err == nil || !strings.Contains(err.Error(), `unknown theme "nope"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestFlashFades(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 100, 30)
	d.key("a")
	id := d.m.flashNow.id
	d.send(flashMsg{id: id})
	if !d.m.flashNow.faded {
		t.Fatal("not faded")
	}
	d.send(flashMsg{id: id - 1, gone: true}) // an older flash's timer
	if d.m.flashNow == nil {
		t.Fatal("an old timer cleared a newer flash")
	}
	d.send(flashMsg{id: id, gone: true})
	if d.m.flashNow != nil {
		t.Fatal("flash did not go")
	}
}

// Every pane fills the terminal exactly at every size: no line wider than
// the screen, no missing or extra lines.
func TestEveryViewFitsTheScreen(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {100, 30}, {160, 48}, {60, 15}, {200, 60}} {
		d := newDriver(t, uitest.Options{Hosts: 40}, size[0], size[1])
		d.f.FailPush["db02"] = "exit 1"
		d.key("p")
		d.key("a")
		d.key("y")
		d.key("P")
		d.key("y")
		d.pump()
		for v := range viewCount {
			d.m.focusView(v)
			for _, extra := range []string{"", "?", "L", ":"} {
				if extra != "" {
					d.key(extra)
				}
				checkFits(t, fmt.Sprintf("%dx%d %s %q", size[0], size[1], viewNames[v], extra), d.m.View().Content, size[0], size[1])
				d.key("esc")
			}
		}
		// The answer keys of a long dialog stay on screen.
		d2 := newDriver(t, uitest.Options{Hosts: 40}, size[0], size[1])
		d2.keys("p", "a")
		if !strings.Contains(d2.screen(), "y approve") {
			t.Errorf("%dx%d: approve dialog lost its buttons:\n%s", size[0], size[1], d2.screen())
		}
		// Resizing shrinks everything cleanly.
		d.send(tea.WindowSizeMsg{Width: 70, Height: 20})
		checkFits(t, "after resize", d.m.View().Content, 70, 20)
	}
}

func checkFits(t *testing.T, what, s string, w, h int) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if len(lines) != h {
		t.Errorf("%s: %d lines, want %d", what, len(lines), h)
	}
	for i, l := range lines {
		if lw := lipgloss.Width(l); lw > w {
			t.Errorf("%s: line %d is %d wide (> %d): %q", what, i, lw, w, stripANSI(l))
		}
	}
}

// While a plan runs, the review shows each host's answer as it arrives
// and names the hosts still awaited with their elapsed time; the status
// bar counts hosts answered against hosts asked for.
func TestPlanningProgress(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 12}, 120, 40)
	names := d.m.hosts.namesOnBranch("main")
	if len(names) < 6 {
		t.Fatalf("fake fleet has %d hosts on main", len(names))
	}
	slices.SortFunc(names, naturalCompare)
	d.m.planning = newPlanProgress("ui-99", d.clock.Now(), names)
	d.m.jobs["ui-99"] = &job{text: "plan main"}
	d.m.focusView(viewPlan)
	d.clock.advance(1500 * time.Millisecond)
	motd := func(name string) *engine.PlanHostEvent {
		return &engine.PlanHostEvent{PlanID: "p0000beef", Branch: "main", Host: engine.HostPlan{Name: name, Changes: []engine.Change{{
			Seq: 13, Kind: journal.KindFile, Path: "/etc/motd", Effect: engine.EffectModify, Staged: true,
			Diff: "--- /etc/motd\n+++ /etc/motd\n@@ -1 +1 @@\n-old banner\n+new banner\n"}}}}
	}
	d.send(eventsMsg{
		motd(names[0]),
		&engine.PlanHostEvent{PlanID: "p0000beef", Branch: "main", Host: engine.HostPlan{Name: names[1]}},
		&engine.PlanHostEvent{PlanID: "p0000beef", Branch: "main", Host: engine.HostPlan{Name: names[2], Err: "cannot reach it"}},
		&engine.LogEvent{PlanID: "p0000beef", Host: names[3], Header: engine.Header{Message: names[3] + " skipped: the scanner marked it lost"}},
		// Another plan of the engine's (a catch-up) is not this one.
		&engine.PlanHostEvent{PlanID: "p0000cafe", Branch: "main", Host: engine.HostPlan{Name: names[5], Err: "not this plan"}},
	})
	total := len(names)
	// The hosts still awaited with their time, and the review of the
	// answers so far, diffs included, before the plan ends.
	d.wantScreen(fmt.Sprintf("dry-running: 4/%d hosts answered · 1.5s", total), fmt.Sprintf("jobs plan main 4/%d hosts", total),
		fmt.Sprintf("waiting for %d hosts:", total-4), names[4], "waiting 1.5s", "skipped: the scanner marked it lost",
		"p0000beef · main · planning:", "cannot be approved yet",
		"1 would change · 1 up to date · 1 could not be planned", "#13 file /etc/motd", "×1: "+names[0], "+new banner", "cannot reach it")
	if strings.Contains(d.screen(), "not this plan") {
		t.Error("another plan's answer is in this plan's review")
	}
	// More answers regroup: the same diff, now with two hosts.
	d.send(eventsMsg{motd(names[4])})
	d.wantScreen("2 would change", fmt.Sprintf("×2: %s, %s", names[0], names[4]))
	// A partial review cannot be approved, by key or by command.
	d.key("a")
	if got := d.flashText(); !strings.Contains(got, "plan p0000beef is still running") || d.m.dialog != nil {
		t.Errorf("a on a partial plan: flash %q, dialog %v", got, d.m.dialog != nil)
	}
	d.key(":")
	d.typeText("approve")
	d.key("enter")
	if got := d.flashText(); !strings.Contains(got, "plan p0000beef is still running") || d.m.dialog != nil {
		t.Errorf(":approve of a partial plan: flash %q", got)
	}
}

// A branch that does not exist yet is an empty journal, not an error.
func TestMissingBranchIsEmpty(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	d.key(":")
	d.typeText("branch nowhere") // refused: not a branch
	d.key("enter")
	if d.m.branch != "main" || !strings.Contains(d.flashText(), `no branch "nowhere"`) {
		t.Fatalf("branch %q, flash %q", d.m.branch, d.flashText())
	}
	seq := d.m.flashSeq
	d.send(journalMsg{branch: "main", err: fmt.Errorf("%w: no branch %q", engine.ErrNotFound, "main")})
	if d.m.flashSeq != seq {
		t.Fatalf("a missing branch flashed %q", d.flashText())
	}
	d.key("2")
	d.wantScreen("empty journal — L locks main (creating it)")
}

// :push and :approve of a plan that is not the one on screen load it,
// show it and ask; a plan that does not exist is an error in the status
// line and the activity log.
func TestCommandOnPlanNotOnScreen(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	command := func(line string) {
		d.key(":")
		d.typeText(line)
		d.key("enter")
	}
	d.keys("p", "a", "y")
	first := d.m.review.plan
	if first == nil || !first.Approved {
		t.Fatalf("first plan not approved: %+v", first)
	}
	d.key("p")
	second := d.m.review.plan
	if second.ID == first.ID {
		t.Fatal("the second plan has the first one's id")
	}
	command("push " + first.ID)
	d.wantScreen("Push plan " + first.ID + "?")
	if d.m.review.plan.ID != first.ID {
		t.Fatalf("review shows %s, not the plan being pushed", d.m.review.plan.ID)
	}
	d.key("n")
	command("approve " + first.ID)
	if !strings.Contains(d.flashText(), "plan "+first.ID+" is approved already") {
		t.Fatalf("flash %q", d.flashText())
	}
	command("push p00000000")
	if f := d.flashText(); !strings.Contains(f, "push p00000000") || !strings.Contains(f, "not found") {
		t.Fatalf("flash %q", f)
	}
	d.key("5")
	d.wantScreen("push p00000000", "not found", "is approved already")
}

// Each scan round re-reads the hosts, so SEEN shows when each host last
// answered, not when it last changed state.
func TestScanRoundRefreshesLastSeen(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 3}, 120, 40)
	r := d.m.hosts.current()
	d.clock.advance(10 * time.Minute)
	d.f.SetHost(r.ID, func(h *engine.HostView) { h.LastSeen = d.clock.Now().Add(-3 * time.Second) })
	d.send(eventsMsg{&engine.ScanEvent{State: "round", Round: 7}})
	if !d.m.hostsRefresh.scheduled && !d.m.hostsRefresh.inFlight {
		t.Fatal("a scan round did not ask for a re-read of the hosts")
	}
	d.send(refreshMsg{"hosts"}) // the rate limit's timer
	if got := d.m.hosts.current(); !got.LastSeen.Equal(d.clock.Now().Add(-3 * time.Second)) {
		t.Fatalf("after a scan round the row says last seen %v, the store %v", got.LastSeen, d.clock.Now().Add(-3*time.Second))
	}
}

// Help at 80×24 scrolls to its end with G and back with g, pages with
// pgdn/pgup, and shows the focused view's keys first, not other views'.
func TestHelpScrollsAndIsContextual(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 80, 24)
	d.key("4")
	d.key("?")
	d.wantScreen("keys in Push", "Push view", "stop the push", "lines 1–")
	if strings.Contains(d.screen(), "minimum level") {
		t.Error("push help shows the activity view's keys")
	}
	d.key("G")
	d.wantScreen("and commands") // the title stays
	vs := commandTable().Verbs()
	d.wantScreen(":" + vs[len(vs)-1].Name)
	d.key("g")
	d.wantScreen("status", "branch main", "lines 1–")
	d.key("pgdown")
	if d.m.help.offset == 0 {
		t.Error("pgdn did not scroll")
	}
	d.key("pgup")
	if d.m.help.offset != 0 {
		t.Errorf("pgup left offset %d", d.m.help.offset)
	}
	d.key("esc")
	d.key("5")
	d.key("?")
	d.wantScreen("Activity view", "minimum level")
}

// / matches every visible column (behind in POSITION, failed in LAST
// RESULT), "!" inverts, a regular expression works; Shift+letter sorts
// by a column, again reverses, and the header marks it.
func TestFilterAndSortLikeK9s(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 40}, 160, 60)
	filter := func(text string) []*hostRow {
		d.key("/")
		d.key("ctrl+u") // clear what the input holds
		d.typeText(text)
		d.key("enter")
		return d.m.hosts.view
	}
	all := len(d.m.hosts.rows)
	behind := filter("behind")
	if len(behind) == 0 || len(behind) == all {
		t.Fatalf("/behind kept %d of %d", len(behind), all)
	}
	for _, r := range behind {
		if r.Behind == 0 {
			t.Errorf("/behind kept %s, which is not behind", r.displayName())
		}
	}
	if notBehind := filter("!behind"); len(notBehind)+len(behind) != all {
		t.Errorf("!behind kept %d, behind %d, of %d", len(notBehind), len(behind), all)
	}
	d.f.SetHost(d.m.hosts.rows[3].ID, func(h *engine.HostView) { h.LastResult, h.LastError = "failed", "exit 3" })
	d.send(refreshMsg{"hosts"})
	d.m.hostsRefresh.want = true
	d.send(refreshMsg{"hosts"})
	if failed := filter("failed"); len(failed) < 1 {
		t.Errorf("/failed found nothing")
	} else {
		for _, r := range failed {
			if !strings.Contains(r.result(), "failed") && r.state != "failed" {
				t.Errorf("/failed kept %s (%s)", r.displayName(), r.result())
			}
		}
	}
	re := filter(`^(web|db)0[12]$`)
	for _, r := range re {
		if !regexp.MustCompile(`^(web|db)0[12]$`).MatchString(r.displayName()) {
			t.Errorf("regex kept %s", r.displayName())
		}
	}
	if len(re) == 0 {
		t.Error("the regex matched no host")
	}
	filter("")
	d.key("esc")

	d.key("B")
	if d.m.hosts.sortBy != hcBranch || d.m.hosts.desc {
		t.Fatalf("B: sort %d desc %v", d.m.hosts.sortBy, d.m.hosts.desc)
	}
	d.wantScreen("BRANCH↑", "sort branch ↑")
	d.key("B")
	d.wantScreen("BRANCH↓")
	d.key("I")
	d.wantScreen("POSITION↑")
	v := d.m.hosts.view
	for i := 1; i < len(v); i++ {
		if v[i-1].Behind > v[i].Behind {
			t.Fatalf("sorted by position: %s (behind %d) before %s (behind %d)", v[i-1].displayName(), v[i-1].Behind, v[i].displayName(), v[i].Behind)
		}
	}
}

// The stage dialog keeps what was typed: a local file that does not exist
// leaves it open with every field intact and the error inline; the error
// goes when that field is edited; a good file stages and closes it.
func TestStageDialogKeepsFields(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 100, 30)
	d.keys("L")
	d.typeText("motd")
	d.key("enter")
	d.key("s")
	d.key("tab")
	d.typeText("./no-such-file")
	d.key("enter") // next field, not stage
	if _, ok := d.m.dialog.(*stageDialog); !ok {
		t.Fatal("enter on the first field closed the dialog")
	}
	d.typeText("/etc/motd")
	d.key("ctrl+s")
	sd, ok := d.m.dialog.(*stageDialog)
	if !ok {
		t.Fatalf("a missing local file closed the dialog; flash %q", d.flashText())
	}
	local, to := sd.field("localfile"), sd.field("to")
	if sd.value(local) != "./no-such-file" || sd.value(to) != "/etc/motd" {
		t.Fatalf("fields lost: %q %q", sd.value(local), sd.value(to))
	}
	d.wantScreen("does not exist", "./no-such-file", "/etc/motd")
	if strings.Contains(d.screen(), "usage:") {
		t.Error("the error shows the engine's error class")
	}
	for _, c := range d.f.Calls() {
		if strings.HasPrefix(c, "Stage(") {
			t.Fatalf("staged anyway: %v", c)
		}
	}
	if sd.errField != local || sd.row != 1 {
		t.Fatalf("the error is not on the local file field: field %d row %d", sd.errField, sd.row)
	}
	// Fixing the field clears the complaint.
	file := filepath.Join(t.TempDir(), "motd")
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.key("ctrl+u")
	if sd.err != "" {
		t.Fatalf("error %q stays while the field is edited", sd.err)
	}
	d.typeText(file)
	d.key("ctrl+s")
	if d.m.dialog != nil {
		t.Fatalf("staged, but the dialog stays: %q", sd.err)
	}
	d.wantCalls(`Lock(main, "motd")`, "Stage(main, file /etc/motd)")
}

// A flash too long for the bottom line says where the whole of it is, and
// the Activity log has it whole.
func TestLongFlashPointsToActivity(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 80, 24)
	long := "push: " + strings.Repeat("a very long reason ", 8) + "END"
	d.m.flash(engine.LevelError, long)
	d.send(clockMsg{})
	d.wantScreen("(5: all of it)")
	d.key("5")
	d.key("enter")
	if _, ok := d.m.dialog.(*detailDialog); !ok {
		t.Fatal("enter on the activity log opened nothing")
	}
	d.wantScreen("a very long reason a very long reason", "END")
}

// A "Stop push?" question still open when the push ends goes away: its
// facts are stale and there is nothing left to stop.
func TestStopQuestionGoesWhenPushEnds(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 4}, 120, 40)
	d.f.PushGate = make(chan struct{})
	d.async = []string{").push.func"}
	d.keys("p", "a", "y", "P", "y")
	d.key("x")
	if d.m.dialog == nil {
		t.Fatal("x did not ask")
	}
	close(d.f.PushGate) // every host may go: the push ends by itself
	d.await()
	d.pump()
	if d.m.dialog != nil {
		t.Fatalf("the stop question outlived the push:\n%s", d.screen())
	}
	if !strings.Contains(d.flashText(), "push finished") {
		t.Fatalf("flash %q", d.flashText())
	}
}

// The lock dialog's complaint goes once the message is being typed.
func TestLockDialogErrorClears(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 100, 30)
	d.key("L")
	d.key("enter")
	d.wantScreen("a lock needs a message")
	d.typeText("w")
	if strings.Contains(d.screen(), "a lock needs a message") {
		t.Fatal("the error stays while the field is fixed")
	}
}

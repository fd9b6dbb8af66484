package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestTUIDriftRepair: in a real terminal of 80×24 on real hosts, a hand
// edit of a managed file on one host shows after D in the DRIFT column
// and as a diff journal → host in the drift view; r makes the repair
// plan, a and P push it, and the host has the journal's file back at the
// same position, its DRIFT column clean.
func TestTUIDriftRepair(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	const path = "/etc/discoterm-drift.conf"
	rg.must("--batch", "lock", "main", "managed file")
	rg.must("--batch", "snap", rg.write("drift.conf", "managed = yes\n"), "--to", path, "--mode", "0644")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)
	rogue := rg.fleet.Hosts[1]
	if out, err := rogue.Exec(context.Background(), "sh", "-c", "printf 'managed = rogue\\n' > "+path); err != nil {
		t.Fatalf("%s: %v %s", rogue.Name, err, out)
	}

	s := rg.startTUI(80, 24, "--no-scan", "--theme", "dark")
	sc := s.waitFor("node3")
	if !strings.Contains(sc, "DRIFT") || !strings.Contains(screenRow(sc, rogue.Name), "–") {
		t.Fatalf("before any check the DRIFT column says –:\n%s", sc)
	}
	s.keys("D")
	sc = s.waitFor("1 path drifted on 1 host")
	for _, want := range []string{rogue.Name + " " + path + "  content", "-managed = yes", "+managed = rogue", "2 match the journal"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("the drift view lacks %q:\n%s", want, sc)
		}
	}
	for _, l := range strings.Split(sc, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line of %d columns at 80×24: %q", n, l)
		}
	}
	s.keys("1")
	waitRow(s, rogue.Name, "1 file")
	waitRow(s, rg.fleet.Hosts[0].Name, "none")

	// Repair the path under the cursor: a plan, reviewed, approved, pushed.
	s.keys("6")
	s.waitFor("› " + rogue.Name)
	s.keys("r")
	sc = s.waitFor("would change")
	if !strings.Contains(sc, "-managed = rogue") || !strings.Contains(sc, "+managed = yes") || !strings.Contains(sc, "×1: "+rogue.Name) {
		t.Fatalf("the repair plan's review:\n%s", sc)
	}
	s.keys("a")
	s.waitFor("Approve")
	s.keys("y")
	s.waitFor("approved —")
	s.keys("P")
	s.waitFor("Push")
	s.keys("y")
	s.waitFor("1 done")
	if got := rg.hostFile(rogue, path); got != "managed = yes\n" {
		t.Errorf("%s %s after the repair: %q", rogue.Name, path, got)
	}
	if st := rg.hostState(rogue); st.Position != 1 || len(st.Applied) != 1 {
		t.Errorf("%s state after the repair: %+v", rogue.Name, st)
	}
	s.keys("1")
	waitRow(s, rogue.Name, "none")
	s.keys("6")
	s.waitFor(rogue.Name + " " + path + "  ✓ matches the journal again")
	s.keys("q")
}

// waitRow waits until a host's row of the hosts table shows text.
func waitRow(s *tui, name, text string) {
	s.t.Helper()
	for i := 0; !strings.Contains(screenRow(s.screen(), name), text); i++ {
		if i > 300 {
			s.t.Fatalf("%s row never showed %q:\n%s", name, text, s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenRow is the hosts table's row of a host, "" when not on screen.
func screenRow(screen, name string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, " "+name+" ") {
			return l
		}
	}
	return ""
}

// TestTUIDriftAdopt: a good hand edit kept from the console at 80×24:
// under the lock, A on the drifted path stages the host's version; p, a
// and P push it to the other host, and the next check finds no drift.
func TestTUIDriftAdopt(t *testing.T) {
	rg := newRig(t, 2)
	rg.setup()
	const path = "/etc/discoterm-adopt.conf"
	rg.must("--batch", "lock", "main", "managed file")
	rg.must("--batch", "snap", rg.write("adopt.conf", "managed = yes\n"), "--to", path, "--mode", "0644")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)
	edited, other := rg.fleet.Hosts[1], rg.fleet.Hosts[0]
	if out, err := edited.Exec(context.Background(), "sh", "-c", "printf 'managed = by hand\\n' > "+path); err != nil {
		t.Fatalf("%s: %v %s", edited.Name, err, out)
	}

	s := rg.startTUI(80, 24, "--no-scan", "--theme", "dark")
	s.waitFor(other.Name)
	s.keys("D")
	s.waitFor("1 path drifted on 1 host")
	s.keys("A")
	s.waitFor("needs your lock on main")
	s.keys(":")
	s.typeText("lock main keep the hand edit")
	s.keys("Enter")
	s.waitFor("locked main")
	s.keys("A")
	s.waitFor("staged 1 entry from " + edited.Name)
	s.keys("p")
	sc := s.waitFor("would change")
	if !strings.Contains(sc, "+managed = by hand") || !strings.Contains(sc, "×1: "+other.Name) {
		t.Fatalf("the plan of the adopted entry:\n%s", sc)
	}
	s.keys("a")
	s.waitFor("Approve")
	s.keys("y")
	s.waitFor("approved —")
	s.keys("P")
	s.waitFor("Push")
	s.keys("y")
	s.waitFor("2 done")
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, path); got != "managed = by hand\n" {
			t.Errorf("%s %s = %q, want the adopted edit", h.Name, path, got)
		}
		if st := rg.hostState(h); st.Position != 2 {
			t.Errorf("%s at position %d, want 2", h.Name, st.Position)
		}
	}
	s.keys("D")
	s.waitFor("0 of 2 hosts drifted")
	s.keys("q")
}

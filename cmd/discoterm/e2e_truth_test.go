package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// pushRow finds a host's row in the Push view: its status words, the
// position it reports and the detail after it.
var pushRowRE = regexp.MustCompile(`^[› ] (node\d+)\s+(done|failed|cancelled|not started|up to date|applying \d+/\d+|waiting|stale|unreachable)\s+(\d+)\s*(?:\d+/\d+)?\s*(.*)$`)

type pushScreenRow struct {
	status string
	at     string
	detail string
}

func pushRows(screen string) map[string]pushScreenRow {
	out := map[string]pushScreenRow{}
	for _, l := range strings.Split(screen, "\n") {
		if m := pushRowRE.FindStringSubmatch(strings.TrimRight(l, " ")); m != nil {
			out[m[1]] = pushScreenRow{status: m[2], at: m[3], detail: m[4]}
		}
	}
	return out
}

// waitUntil polls the screen until ok says so.
func (s *tui) waitUntil(what string, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sc := s.screen()
		if ok(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %s; it shows:\n%s", what, sc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTUICancelledPushTellsWhatHappened cancels a push mid-way in a real
// terminal and compares every host's row with its own state file: one host
// failed with exit 3, two were stopped after the entry they were on, one
// finished, one was never started, one was up to date all along. Esc on
// the Push view leaves the push running; the push is of a plan that was
// not on screen (:push ID).
func TestTUICancelledPushTellsWhatHappened(t *testing.T) {
	rg := newRig(t, 6)
	rg.flags = append(rg.flags, "--parallel", "2")
	rg.setup()
	host := func(n int) *testfleet.Host { return rg.fleet.Hosts[n-1] }
	for n, marker := range map[int]string{1: "/etc/fail-here", 2: "/etc/slow-here", 4: "/etc/slow-here"} {
		if err := host(n).WriteFile(marker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// seq 1 everywhere; then seq 2 (the exec) and 3 on node6 only.
	rg.must("--batch", "lock", "main", "truth")
	rg.must("--batch", "snap", rg.write("one", "one\n"), "--to", "/etc/e2e-one")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", "--keep-lock", id)
	rg.must("--batch", "push", id)
	rg.must("--batch", "exec", "--", "if [ -e /etc/fail-here ]; then echo failing; exit 3; fi; if [ -e /etc/slow-here ]; then sleep 3; fi; true")
	rg.must("--batch", "snap", rg.write("three", "three\n"), "--to", "/etc/e2e-three")
	id = planID(t, rg.must("--batch", "--json", "plan", "node6"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)
	id = planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)

	s := rg.startTUI(150, 40, "--no-scan", "--theme", "dark")
	s.waitFor("node6")
	s.keys(":")
	s.typeText("push " + id)
	s.keys("Enter")
	s.waitFor("Push plan " + id + "?")
	s.keys("y")
	// node1 failed, node3 done; node2 and node4 sleep in seq 2; node5 waits.
	s.waitUntil("node2 and node4 applying, node5 waiting", func(sc string) bool {
		r := pushRows(sc)
		return r["node1"].status == "failed" && r["node3"].status == "done" &&
			strings.HasPrefix(r["node2"].status, "applying") && strings.HasPrefix(r["node4"].status, "applying") && r["node5"].status == "waiting"
	})
	s.keys("Escape")
	time.Sleep(300 * time.Millisecond)
	if sc := s.screen(); !strings.Contains(sc, "running — x stops it") || strings.Contains(sc, "cancelling") {
		t.Fatalf("esc on the Push view changed the push:\n%s", sc)
	}
	s.keys("x")
	sc := s.waitFor("Stop push " + id + "?")
	for _, want := range []string{"Applying now: node2 (1/2), node4 (1/2)", "1 waiting host will not be started", "Already applied and kept"} {
		if !strings.Contains(sc, want) {
			t.Errorf("stop dialog lacks %q:\n%s", want, sc)
		}
	}
	s.keys("y")
	sc = s.waitFor("· finished")

	rows := pushRows(sc)
	want := map[string]struct{ status, detail string }{
		"node1": {"failed", "failed (exit 3) at seq 2"},
		"node2": {"cancelled", "cancelled before seq 3 (applied up to 2)"},
		"node3": {"done", ""},
		"node4": {"cancelled", "cancelled before seq 3 (applied up to 2)"},
		"node5": {"not started", "not started"},
		"node6": {"up to date", ""},
	}
	for _, h := range rg.fleet.Hosts {
		got, w := rows[h.Name], want[h.Name]
		st := rg.hostState(h)
		if got.status != w.status || !strings.Contains(got.detail, w.detail) {
			t.Errorf("%s: row says %q %q, want %q %q", h.Name, got.status, got.detail, w.status, w.detail)
		}
		if got.at != fmt.Sprint(st.Position) {
			t.Errorf("%s: row says position %s, its state file %d", h.Name, got.at, st.Position)
		}
	}
	// Hosts the push never touched keep their last result.
	s.keys("1")
	sc = s.waitFor("LAST RESULT")
	for _, l := range strings.Split(sc, "\n") {
		if (strings.Contains(l, "node5") || strings.Contains(l, "node6")) && strings.Contains(l, "cancelled") {
			t.Errorf("an untouched host shows cancelled: %q", l)
		}
	}
	// A plan that does not exist is an answer too.
	s.keys(":")
	s.typeText("push p00000000")
	s.keys("Enter")
	s.waitFor(`no plan "p00000000"`)
	if t.Failed() {
		t.Logf("screen:\n%s", sc)
	}
	s.keys("q")
}

// TestTUILostHostDoesNotHoldUpThePlan: a host the scanner marked lost is
// skipped by a plan of the branch, named on screen; planning it by name
// shows the others' results at once and names the host awaited.
func TestTUILostHostDoesNotHoldUpThePlan(t *testing.T) {
	rg := newRig(t, 3)
	rg.write("main.cf", "DEFAULT\n    BRANCH = main\n")
	rg.flags = append(rg.flags, "--class", filepath.Join(rg.dir, "main.cf"), "--iface", rg.fleet.Bridge)
	lost := rg.fleet.Hosts[2]
	// One scan sees every host, then node3's link goes down and the same
	// scanner marks it lost.
	go func() {
		time.Sleep(2500 * time.Millisecond)
		if err := lost.Down(); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { _ = lost.Up() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := rg.runCtx(ctx, "--batch", "--json", "scan", "--for", "9s", "--interval", "250ms")
	if r.code != 0 || !strings.Contains(r.stdout, `"lost"`) {
		t.Fatalf("the scan did not mark %s lost: %s", lost.Name, r)
	}
	rg.must("--batch", "lock", "main", "lost host")
	rg.must("--batch", "snap", rg.write("motd", "hello\n"), "--to", "/etc/motd")

	s := rg.startTUI(120, 30, "--no-scan", "--theme", "dark")
	s.waitFor("lost")
	start := time.Now()
	s.keys("p")
	sc := s.waitFor("skipped " + lost.Name + ": the scanner marked it lost")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the plan took %v with one host lost", d)
	}
	if !strings.Contains(sc, "2 would change") {
		t.Errorf("the others' results are not in the review:\n%s", sc)
	}
	// Named, it is planned: the others answer at once, it is awaited by name.
	s.keys(":")
	s.typeText("plan node1 node2 " + lost.Name)
	start = time.Now()
	s.keys("Enter")
	sc = s.waitUntil("node1 and node2 answered, node3 awaited", func(sc string) bool {
		return strings.Contains(sc, "waiting for 1 host:") && strings.Contains(sc, lost.Name+" ") && strings.Contains(sc, "2/3 hosts answered")
	})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the answers of node1 and node2 took %v", d)
	}
	// The review grows as hosts answer: node1's and node2's diff is on
	// screen, grouped, while node3 is still awaited.
	sc = s.waitUntil("the others' diff in the review before the plan ends", func(sc string) bool {
		return strings.Contains(sc, "×2: node1, node2") && strings.Contains(sc, "+hello")
	})
	if !strings.Contains(sc, "waiting for 1 host:") || strings.Contains(sc, "could not be planned") {
		t.Fatalf("the diff came only when the plan ended:\n%s", sc)
	}
	// A partial review cannot be approved, and says so.
	s.keys("a")
	sc = s.waitFor("still running")
	if strings.Contains(sc, "Approve plan") {
		t.Errorf("a partial plan was offered for approval:\n%s", sc)
	}
	sc = s.waitFor("could not be planned")
	if strings.Contains(sc, "‹") {
		t.Errorf("the error shows a template:\n%s", sc)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a lost host held the plan %v (connect timeout is 4s)", d)
	}
	s.keys("q")
}

// TestStagingAgainstAnotherOperatorsLock: staging while someone else holds
// the only branch's lock exits 4 (the README's table) naming the holder,
// and the advice it gives works when followed.
func TestStagingAgainstAnotherOperatorsLock(t *testing.T) {
	rg := &rig{t: t, dir: t.TempDir()}
	rg.flags = []string{"--store", filepath.Join(rg.dir, "s.db")}
	rg.must("--operator", "alice@jump1", "--batch", "lock", "main", "alice's change")
	r := rg.run("--operator", "bob@jump2", "--batch", "exec", "--", "true")
	if r.code != exitLockHeld || !strings.Contains(r.stderr, "locked by alice@jump1") || !strings.Contains(r.stderr, "unlock main --force") {
		t.Fatalf("staging under alice's lock: %s", r)
	}
	if strings.Contains(r.stderr, "usage") {
		t.Errorf("the error names an error class: %s", r.stderr)
	}
	// The advice, followed.
	rg.must("--operator", "bob@jump2", "--batch", "unlock", "main", "--force")
	rg.must("--operator", "bob@jump2", "--batch", "lock", "main", "bob's change")
	rg.must("--operator", "bob@jump2", "--batch", "exec", "--", "true")
}

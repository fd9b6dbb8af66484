package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// Issue 11 on real hosts, beyond TestWavesStopOnFleet: --alive-within,
// a host that vanishes mid-push, --pause, --confirm in a terminal, and
// catch-up repairing drift.

// stagedPlan stages one file entry under a fresh lock and returns its
// approved plan's id.
func (rg *rig) stagedPlan(name, content, path string) string {
	rg.t.Helper()
	rg.must("--batch", "lock", "main", "rollout "+name)
	rg.must("--batch", "snap", rg.write(name, content), "--to", path)
	id := planID(rg.t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	return id
}

// untouched checks that a push never reached a host: no file, no state.
func (rg *rig) untouched(h *testfleet.Host, path string) {
	rg.t.Helper()
	if got := rg.hostFile(h, path); !strings.HasPrefix(got, "<") {
		rg.t.Errorf("%s should be untouched but has %s: %q", h.Name, path, got)
	}
	if _, err := h.ReadFile("/var/lib/discoterm/state"); err == nil {
		rg.t.Errorf("%s should be untouched but has a state file", h.Name)
	}
}

// pushStatus is each host's status in a push's JSON lines.
func pushStatus(t *testing.T, r result) (status, errs map[string]string) {
	t.Helper()
	status, errs = map[string]string{}, map[string]string{}
	for _, h := range r.lines(t, "push.host") {
		status[h["name"].(string)] = h["status"].(string)
		errs[h["name"].(string)], _ = h["error"].(string)
	}
	return status, errs
}

// TestPushAliveWithinOnFleet: a host the store last saw alive longer ago
// than --alive-within is not started, and the push says so and why; the
// hosts seen since are pushed.
func TestPushAliveWithinOnFleet(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	const path = "/etc/discoterm-alive.conf"
	id := rg.stagedPlan("alive.conf", "alive\n", path)
	time.Sleep(6 * time.Second)
	// A plan of two of them is a successful connect: seen alive now.
	rg.must("--batch", "plan", "node1", "node2")
	r := rg.run("--batch", "--json", "push", id, "--alive-within", "4s")
	status, errs := pushStatus(t, r)
	if status["node1"] != "done" || status["node2"] != "done" || status["node3"] != "not-started" {
		t.Fatalf("statuses %v: %s", status, r)
	}
	if !regexp.MustCompile(`^not started: not seen alive within --alive-within 4s \(last [6-9]s ago\); scan, then re-plan$`).MatchString(errs["node3"]) {
		t.Errorf("node3's reason: %q", errs["node3"])
	}
	if r.code != exitHostsFail {
		t.Errorf("a push that left a host out exits %d, want 3: %s", r.code, r)
	}
	for _, h := range rg.fleet.Hosts[:2] {
		if got, pos := rg.hostFile(h, path), rg.hostState(h).Position; got != "alive\n" || pos != 1 {
			t.Errorf("%s: %q at position %d", h.Name, got, pos)
		}
	}
	rg.untouched(rg.fleet.Hosts[2], path)
	// Seen alive again (its new plan), it is admitted.
	id = planID(t, rg.must("--batch", "--json", "plan", "node3"))
	rg.must("--batch", "approve", id)
	if r := rg.run("--batch", "--json", "push", id, "--alive-within", "4s"); r.code != 0 {
		t.Errorf("push to node3 once seen: %s", r)
	}
	if got := rg.hostFile(rg.fleet.Hosts[2], path); got != "alive\n" {
		t.Errorf("node3 after it was seen: %q", got)
	}
}

// pushLine is one JSON line of a running push and when it was read.
type pushLine struct {
	at time.Time
	m  map[string]any
}

// TestPushPauseAndVanishOnFleet: --canary 1 --wave 1 --max-fail 0
// --pause 3s on 3 hosts. During the pause after the canary the second
// host's sshd stops: it was admitted (seen alive) but does not answer, so
// it counts as failed, and the push stops before the third, untouched.
// The pause lasts at least its 3 s.
func TestPushPauseAndVanishOnFleet(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	const path = "/etc/discoterm-pause.conf"
	id := rg.stagedPlan("pause.conf", "paused\n", path)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(append([]string{}, rg.flags...),
		"--batch", "--json", "push", id, "--canary", "1", "--wave", "1", "--max-fail", "0", "--pause", "3s", "--alive-within", "1m")...)
	cmd.Env = append(os.Environ(), "HOME="+rg.dir, "SSH_AUTH_SOCK=")
	cmd.Dir = rg.dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []pushLine
	vanished := rg.fleet.Hosts[1]
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		lines = append(lines, pushLine{time.Now(), m})
		if m["type"] == "push.wave" && m["state"] == "paused" && m["wave"] == float64(2) {
			if err := vanished.StopSSHD(); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	var all []string
	var paused, started2 time.Time
	var waves []string
	var stop map[string]any
	status := map[string]string{}
	for _, l := range lines {
		b, _ := json.Marshal(l.m)
		all = append(all, string(b))
		switch l.m["type"] {
		case "push.wave":
			waves = append(waves, fmt.Sprintf("%v %v %v", l.m["wave"], l.m["state"], l.m["failed_total"]))
			switch {
			case l.m["state"] == "paused" && l.m["wave"] == float64(2):
				paused = l.at
			case l.m["state"] == "started" && l.m["wave"] == float64(2):
				started2 = l.at
			case l.m["state"] == "stopped":
				stop = l.m
			}
		case "push.host":
			status[l.m["name"].(string)] = l.m["status"].(string)
		}
	}
	out := strings.Join(all, "\n") + "\nstderr:\n" + stderr.String()
	if code != exitHostsFail {
		t.Errorf("exit %d, want 3 (stopped by the threshold):\n%s", code, out)
	}
	want := "1 started 0,1 ended 0,2 paused 0,2 started 0,2 ended 1,3 stopped 1"
	if strings.Join(waves, ",") != want {
		t.Errorf("waves %q, want %q:\n%s", strings.Join(waves, ","), want, out)
	}
	if paused.IsZero() || started2.Sub(paused) < 2900*time.Millisecond {
		t.Errorf("wave 2 started %s after the pause began, want ≥ 3s:\n%s", started2.Sub(paused), out)
	}
	if status["node1"] != "done" || status["node2"] != "unreachable" || status["node3"] != "not-started" {
		t.Errorf("statuses %v:\n%s", status, out)
	}
	if stop == nil || !strings.Contains(fmt.Sprint(stop["reason"]), "more than --max-fail 0") || fmt.Sprint(stop["not_started"]) != "[node3]" {
		t.Errorf("stop line %v", stop)
	}
	if got := rg.hostFile(rg.fleet.Hosts[0], path); got != "paused\n" {
		t.Errorf("node1 (canary): %q", got)
	}
	rg.untouched(rg.fleet.Hosts[2], path)
}

// TestPushConfirmInTerminal: batch push --confirm asks on the terminal
// before each wave after the first; y starts it, n stops the push there
// (exit 3) and the hosts of the waves not started are untouched.
func TestPushConfirmInTerminal(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	const path = "/etc/discoterm-confirm.conf"
	id := rg.stagedPlan("confirm.conf", "confirmed\n", path)
	s := rg.startTerm(200, 50, "--batch", "push", id, "--canary", "1", "--wave", "1", "--confirm")
	s.waitFor("start wave 2 of 3 (1 host)? [y/N]")
	if got := rg.hostFile(rg.fleet.Hosts[1], path); !strings.HasPrefix(got, "<") {
		t.Fatalf("node2 pushed before it was confirmed: %q", got)
	}
	s.typeText("y")
	s.keys("Enter")
	s.waitFor("start wave 3 of 3 (1 host)? [y/N]")
	if got := rg.hostFile(rg.fleet.Hosts[1], path); got != "confirmed\n" {
		t.Fatalf("node2 after y: %q", got)
	}
	s.typeText("n")
	s.keys("Enter")
	sc := s.waitFor("exit=")
	if !strings.Contains(sc, "exit=3") || !strings.Contains(sc, "push "+id+" stopped by alice@jump (via root) after wave 2 of 3; not started: node3") {
		t.Errorf("after n:\n%s", sc)
	}
	rg.untouched(rg.fleet.Hosts[2], path)
}

// startTerm runs one batch command in a terminal (tmux), so it can ask;
// the pane ends with "exit=CODE".
func (rg *rig) startTerm(cols, rows int, args ...string) *tui {
	rg.t.Helper()
	return rg.startTmux("dt-term", "", "; echo exit=$?", cols, rows, args...)
}

// TestCatchUpRepairsDriftOnFleet: policy main --catch-up on --repair on.
// node1 was hand-edited and is behind the head; when the scanner sees it
// its catch-up pushes the new entry and then puts the journal's version
// of the edited file back, position and all. node2, behind too but not
// edited, only catches up.
func TestCatchUpRepairsDriftOnFleet(t *testing.T) {
	rg := newRig(t, 2)
	rg.write("main.cf", "DEFAULT\n    BRANCH = main\n")
	rg.flags = append(rg.flags, "--class", filepath.Join(rg.dir, "main.cf"), "--iface", rg.fleet.Bridge)
	rg.must("--batch", "scan")
	const managed, next = "/etc/discoterm-managed.conf", "/etc/discoterm-next.conf"
	id := rg.stagedPlan("managed.conf", "managed = yes\n", managed)
	rg.must("--batch", "push", id)
	edited := rg.fleet.Hosts[0]
	if out, err := edited.Exec(context.Background(), "sh", "-c", "printf 'managed = by hand\\n' > "+managed); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	rg.stagedPlan("next.conf", "next\n", next) // committed, not pushed: both hosts behind
	rg.must("--batch", "policy", "main", "--catch-up", "on", "--parallel-catch-up", "2", "--repair", "on")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stdout, stderr, stop := rg.watchScan(ctx)
	var seen []string
	caught := map[string]bool{}
	repaired := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(caught) < 2 {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		seen = append(seen, sc.Text())
		msg, _ := ev["message"].(string)
		switch {
		case ev["type"] == "log" && strings.HasSuffix(msg, "caught up on main"):
			caught[fmt.Sprint(ev["host"])] = true
		case ev["type"] == "log" && strings.HasPrefix(msg, "repaired drift on 1 host of main"):
			repaired++
		}
	}
	stop()
	if len(caught) != 2 {
		t.Fatalf("caught up: %v\nevents:\n%s\nstderr:\n%s", caught, strings.Join(seen, "\n"), stderr.String())
	}
	if repaired != 1 {
		t.Errorf("%d repairs announced, want 1 (node1's):\n%s", repaired, strings.Join(seen, "\n"))
	}
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, managed); got != "managed = yes\n" {
			t.Errorf("%s %s = %q, want the journal's version back", h.Name, managed, got)
		}
		if got := rg.hostFile(h, next); got != "next\n" {
			t.Errorf("%s %s = %q", h.Name, next, got)
		}
		if st := rg.hostState(h); st.Position != 2 {
			t.Errorf("%s at position %d, want 2", h.Name, st.Position)
		}
	}
	if r := rg.run("--batch", "drift"); r.code != 0 || !strings.Contains(r.stdout, "0 of 2 hosts drifted") {
		t.Errorf("drift after the catch-up: %s", r)
	}
}

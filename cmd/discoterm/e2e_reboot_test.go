package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// sdUnitFiles lists discoterm's unit files (and enablement links) in a
// host's /etc/systemd/system.
func sdUnitFiles(t *testing.T, h *testfleet.Host) string {
	t.Helper()
	return sdExec(t, h, "cd /etc/systemd/system 2>/dev/null && ls -d discoterm-* */discoterm-* 2>/dev/null || true")
}

// TestPrepareTimerSurvivesReboot: a systemd host rebooted between prepare
// and its window (a new PID 1, /run lost) still has the prepared push's
// timer armed after boot — unit files in /etc/systemd/system, root 0644,
// enabled under timers.target —; it fires at the window's start, the plan
// is applied, collect stores it, and no unit file or unit is left.
func TestPrepareTimerSurvivesReboot(t *testing.T) {
	// Mostly waiting for a window to open: it runs beside the other
	// waiting tests, after the sequential ones (TestPrepareThenApplyAtWindow
	// checks that no discoterm process runs, so it stays sequential).
	t.Parallel()
	testfleet.RequireSystemd(t)
	rg := newRigOpts(t, testfleet.Options{N: 1, Systemd: true})
	rg.setup()
	h := rg.fleet.Hosts[0]
	rg.must("--batch", "lock", "main", "prepared")
	rg.must("--batch", "snap", rg.write("motd", "after reboot\n"), "--to", "/etc/motd")
	rg.must("--batch", "exec", "--", "sh", "-c", "'date +%s > /var/tmp/applied-at'")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)

	start := nextMinuteWindow()
	rg.must("--batch", "policy", "main", "--window", windowAt(start, 10*time.Minute))
	r := rg.must("--batch", "--json", "push", id, "--prepare")
	if hs := r.lines(t, "push.host"); len(hs) != 1 || hs[0]["status"] != "prepared" {
		t.Fatalf("prepare: %v\n%s", hs, r)
	}
	unit := "discoterm-prepared-" + id
	want := unit + ".service\n" + unit + ".timer\ntimers.target.wants/" + unit + ".timer"
	if got := sdUnitFiles(t, h); got != want {
		t.Fatalf("unit files after prepare:\n%s\nwant:\n%s", got, want)
	}
	if got := sdExec(t, h, "cd /etc/systemd/system && stat -c '%a %U %G' "+unit+".service "+unit+".timer | sort -u"); got != "644 root root" {
		t.Errorf("unit files' mode and owner: %q, want 644 root root", got)
	}

	pid := h.Pid
	if err := h.Reboot(); err != nil {
		t.Fatal(err)
	}
	if time.Now().After(start) {
		t.Fatalf("prepare and reboot took past the window's start %s", start)
	}
	if h.Pid == pid || sdExec(t, h, "test -e /run/systemd/transient/"+unit+".timer && echo transient || echo no") != "no" {
		t.Fatalf("not rebooted (PID 1 %d, was %d)", h.Pid, pid)
	}
	lt := sdExec(t, h, "systemctl list-timers --all --no-legend "+unit+".timer")
	if !strings.Contains(lt, unit+".timer") || !strings.Contains(lt, start.Format("2006-01-02 15:04:05")) {
		t.Fatalf("after the reboot, list-timers %q, want %s.timer for %s", lt, unit, start.Format(time.DateTime))
	}
	t.Logf("after the reboot: %s", lt)
	if c := rg.must("--batch", "collect"); strings.Contains(c.stdout, "lost") {
		t.Errorf("collect before the window, after the reboot, says lost:\n%s", c.stdout)
	}

	waitRecorded(t, []*testfleet.Host{h}, id, start.Add(60*time.Second))
	if got := rg.hostFile(h, "/etc/motd"); got != "after reboot\n" {
		t.Errorf("at its window: motd %q", got)
	}
	at, _ := strconv.ParseInt(strings.TrimSpace(rg.hostFile(h, "/var/tmp/applied-at")), 10, 64)
	if at < start.Unix() || at > start.Unix()+5 {
		t.Errorf("applied at %d, the window opens at %d", at, start.Unix())
	}
	c := rg.must("--batch", "collect")
	if !strings.Contains(c.stdout, h.Name+": plan "+id+" done at position 2") {
		t.Errorf("collect does not report %s done:\n%s", h.Name, c.stdout)
	}
	if st := rg.hostState(h); st.Position != 2 {
		t.Errorf("position %d, want 2", st.Position)
	}
	if got := sdUnitFiles(t, h); got != "" {
		t.Errorf("unit files left after the run and collect: %q", got)
	}
	if got := sdUnits(t, h, "discoterm-*"); got != "" {
		t.Errorf("still loaded after the run and collect: %q", got)
	}
	if left := sdExec(t, h, "ls -A "+preparedDir+" 2>/dev/null || true"); left != "" {
		t.Errorf("%s holds %q after collect", preparedDir, left)
	}
}

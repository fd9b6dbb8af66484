package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// sdExec runs a shell command on a systemd fleet host and returns its
// trimmed output.
func sdExec(t *testing.T, h *testfleet.Host, script string) string {
	t.Helper()
	out, err := h.Exec(context.Background(), "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	return strings.TrimSpace(string(out))
}

// sdUnits lists the loaded units matching pattern (all states) on a host.
func sdUnits(t *testing.T, h *testfleet.Host, pattern string) string {
	t.Helper()
	return sdExec(t, h, "systemctl list-units --all --plain --no-legend '"+pattern+"' | awk '{print $1, $3, $4}'")
}

// TestPrepareTimerOnSystemdHost: on hosts whose PID 1 is systemd, push
// --prepare arms a systemd timer (not a detached waiter); it
// fires at the window's start, the plan runs in the timer's service
// (its cgroup says so), collect stores the result, and nothing of it
// stays loaded. cancel-prepared on the other host stops its timer and
// removes its unit files.
func TestPrepareTimerOnSystemdHost(t *testing.T) {
	// Mostly waiting for a window to open: it runs beside the other
	// waiting tests, after the sequential ones (TestPrepareThenApplyAtWindow
	// checks that no discoterm process runs, so it stays sequential).
	t.Parallel()
	testfleet.RequireSystemd(t)
	rg := newRigOpts(t, testfleet.Options{N: 2, Systemd: true})
	rg.setup()
	n1, n2 := rg.fleet.Hosts[0], rg.fleet.Hosts[1]
	rg.must("--batch", "lock", "main", "prepared")
	rg.must("--batch", "snap", rg.write("motd", "prepared\n"), "--to", "/etc/motd")
	rg.must("--batch", "exec", "--", "sh", "-c", "'date +%s > /var/tmp/applied-at; cat /proc/self/cgroup > /var/tmp/applied-cgroup'")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)

	start := nextMinuteWindow()
	rg.must("--batch", "policy", "main", "--window", windowAt(start, 10*time.Minute))
	r := rg.must("--batch", "--json", "push", id, "--prepare")
	for _, h := range r.lines(t, "push.host") {
		if h["status"] != "prepared" {
			t.Fatalf("prepare: %v\n%s", h, r)
		}
	}
	if time.Now().After(start) {
		t.Fatalf("preparing took past the window's start %s", start)
	}
	unit := "discoterm-prepared-" + id
	for _, h := range []*testfleet.Host{n1, n2} {
		if got := rg.hostFile(h, filepath.Join(preparedDir, id+".pid")); got != "timer\n" {
			t.Errorf("%s armed %q, want a systemd timer", h.Name, got)
		}
		lt := sdExec(t, h, "systemctl list-timers --all --no-legend "+unit+".timer")
		if !strings.Contains(lt, unit+".timer") || !strings.Contains(lt, start.Format("2006-01-02 15:04:05")) {
			t.Errorf("%s: list-timers %q, want %s.timer for %s", h.Name, lt, unit, start.Format(time.DateTime))
		}
		t.Logf("%s: %s", h.Name, lt)
		if got := sdExec(t, h, "ps -eo args | grep -c '^sh -c .*[w]aiter' || true"); got != "0" {
			t.Errorf("%s runs a detached waiter besides the timer: %s", h.Name, got)
		}
	}
	rg.must("--batch", "cancel-prepared", n2.Name)
	if got := sdUnits(t, n2, unit+".*"); got != "" {
		t.Errorf("%s: after cancel-prepared, still loaded: %q", n2.Name, got)
	}
	if got := sdUnitFiles(t, n2); got != "" {
		t.Errorf("%s: after cancel-prepared, unit files %q", n2.Name, got)
	}
	if got := sdUnitFiles(t, n1); !strings.Contains(got, unit+".timer") {
		t.Errorf("%s: unit files %q, want its timer's", n1.Name, got)
	}
	if left := sdExec(t, n2, "ls -A "+preparedDir+" 2>/dev/null || true"); left != "" {
		t.Errorf("%s: after cancel-prepared, %s holds %q", n2.Name, preparedDir, left)
	}

	waitRecorded(t, []*testfleet.Host{n1}, id, start.Add(60*time.Second))
	if got := rg.hostFile(n1, "/etc/motd"); got != "prepared\n" {
		t.Errorf("%s at its window: motd %q", n1.Name, got)
	}
	at, _ := strconv.ParseInt(strings.TrimSpace(rg.hostFile(n1, "/var/tmp/applied-at")), 10, 64)
	if at < start.Unix() || at > start.Unix()+5 {
		t.Errorf("%s applied at %d, the window opens at %d", n1.Name, at, start.Unix())
	}
	if cg := rg.hostFile(n1, "/var/tmp/applied-cgroup"); !strings.Contains(cg, "/system.slice/"+unit+".service") {
		t.Errorf("the plan did not run in the timer's service: /proc/self/cgroup:\n%s", cg)
	}
	if got := rg.hostFile(n2, "/etc/motd"); got == "prepared\n" {
		t.Errorf("%s applied a cancelled prepared push", n2.Name)
	}
	c := rg.must("--batch", "collect")
	if !strings.Contains(c.stdout, n1.Name+": plan "+id+" done at position 2") {
		t.Errorf("collect does not report %s done:\n%s", n1.Name, c.stdout)
	}
	if st := rg.hostState(n1); st.Position != 2 {
		t.Errorf("%s position %d, want 2", n1.Name, st.Position)
	}
	// Once it ran: its unit files are gone and nothing is loaded.
	if got := sdUnitFiles(t, n1); got != "" {
		t.Errorf("%s: unit files left after the window: %q", n1.Name, got)
	}
	if got := sdUnits(t, n1, "discoterm-*"); got != "" {
		t.Errorf("%s: still loaded after the window: %q", n1.Name, got)
	}
}

// TestMustComeBackSystemdUnit: on a host whose PID 1 is systemd, the
// revert of a push that locks the controller out is armed as a transient
// systemd timer and runs as its service, and puts the files back; a
// confirmed push stops its timer and leaves no unit behind.
func TestMustComeBackSystemdUnit(t *testing.T) {
	testfleet.RequireSystemd(t)
	rg := newRigOpts(t, testfleet.Options{N: 2, Systemd: true})
	rg.setup()
	n1, n2 := rg.fleet.Hosts[0], rg.fleet.Hosts[1]
	rg.must("--batch", "lock", "main", "base")
	rg.must("--batch", "snap", rg.write("base", "base\n"), "--to", "/etc/discoterm-base")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)

	const keys = "/root/.ssh/authorized_keys"
	keys0, meta0 := rg.hostFile(n1, keys), hostMeta(t, n1, keys)
	rg.must("--batch", "lock", "main", "rotate keys")
	rg.must("--batch", "snap", rg.write("keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBadKeyForTheTestOnlyBadKeyForTheTestOnly00 nobody\n"), "--to", keys, "--mode", "0600")
	rg.must("--batch", "snap", rg.write("app", "new\n"), "--to", "/etc/app-new.conf")
	id = planID(t, rg.must("--batch", "--json", "plan", n1.Name))
	rg.must("--batch", "approve", id)

	// While the push waits for a fresh connection that cannot come, the
	// host shows the revert's timer; the reverter is no detached process.
	seen := make(chan string, 1)
	stop := make(chan struct{})
	go func() {
		defer close(seen)
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, _ := n1.Exec(context.Background(), "sh", "-c", "systemctl list-timers --all --no-legend 'discoterm-revert-*'; cat /var/lib/discoterm/comeback/*/how 2>/dev/null")
			if s := strings.TrimSpace(string(out)); strings.Contains(s, "discoterm-revert-") {
				seen <- s
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	r := rg.run("--batch", "--json", "push", id, "--must-come-back", "3s")
	close(stop)
	armed := <-seen
	if r.code != exitHostsFail {
		t.Fatalf("push that locks us out: want exit 3: %s", r)
	}
	if hs := r.lines(t, "push.host"); len(hs) != 1 || hs[0]["status"] != "rolled-back" || !strings.Contains(hs[0]["error"].(string), "did not come back within 3s") {
		t.Fatalf("push.host = %v", hs)
	}
	t.Logf("armed on %s: %s", n1.Name, armed)
	if !strings.Contains(armed, ".timer") || !strings.HasSuffix(armed, "systemd") {
		t.Errorf("the revert was not armed as a systemd timer: %q", armed)
	}
	rg.waitPosition(n1, 1, 10*time.Second)
	if got := rg.hostFile(n1, keys); got != keys0 {
		t.Errorf("authorized_keys after the revert = %q, want %q", got, keys0)
	}
	if got := hostMeta(t, n1, keys); got != meta0 {
		t.Errorf("authorized_keys meta after the revert = %s, want %s", got, meta0)
	}
	if got := rg.hostFile(n1, "/etc/app-new.conf"); !strings.HasPrefix(got, "<") {
		t.Errorf("/etc/app-new.conf is still there: %q", got)
	}
	if left := comebackLeft(t, n1); left != "" {
		t.Errorf("left in comeback/: %s", left)
	}
	if got := sdUnits(t, n1, "discoterm-revert-*"); got != "" {
		t.Errorf("%s: revert units still loaded after it ran: %q", n1.Name, got)
	}

	// A good change on n2: confirmed; its timer is stopped and unloaded,
	// and the change stays past the deadline.
	rg.must("--batch", "lock", "main", "keys back")
	rg.must("--batch", "snap", rg.write("keys-good", keys0), "--to", keys, "--mode", "0600")
	rg.must("--batch", "snap", rg.write("good", "good\n"), "--to", "/etc/app-good.conf")
	id = planID(t, rg.must("--batch", "--json", "plan", n2.Name))
	rg.must("--batch", "approve", id)
	r = rg.must("--batch", "--json", "push", id, "--must-come-back", "3s")
	if hs := r.lines(t, "push.host"); len(hs) != 1 || hs[0]["status"] != "done" {
		t.Fatalf("good push: %v", hs)
	}
	if !strings.Contains(r.stdout, "came back: confirmed over a fresh SSH connection") {
		t.Errorf("no word of the confirmation:\n%s", r.stdout)
	}
	if got := sdUnits(t, n2, "discoterm-*"); got != "" {
		t.Errorf("%s: a confirmed push left units behind: %q", n2.Name, got)
	}
	if left := comebackLeft(t, n2); left != "" {
		t.Errorf("a confirmed push left an armed revert behind: %s", left)
	}
	time.Sleep(4 * time.Second)
	if got := rg.hostFile(n2, "/etc/app-good.conf"); got != "good\n" {
		t.Errorf("confirmed push undone: %q", got)
	}
}

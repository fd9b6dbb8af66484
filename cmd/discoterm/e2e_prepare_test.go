package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// accepted counts the SSH sessions a host's sshd accepted so far.
func accepted(t *testing.T, h *testfleet.Host) int {
	t.Helper()
	b, err := os.ReadFile(h.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "Accepted publickey")
}

// discotermRunning lists the processes running the binary under test.
func discotermRunning() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == binary {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestPrepareThenApplyAtWindow: a plan prepared on 10 fleet hosts for a
// window about a minute ahead is applied by each host at the window's
// start by its own clock, with no discoterm process running and no SSH
// connection from the controller until collect. Among them: a host
// changed by hand before the window applies nothing and records stale; a
// host whose waiter dies before the window (as at a reboot) is reported
// "prepare lost, re-prepare"; a host whose prepared program was tampered
// with applies nothing and records the hash mismatch; a host whose clock
// runs 20 s slow applies 20 s later than the others, at its own 02:00.
func TestPrepareThenApplyAtWindow(t *testing.T) {
	rg := newRig(t, 10)
	rg.setup()
	hs := rg.fleet.Hosts
	stale, lost, tampered, slow := hs[0], hs[1], hs[2], hs[3]
	good := hs[3:]
	// Only this host's private view of the filesystem gets the slow date.
	if out, err := slow.Exec(t.Context(), "sh", "-c", `mkdir -p /usr/local/bin && printf '#!/bin/sh\nexec /bin/date -d "-20 seconds" "$@"\n' > /usr/local/bin/date && chmod 755 /usr/local/bin/date`); err != nil {
		t.Fatalf("installing a slow date on %s: %v %s", slow.Name, err, out)
	}
	rg.must("--batch", "lock", "main", "prepared")
	rg.must("--batch", "snap", rg.write("motd", "prepared\n"), "--to", "/etc/motd")
	rg.must("--batch", "exec", "--", "date +%s > /var/tmp/applied-at")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)

	start := nextMinuteWindow()
	w := windowAt(start, 10*time.Minute)
	rg.must("--batch", "policy", "main", "--window", w)
	r := rg.must("--batch", "--json", "push", id, "--prepare")
	for _, h := range r.lines(t, "push.host") {
		if h["status"] != "prepared" {
			t.Fatalf("prepare: %v\n%s", h, r)
		}
	}
	if time.Now().After(start) {
		t.Fatalf("preparing took past the window's start %s", start)
	}
	sessions := map[string]int{}
	for _, h := range hs {
		sessions[h.Name] = accepted(t, h)
		if got := rg.hostFile(h, "/etc/motd"); got == "prepared\n" {
			t.Fatalf("%s applied before its window", h.Name)
		}
	}
	// Before the window, on the hosts themselves: a change by hand, a
	// waiter killed with its whole session (what a reboot does to it), a
	// prepared program changed.
	if out, err := stale.Exec(t.Context(), "sh", "-c", "echo by hand > /etc/motd"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	wp, err := strconv.Atoi(strings.TrimSpace(rg.hostFile(lost, filepath.Join(preparedDir, id+".pid"))))
	if err != nil || syscall.Kill(-wp, syscall.SIGKILL) != nil {
		t.Fatalf("killing %s's waiter %d: %v", lost.Name, wp, err)
	}
	if out, err := tampered.Exec(t.Context(), "sh", "-c", "echo 'echo owned > /etc/motd' >> "+filepath.Join(preparedDir, id+".sh")); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if ps := discotermRunning(); len(ps) > 0 {
		t.Fatalf("discoterm processes run between prepare and window: %v", ps)
	}
	out := filepath.Join(preparedDir, id+".out")
	waitRecorded(t, append([]*testfleet.Host{stale, tampered}, good...), id, start.Add(60*time.Second))
	// Nothing of the controller ran or connected meanwhile.
	if ps := discotermRunning(); len(ps) > 0 {
		t.Errorf("discoterm processes ran at the window: %v", ps)
	}
	for _, h := range hs {
		if n := accepted(t, h); n != sessions[h.Name] {
			t.Errorf("%s accepted %d SSH sessions between prepare and collect", h.Name, n-sessions[h.Name])
		}
	}
	for _, h := range good {
		if got := rg.hostFile(h, "/etc/motd"); got != "prepared\n" {
			t.Errorf("%s at its window: motd %q", h.Name, got)
		}
		// applied-at is the host's own clock; its mtime is the machine's.
		at, _ := strconv.ParseInt(strings.TrimSpace(rg.hostFile(h, "/var/tmp/applied-at")), 10, 64)
		if at < start.Unix() || at > start.Unix()+10 {
			t.Errorf("%s applied at %s by its clock, the window opens %s", h.Name, time.Unix(at, 0).UTC(), start)
		}
		fi, err := os.Stat(filepath.Join(rg.fleet.Dir, "fs", h.Name, "upper", "var/tmp/applied-at"))
		lag := 0 * time.Second
		if h == slow {
			lag = 20 * time.Second
		}
		if err != nil || fi.ModTime().Before(start.Add(lag-time.Second)) || fi.ModTime().After(start.Add(lag+10*time.Second)) {
			t.Errorf("%s applied at %v by the controller's clock, want %s + %v (%v)", h.Name, fi.ModTime().UTC(), start, lag, err)
		}
		if st := rg.hostState(h); st.Position != 2 {
			t.Errorf("%s position %d, want 2", h.Name, st.Position)
		}
	}
	// The stale and the tampered host had no state file and still have
	// none: nothing ran.
	for _, h := range []*testfleet.Host{stale, tampered, lost} {
		if _, err := h.ReadFile("/var/lib/discoterm/state"); err == nil {
			t.Errorf("%s has a state file after its window", h.Name)
		}
	}
	if got := rg.hostFile(stale, "/etc/motd"); got != "by hand\n" {
		t.Errorf("stale host's motd %q", got)
	}
	if got := rg.hostFile(tampered, "/etc/motd"); got == "owned\n" || got == "prepared\n" {
		t.Errorf("tampered host's motd %q", got)
	}
	if rec := rg.hostFile(stale, out); !strings.HasPrefix(rec, "STALE content") {
		t.Errorf("stale host recorded %q", rec)
	}
	if rec := rg.hostFile(tampered, out); !strings.HasPrefix(rec, "STALE tampered") {
		t.Errorf("tampered host recorded %q", rec)
	}

	c := rg.must("--batch", "collect")
	for _, h := range good {
		if !strings.Contains(c.stdout, h.Name+": plan "+id+" done at position 2") {
			t.Errorf("collect does not report %s done:\n%s", h.Name, c.stdout)
		}
	}
	for h, want := range map[*testfleet.Host]string{
		stale:    ": plan " + id + " stale",
		tampered: ": plan " + id + " stale at position 0: at its window: the prepared program was changed on the host (its sha256 no longer matches): nothing applied",
		lost:     ": plan " + id + " failed at position 0: prepare lost",
	} {
		if !strings.Contains(c.stdout, h.Name+want) {
			t.Errorf("collect does not report %s%s:\n%s", h.Name, want, c.stdout)
		}
	}
	if !strings.Contains(c.stdout, "re-prepare") {
		t.Errorf("collect does not say to re-prepare the lost host:\n%s", c.stdout)
	}
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		want, pos := "done", 2.0
		switch h["name"] {
		case stale.Name, tampered.Name:
			want, pos = "stale", 0
		case lost.Name:
			want, pos = "failed", 0
		}
		if h["last_result"] != want || h["position"] != pos {
			t.Errorf("%v after collect: last result %v position %v, want %s %v", h["name"], h["last_result"], h["position"], want, pos)
		}
	}
	ok := 0
	for _, res := range rg.must("--batch", "--json", "report").lines(t, "result") {
		if res["plan_id"] == id && res["result"] == "ok" {
			ok++
		}
	}
	if ok != 2*len(good) {
		t.Errorf("report: %d ok entries of plan %s, want %d (%d hosts × 2)", ok, id, 2*len(good), len(good))
	}
	for _, h := range hs {
		if left, _ := h.Exec(t.Context(), "sh", "-c", "ls -A "+preparedDir); strings.TrimSpace(string(left)) != "" {
			t.Errorf("%s still holds %q after collect", h.Name, left)
		}
	}
	if c := rg.must("--batch", "collect"); !strings.Contains(c.stdout, "no prepared pushes") {
		t.Errorf("second collect: %s", c.stdout)
	}
}

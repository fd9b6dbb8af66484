package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

const preparedDir = "/var/lib/discoterm/prepared"

// windowAt is a one-window policy string that opens at start (whole
// minutes, UTC) and lasts d.
func windowAt(start time.Time, d time.Duration) string {
	start = start.UTC()
	return start.Format("Mon 15:04") + "-" + start.Add(d).Format("15:04") + " UTC"
}

// nextMinuteWindow is the start of a window on the next minute boundary
// at least 25 s ahead: room to prepare before it opens.
func nextMinuteWindow() time.Time {
	now := time.Now().UTC()
	start := now.Truncate(time.Minute).Add(time.Minute)
	if start.Sub(now) < 25*time.Second {
		start = start.Add(time.Minute)
	}
	return start
}

// wantCollected checks that the report holds plan id's entry as ok on
// every host of rg, and that no host keeps a prepared copy after contact.
func wantCollected(t *testing.T, rg *rig, id, contact string) {
	t.Helper()
	ok := 0
	for _, res := range rg.must("--batch", "--json", "report").lines(t, "result") {
		if res["plan_id"] == id && res["result"] == "ok" {
			ok++
		}
	}
	if ok != len(rg.fleet.Hosts) {
		t.Errorf("report: %d ok entries of %s, want %d", ok, id, len(rg.fleet.Hosts))
	}
	for _, h := range rg.fleet.Hosts {
		if left, _ := h.Exec(t.Context(), "sh", "-c", "ls -A "+preparedDir); strings.TrimSpace(string(left)) != "" {
			t.Errorf("%s still holds %q after the %s collected it", h.Name, left, contact)
		}
	}
}

// waitRecorded waits until every host's waiter recorded plan id's reply.
func waitRecorded(t *testing.T, hosts []*testfleet.Host, id string, deadline time.Time) {
	t.Helper()
	for _, h := range hosts {
		for {
			if _, err := h.ReadFile(filepath.Join(preparedDir, id+".out")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s recorded nothing for %s by %s", h.Name, id, deadline.Format(time.TimeOnly))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// appliedInOpenWindow prepares a push of motd to every host of rg inside
// a window open now, waits until each host applied it on its own and
// checks that the store still knows only that they were prepared; it
// returns the plan's id.
func appliedInOpenWindow(t *testing.T, rg *rig, motd string) string {
	t.Helper()
	rg.setup()
	rg.must("--batch", "lock", "main", "contact")
	rg.must("--batch", "snap", rg.write("motd", motd), "--to", "/etc/motd")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "policy", "main", "--window", windowAt(time.Now().Add(-time.Minute), 30*time.Minute))
	for _, h := range rg.must("--batch", "--json", "push", id, "--prepare").lines(t, "push.host") {
		if h["status"] != "prepared" {
			t.Fatalf("prepare: %v", h)
		}
	}
	waitRecorded(t, rg.fleet.Hosts, id, time.Now().Add(30*time.Second))
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		if h["last_result"] != "prepared" {
			t.Fatalf("%v before contact: last result %v", h["name"], h["last_result"])
		}
	}
	return id
}

// TestPlanCollectsPrepared: hosts prepared inside an open window apply at
// once, on their own; the controller's next plan collects their results
// (stored like a push's, the copies removed) with no `collect`, and plans
// from where the hosts now are.
func TestPlanCollectsPrepared(t *testing.T) {
	rg := newRig(t, 2)
	id := appliedInOpenWindow(t, rg, "prepared\n")
	r := rg.must("--batch", "--json", "plan")
	for _, h := range r.lines(t, "plan.host") {
		if h["position"] != 1.0 {
			t.Errorf("the plan after the window sees %v at %v, want 1", h["host"], h["position"])
		}
	}
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		if h["last_result"] != "done" || h["position"] != 1.0 {
			t.Errorf("%v after the plan: last result %v position %v, want done 1", h["name"], h["last_result"], h["position"])
		}
		// When the host applied it, by its clock: inside the open window.
		ps, _ := h["prepared"].(map[string]any)
		at, err := time.Parse(time.RFC3339, fmt.Sprint(ps["at"]))
		if ps["state"] != "applied" || ps["plan"] != id || err != nil || time.Since(at) > time.Minute {
			t.Errorf("%v prepared state after the plan: %v", h["name"], ps)
		}
	}
	wantCollected(t, rg, id, "plan")
}

// TestLivePushDiscardsPrepared: a host prepared for a window hours ahead
// and then pushed live discards its prepared copy first: its waiter is
// gone, nothing is left to apply at the window, the live push applies.
func TestLivePushDiscardsPrepared(t *testing.T) {
	rg := newRig(t, 1)
	rg.setup()
	h := rg.fleet.Hosts[0]
	rg.must("--batch", "lock", "main", "discard")
	rg.must("--batch", "snap", rg.write("motd", "live\n"), "--to", "/etc/motd")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id, "--keep-lock")
	rg.must("--batch", "policy", "main", "--window", windowAt(time.Now().Add(3*time.Hour), time.Hour))
	rg.must("--batch", "push", id, "--prepare")
	pid, err := strconv.Atoi(strings.TrimSpace(rg.hostFile(h, filepath.Join(preparedDir, id+".pid"))))
	if err != nil || !alive(pid) {
		t.Fatalf("waiter of %s: pid %d (%v) alive %v", id, pid, err, alive(pid))
	}
	// A plan in between sees the prepared plan still waiting: kept.
	live := planID(t, rg.must("--batch", "--json", "plan"))
	if !alive(pid) {
		t.Fatal("planning disarmed a waiting prepared plan")
	}
	rg.must("--batch", "approve", live)
	rg.must("--batch", "--json", "push", live)
	discarded := false
	for _, res := range rg.must("--batch", "--json", "report").lines(t, "result") {
		discarded = discarded || (res["plan_id"] == id && res["result"] == "discarded")
	}
	if !discarded {
		t.Errorf("report does not record %s discarded on %s", id, h.Name)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the waiter %d of the discarded plan still runs", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left, _ := h.Exec(t.Context(), "sh", "-c", "ls -A "+preparedDir); strings.TrimSpace(string(left)) != "" {
		t.Errorf("%s still holds %q after the live push", h.Name, left)
	}
	if got := rg.hostFile(h, "/etc/motd"); got != "live\n" {
		t.Errorf("motd after the live push: %q", got)
	}
	if st := rg.hostState(h); st.Position != 1 {
		t.Errorf("position %d after the live push, want 1", st.Position)
	}
}

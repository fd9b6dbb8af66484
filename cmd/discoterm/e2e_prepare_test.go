package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPrepareThenApplyAtWindow: a plan prepared on fleet hosts for a
// window about a minute ahead is applied by each host at the window's
// start with no discoterm process running; a host changed by hand before
// the window applies nothing and records stale; collect stores it all.
func TestPrepareThenApplyAtWindow(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	stale := rg.fleet.Hosts[2]
	rg.must("--batch", "lock", "main", "prepared")
	rg.must("--batch", "snap", rg.write("motd", "prepared\n"), "--to", "/etc/motd")
	rg.must("--batch", "exec", "--", "date +%s > /var/tmp/applied-at")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)

	now := time.Now().UTC()
	start := now.Truncate(time.Minute).Add(time.Minute)
	if start.Sub(now) < 20*time.Second {
		start = start.Add(time.Minute) // room to prepare before it opens
	}
	w := fmt.Sprintf("%s-%s UTC", start.Format("Mon 15:04"), start.Add(10*time.Minute).Format("15:04"))
	rg.must("--batch", "policy", "main", "--window", w)
	r := rg.must("--batch", "--json", "push", id, "--prepare")
	for _, h := range r.lines(t, "push.host") {
		if h["status"] != "prepared" {
			t.Fatalf("prepare: %v\n%s", h, r)
		}
	}
	// Before the window: nothing applied, and one host changed by hand.
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/motd"); got == "prepared\n" {
			t.Fatalf("%s applied before its window", h.Name)
		}
	}
	if out, err := stale.Exec(t.Context(), "sh", "-c", "echo by hand > /etc/motd"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	// No discoterm process runs from here to collect: the hosts act alone.
	out := filepath.Join("/var/lib/discoterm/prepared", id+".out")
	deadline := start.Add(45 * time.Second)
	for _, h := range rg.fleet.Hosts {
		for {
			if _, err := h.ReadFile(out); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s recorded nothing by %s (window %s)", h.Name, deadline.Format(time.TimeOnly), w)
			}
			time.Sleep(time.Second)
		}
	}
	for _, h := range rg.fleet.Hosts[:2] {
		if got := rg.hostFile(h, "/etc/motd"); got != "prepared\n" {
			t.Errorf("%s at its window: motd %q", h.Name, got)
		}
		at, _ := strconv.ParseInt(strings.TrimSpace(rg.hostFile(h, "/var/tmp/applied-at")), 10, 64)
		if at < start.Unix() || at > start.Unix()+30 {
			t.Errorf("%s applied at %s, the window opens %s", h.Name, time.Unix(at, 0).UTC(), start)
		}
		if st := rg.hostState(h); st.Position != 2 {
			t.Errorf("%s position %d, want 2", h.Name, st.Position)
		}
	}
	// The stale host had no state file and still has none: nothing ran.
	if _, err := stale.ReadFile("/var/lib/discoterm/state"); err == nil || rg.hostFile(stale, "/etc/motd") != "by hand\n" {
		t.Errorf("stale host changed at its window: motd %q, state file read: %v", rg.hostFile(stale, "/etc/motd"), err)
	}
	if rec := rg.hostFile(stale, out); !strings.HasPrefix(rec, "STALE content") {
		t.Errorf("stale host recorded %q", rec)
	}

	c := rg.must("--batch", "collect")
	for _, h := range rg.fleet.Hosts[:2] {
		if !strings.Contains(c.stdout, h.Name+": plan "+id+" done at position 2") {
			t.Errorf("collect does not report %s done:\n%s", h.Name, c.stdout)
		}
	}
	if !strings.Contains(c.stdout, stale.Name+": plan "+id+" stale") {
		t.Errorf("collect does not report %s stale:\n%s", stale.Name, c.stdout)
	}
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		want, pos := "done", 2.0
		if h["name"] == stale.Name {
			want, pos = "stale", 0
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
	if ok != 4 {
		t.Errorf("report: %d ok entries of plan %s, want 4 (2 hosts × 2)", ok, id)
	}
	for _, h := range rg.fleet.Hosts {
		if _, err := h.ReadFile(out); err == nil {
			t.Errorf("%s still holds the collected copy", h.Name)
		}
	}
	if c := rg.must("--batch", "collect"); !strings.Contains(c.stdout, "no prepared pushes") {
		t.Errorf("second collect: %s", c.stdout)
	}
}

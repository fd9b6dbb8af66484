package main

import (
	"strings"
	"testing"
	"time"
)

// TestWindowsAndClockSkew on fleet hosts: up --yes outside the branch's
// window pushes nothing and says when the window opens (exit 6), --now
// pushes; a host whose clock runs 10 minutes ahead (its own date, as the
// probe reads it) is named in the plan with its skew.
func TestWindowsAndClockSkew(t *testing.T) {
	rg := newRig(t, 2)
	rg.setup()
	fast := rg.fleet.Hosts[1]
	// Only this host's private view of the filesystem gets the fast date.
	if out, err := fast.Exec(t.Context(), "sh", "-c", `mkdir -p /usr/local/bin && printf '#!/bin/sh\nexec /bin/date -d "+10 minutes" "$@"\n' > /usr/local/bin/date && chmod 755 /usr/local/bin/date`); err != nil {
		t.Fatalf("installing a fast date on %s: %v %s", fast.Name, err, out)
	}
	rg.must("--batch", "lock", "main", "windows")
	rg.must("--batch", "snap", rg.write("motd", "in the window\n"), "--to", "/etc/motd")
	r := rg.must("--batch", "--json", "plan")
	for _, h := range r.lines(t, "plan.host") {
		skew, _ := h["clock_skew_ns"].(float64)
		switch h["host"] {
		case fast.Name:
			if d := time.Duration(skew); d < 9*time.Minute || d > 11*time.Minute {
				t.Errorf("%s: clock skew %v, want about 10m", fast.Name, d)
			}
		default:
			if skew != 0 {
				t.Errorf("%v: clock skew %v, want none", h["host"], time.Duration(skew))
			}
		}
	}
	id := planID(t, r)
	// The host's clock has whole seconds: 9m59s or 10m0s.
	if text := rg.must("--batch", "plan").stdout; !strings.Contains(text, "! "+fast.Name+": its clock is ") || !strings.Contains(text, " ahead of this controller's") {
		t.Errorf("plan text does not name the skewed host:\n%s", text)
	}
	rg.must("--batch", "approve", id)

	// A window that is not open now: six hours from now, for an hour.
	at := time.Now().UTC().Add(6 * time.Hour)
	w := at.Format("Mon 15:04") + "-" + at.Add(time.Hour).Format("15:04") + " UTC"
	rg.must("--batch", "policy", "main", "--window", w)
	r = rg.run("--batch", "up", "--yes", "--branch", "main")
	if r.code != exitOutside || !strings.Contains(r.stderr, "outside its maintenance windows") || !strings.Contains(r.stderr, "--now") {
		t.Fatalf("up outside the window: %s", r)
	}
	if got := rg.hostFile(rg.fleet.Hosts[0], "/etc/motd"); got == "in the window\n" {
		t.Fatal("up outside the window changed a host")
	}
	if r := rg.must("--batch", "up", "--yes"); !strings.Contains(r.stdout, "outside its maintenance windows") {
		t.Errorf("up of every branch does not say why main was skipped: %s", r)
	}
	if r := rg.must("--batch", "hosts"); !strings.Contains(r.stdout, at.Format("Mon 15:04")+" UTC (in 5h") && !strings.Contains(r.stdout, at.Format("Mon 15:04")+" UTC (in 6h") {
		t.Errorf("hosts does not show the next window:\n%s", r.stdout)
	}
	rg.must("--batch", "up", "--yes", "--now", "--branch", "main")
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/motd"); got != "in the window\n" {
			t.Errorf("%s after up --now: %q", h.Name, got)
		}
	}
}

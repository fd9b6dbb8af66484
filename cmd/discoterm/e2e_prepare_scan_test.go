package main

import (
	"strings"
	"testing"
)

// TestScanCollectsPrepared: hosts prepared inside an open window apply on
// their own; the next scan that learns them collects their results —
// stored like a push's, the copies removed — with no `collect` and no
// plan.
func TestScanCollectsPrepared(t *testing.T) {
	rg := newRig(t, 2)
	id := appliedInOpenWindow(t, rg, "prepared by scan\n")
	scan := rg.must("--batch", "--json", "--iface", rg.fleet.Bridge, "scan")
	if n := strings.Count(scan.stdout, "prepared results collected"); n != 2 {
		t.Errorf("scan announced %d collections, want 2:\n%s", n, scan.stdout)
	}
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		ps, _ := h["prepared"].(map[string]any)
		if h["last_result"] != "done" || h["position"] != 1.0 || ps["state"] != "applied" || ps["plan"] != id {
			t.Errorf("%v after the scan: last result %v position %v prepared %v, want done 1 applied", h["name"], h["last_result"], h["position"], ps)
		}
	}
	wantCollected(t, rg, id, "scan")
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/motd"); got != "prepared by scan\n" {
			t.Errorf("%s /etc/motd %q", h.Name, got)
		}
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTUITrustSelected: T on a selection of scanned hosts lists every one
// of them — the two with unknown keys with their fingerprints and MACs,
// the one whose key contradicts known_hosts refused with the reason — and
// y trusts exactly the two, through the same engine call as trust.
func TestTUITrustSelected(t *testing.T) {
	rg := newRig(t, 3)
	n1, n2, n3 := rg.fleet.Hosts[0], rg.fleet.Hosts[1], rg.fleet.Hosts[2]
	// node3's addresses are known with another key: it presents a changed key.
	other := strings.Join(strings.Fields(n1.HostKey)[:2], " ")
	var kh strings.Builder
	for _, a := range []string{n3.ULA, n3.LinkLocal, n3.LinkLocal + "%" + rg.fleet.Bridge} {
		fmt.Fprintf(&kh, "%s %s\n", a, other)
	}
	khPath := filepath.Join(rg.dir, "known_hosts")
	if err := os.WriteFile(khPath, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	rg.flags = append(rg.flags, "--known-hosts", khPath, "--iface", rg.fleet.Bridge)
	s := rg.startTUI(160, 40)
	waitUntil(t, s, "two untrusted hosts and node3's changed key", func(sc string) bool {
		return strings.Count(sc, "untrusted") >= 2 && strings.Contains(sc, "HOST KEY OF")
	})
	s.keys("C-a")
	s.keys("T")
	sc := s.waitFor("Accept 2 host keys?")
	for _, h := range []string{n1.HostKeyFingerprint(), n2.HostKeyFingerprint(), "MAC " + n1.MAC, "MAC " + n2.MAC, "MAC " + n3.MAC} {
		if !strings.Contains(sc, h) {
			t.Errorf("the dialog does not show %s:\n%s", h, sc)
		}
	}
	if !strings.Contains(sc, "refused: it offered no key that can be accepted") || !strings.Contains(sc, "HAS CHANGED") {
		t.Errorf("the dialog does not refuse node3 with the reason:\n%s", sc)
	}
	s.keys("y")
	s.waitFor("trusted 2 hosts")
	s.keys("q")
	var r result
	for i := 0; i < 50; i++ { // until the console has exited and released the store
		if r = rg.run("--batch", "--json", "hosts"); r.code == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	trusted := map[string]bool{}
	for _, h := range r.lines(t, "host") {
		if h["trusted"] == true {
			trusted[h["host_key"].(string)] = true
		}
	}
	if len(trusted) != 2 || !trusted[n1.HostKeyFingerprint()] || !trusted[n2.HostKeyFingerprint()] {
		t.Errorf("trusted after T: %v\n%s", trusted, r)
	}
	b, _ := os.ReadFile(khPath)
	if strings.Contains(string(b), strings.Fields(n3.HostKey)[1]) {
		t.Errorf("node3's changed key was recorded:\n%s", b)
	}
}

// waitUntil waits for the screen to satisfy ok.
func waitUntil(t *testing.T, s *tui, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sc := s.screen()
		if ok(sc) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed %s; it shows:\n%s", what, sc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClonesAreHosts: ten machines cloned from one image share a
// machine-id but each has its own SSH host key: ten hosts, each warned
// about the duplicate, never merged into one.
func TestClonesAreHosts(t *testing.T) {
	rg := newRig(t, 10)
	mid := rg.fleet.Hosts[0].MachineID
	for _, h := range rg.fleet.Hosts {
		if err := h.WriteFile("/etc/machine-id", []byte(mid+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
		rg.must("--batch", "add-host", h.ULA)
	}
	r := rg.must("--batch", "--json", "hosts")
	hosts := r.lines(t, "host")
	if len(hosts) != 10 {
		t.Fatalf("ten clones added, %d hosts listed:\n%s", len(hosts), r)
	}
	keys := map[string]bool{}
	for _, h := range hosts {
		keys[h["host_key"].(string)] = true
		ws, _ := h["warnings"].([]any)
		if len(ws) != 1 || !strings.Contains(ws[0].(string), "duplicate machine-id "+mid) {
			t.Errorf("%v: warnings %v", h["name"], h["warnings"])
		}
	}
	if len(keys) != 10 {
		t.Errorf("%d distinct host keys among ten hosts", len(keys))
	}
	text := rg.must("--batch", "hosts").stdout
	if n := strings.Count(text, "warning: "); n != 10 || !strings.Contains(text, "duplicate machine-id") {
		t.Errorf("hosts text shows %d warnings:\n%s", n, text)
	}
	// Each clone is pushed to as itself.
	rg.must("--batch", "lock", "main", "clones")
	for _, h := range rg.fleet.Hosts {
		rg.must("--batch", "assign", h.ULA, "main")
	}
	rg.must("--batch", "template", rg.write("who", "{{.HOSTNAME}}\n"), "--to", "/etc/who")
	rg.must("--batch", "approve", planID(t, rg.must("--batch", "--json", "plan")))
	rg.must("--batch", "up", "--yes")
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/who"); got != h.Name+"\n" {
			t.Errorf("%s /etc/who = %q", h.Name, got)
		}
	}
}

// TestImpostorIsRefused: a second host answers with another host's MAC
// and machine-id but its own key. --accept-new does not accept it: it is
// refused like a changed key, naming the host it claims to be and both
// fingerprints; nothing is recorded, and a push to the real host never
// lands on the impostor.
func TestImpostorIsRefused(t *testing.T) {
	rg := newRig(t, 2)
	real, imp := rg.fleet.Hosts[0], rg.fleet.Hosts[1]
	kh := filepath.Join(rg.dir, "known_hosts")
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rg.flags = append(rg.flags, "--known-hosts", kh)
	rg.must("--batch", "--accept-new", "add-host", real.ULA)
	if err := imp.WriteFile("/etc/machine-id", []byte(real.MachineID+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	r := rg.run("--batch", "--accept-new", "add-host", imp.ULA)
	if r.code == 0 || !strings.Contains(r.stderr, "HAS CHANGED") || !strings.Contains(r.stderr, real.Name) ||
		!strings.Contains(r.stderr, real.HostKeyFingerprint()) || !strings.Contains(r.stderr, imp.HostKeyFingerprint()) {
		t.Fatalf("impostor add-host --accept-new: %s", r)
	}
	if b, _ := os.ReadFile(kh); strings.Contains(string(b), imp.ULA) {
		t.Fatalf("the impostor's key was recorded:\n%s", b)
	}
	hosts := rg.must("--batch", "--json", "hosts").lines(t, "host")
	if len(hosts) != 1 || hosts[0]["host_key"] != real.HostKeyFingerprint() || hosts[0]["addr"] != real.ULA {
		t.Fatalf("hosts after the impostor: %v", hosts)
	}

	// Now it also claims the real host's MAC on the link, and the scanner
	// sees it. The real host's record stays bound to its own key: whatever
	// address it is taken to answer at, the impostor is never written to.
	if _, err := imp.Exec(context.Background(), "ip", "link", "set", "dev", "eth0", "address", real.MAC); err != nil {
		t.Fatal(err)
	}
	rg.run("--batch", "--iface", rg.fleet.Bridge, "scan")
	rg.must("--batch", "lock", "main", "spoof")
	rg.must("--batch", "assign", real.Name, "main")
	rg.must("--batch", "snap", rg.write("f", "for the real host\n"), "--to", "/etc/spoof-target")
	p := rg.run("--batch", "--json", "plan")
	if len(p.lines(t, "plan")) == 1 {
		id := planID(t, p)
		rg.run("--batch", "approve", id)
		rg.run("--batch", "push", id)
	}
	if got := rg.hostFile(imp, "/etc/spoof-target"); !strings.HasPrefix(got, "<") {
		t.Fatalf("the impostor received the real host's push: %q", got)
	}
	var trusted []map[string]any
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		if h["trusted"] == true {
			trusted = append(trusted, h)
		}
	}
	if len(trusted) != 1 || trusted[0]["host_key"] != real.HostKeyFingerprint() || trusted[0]["machine_id"] != real.MachineID {
		t.Fatalf("trusted hosts after the MAC spoof: %v", trusted)
	}
}

// TestAcceptNewIsNotForScannedHosts: --accept-new trusts only addresses
// the operator named; a scan with it leaves new hosts untrusted.
func TestAcceptNewIsNotForScannedHosts(t *testing.T) {
	rg := newRig(t, 2)
	empty := filepath.Join(rg.dir, "empty_known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := rg.must("--known-hosts", empty, "--accept-new", "--batch", "--json", "--iface", rg.fleet.Bridge, "scan")
	for _, h := range r.lines(t, "host") {
		if h["trusted"] == true {
			t.Errorf("a scanned host was trusted on first use: %v", h)
		}
	}
	if b, _ := os.ReadFile(empty); len(b) != 0 {
		t.Errorf("scan --accept-new wrote known_hosts:\n%s", b)
	}
}

// TestTrustAllScanned: accepting scanned hosts in bulk is explicit and
// shows every fingerprint first; without --yes nothing is trusted.
func TestTrustAllScanned(t *testing.T) {
	rg := newRig(t, 2)
	kh := filepath.Join(rg.dir, "kh")
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rg.flags = append(rg.flags, "--known-hosts", kh, "--iface", rg.fleet.Bridge)
	rg.must("--batch", "scan")
	r := rg.run("--batch", "trust", "--all-scanned")
	for _, h := range rg.fleet.Hosts {
		if !strings.Contains(r.stdout+r.stderr, h.HostKeyFingerprint()) {
			t.Errorf("trust --all-scanned without --yes should show %s's fingerprint: %s", h.Name, r)
		}
	}
	if r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("trust --all-scanned in a script without --yes: %s", r)
	}
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		if h["trusted"] == true {
			t.Fatalf("trusted without --yes: %v", h)
		}
	}
	r = rg.must("--batch", "trust", "--all-scanned", "--yes")
	n := 0
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		if h["trusted"] == true {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d hosts trusted after trust --all-scanned --yes: %s", n, r)
	}
}

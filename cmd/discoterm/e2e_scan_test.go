package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestScanFindsAndLearnsHosts(t *testing.T) {
	rg := newRig(t, 3)
	r := rg.must("--batch", "--json", "--iface", rg.fleet.Bridge, "scan")
	hosts := r.lines(t, "host")
	byName := map[string]map[string]any{}
	for _, h := range hosts {
		if h["event"] != nil {
			continue // an event in the same host shape; the listing follows
		}
		byName[h["name"].(string)] = h
	}
	for _, fh := range rg.fleet.Hosts {
		h, ok := byName[fh.Name]
		if !ok {
			t.Fatalf("%s not found in the first round: %s", fh.Name, r)
		}
		if h["mac"] != fh.MAC || h["liveness"] != "alive" || h["id"] != "mid:"+fh.MachineID || h["trusted"] != true {
			t.Errorf("%s: %v", fh.Name, h)
		}
		if !strings.HasPrefix(h["addr"].(string), "fe80::") || !strings.HasSuffix(h["addr"].(string), "%"+rg.fleet.Bridge) {
			t.Errorf("%s address %v: want its link-local address on %s", fh.Name, h["addr"], rg.fleet.Bridge)
		}
	}
	if len(byName) != len(rg.fleet.Hosts) {
		t.Errorf("want exactly the fleet's %d hosts (never the scanning machine): %v", len(rg.fleet.Hosts), byName)
	}
}

func TestScanUntrustedHosts(t *testing.T) {
	rg := newRig(t, 2)
	empty := filepath.Join(rg.dir, "empty_known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := rg.must("--known-hosts", empty, "--batch", "--json", "--iface", rg.fleet.Bridge, "scan")
	var un []map[string]any
	for _, h := range r.lines(t, "host") {
		if h["event"] == "untrusted" {
			un = append(un, h)
		}
	}
	if len(un) != 2 {
		t.Fatalf("want 2 untrusted hosts: %s", r)
	}
	for _, u := range un {
		found := false
		for _, h := range rg.fleet.Hosts {
			if strings.Contains(u["message"].(string), h.HostKeyFingerprint()) && u["fingerprint"] == h.HostKeyFingerprint() && u["host_key"] == h.HostKeyFingerprint() {
				found = true
			}
		}
		if !found {
			t.Errorf("untrusted event without the host's fingerprint: %v", u)
		}
	}
}

// TestScanCatchUp: with the policy on, hosts seen alive and behind are
// pushed; a host taken down is reported lost after K rounds, alive again
// when it returns, and then caught up — its files and position on disk
// prove it.
func TestScanCatchUp(t *testing.T) {
	rg := newRig(t, 3)
	rg.write("main.cf", "DEFAULT\n    BRANCH = main\n")
	rg.flags = append(rg.flags, "--class", filepath.Join(rg.dir, "main.cf"), "--iface", rg.fleet.Bridge)
	rg.must("--batch", "scan") // learn the hosts
	rg.must("--batch", "lock", "main", "catch-up test")
	rg.must("--batch", "snap", rg.write("motd", "caught up\n"), "--to", "/etc/motd")
	rg.must("--batch", "approve", planID(t, rg.must("--batch", "--json", "plan")))
	rg.must("--batch", "policy", "main", "--catch-up", "on", "--parallel-catch-up", "2")
	late := rg.fleet.Hosts[2]
	if err := late.Down(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stdout, stderr, stop := rg.watchScan(ctx)
	var seen []string
	caught := map[string]bool{}
	lost, back := false, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !(caught[late.Name] && back) {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		seen = append(seen, sc.Text())
		msg, _ := ev["message"].(string)
		host, _ := ev["host"].(string)
		if ev["type"] == "host" {
			host, _ = ev["name"].(string)
		}
		switch {
		case ev["type"] == "host" && host == late.Name && ev["event"] == "lost":
			lost = true
			if err := late.Up(); err != nil {
				t.Fatal(err)
			}
		case ev["type"] == "host" && host == late.Name && ev["event"] == "alive" && lost:
			back = true
		case ev["type"] == "log" && strings.HasSuffix(msg, "caught up on main"):
			caught[host] = true
			if host == late.Name && !back {
				t.Errorf("%s caught up before it came back:\n%s", host, strings.Join(seen, "\n"))
			}
		}
	}
	stop()
	if !lost || !back || len(caught) != 3 {
		t.Fatalf("lost=%v back=%v caught=%v\nevents:\n%s\nstderr:\n%s", lost, back, caught, strings.Join(seen, "\n"), stderr.String())
	}
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/motd"); got != "caught up\n" {
			t.Errorf("%s motd = %q", h.Name, got)
		}
		if st := rg.hostState(h); st.Position != 1 || st.Branch != "main" {
			t.Errorf("%s state = %+v", h.Name, st)
		}
	}
}

// watchScan runs `scan --watch --interval 1s` (JSON) with rg's flags
// until ctx ends or the test does; it returns its output and what it said
// on stderr so far, and stop, which asks it to end (SIGINT).
func (rg *rig) watchScan(ctx context.Context) (stdout io.Reader, stderr *strings.Builder, stop func()) {
	rg.t.Helper()
	cmd := exec.CommandContext(ctx, binary, append(append([]string{}, rg.flags...), "--batch", "--json", "scan", "--watch", "--interval", "1s")...)
	cmd.Env = append(os.Environ(), "HOME="+rg.dir, "SSH_AUTH_SOCK=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		rg.t.Fatal(err)
	}
	stderr = &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		rg.t.Fatal(err)
	}
	rg.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return stdout, stderr, func() { _ = cmd.Process.Signal(syscall.SIGINT) }
}

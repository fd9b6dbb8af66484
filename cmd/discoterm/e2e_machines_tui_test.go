package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTUIMachines: the console's Machines view on a real fleet host
// registered as a netboot machine presenting the key made for it: the
// console's scan hands it over and the view shows it reach "position 1 of
// 1"; B starts the boot services on the link (the provision verb's
// engine call), X stops them.
func TestTUIMachines(t *testing.T) {
	rg := newRig(t, 1)
	empty := rg.write("known_hosts.empty", "")
	for i, f := range rg.flags {
		if f == "--known-hosts" {
			rg.flags[i+1] = empty
		}
	}
	rg.flags = append(rg.flags, "--iface", rg.fleet.Bridge)
	h := rg.fleet.Hosts[0]
	rg.must("--batch", "machine", "add", h.MAC, "--name", "web7", "--branch", "web")
	rg.must("--batch", "lock", "web", "netboot build")
	rg.must("--batch", "snap", rg.write("motd", "built by discoterm\n"), "--to", "/etc/motd")
	rg.must("--batch", "approve", planID(t, rg.must("--batch", "--json", "plan")))
	rg.must("--batch", "machine", "key", "web7")
	priv, err := os.ReadFile(filepath.Join(rg.dir, "netboot-keys", "web7"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetHostKey(priv); err != nil {
		t.Fatal(err)
	}
	ipRun(t, "addr", "add", "10.86.0.1/24", "dev", rg.fleet.Bridge)
	boot := bootDir(t, rg.dir, "debian")

	s := rg.startTUI(80, 24)
	s.waitFor("1 Hosts")
	s.keys("7")
	s.waitFor("Machines")
	s.waitFor("position 1 of 1")
	if got := rg.hostFile(h, "/etc/motd"); got != "built by discoterm\n" {
		t.Errorf("web7 motd = %q", got)
	}
	s.keys("B")
	s.waitFor(":provision --iface")
	s.typeText(rg.fleet.Bridge + " --boot-dir " + boot + " --http-port 18486 --force")
	s.keys("Enter")
	s.waitFor("boot services on " + rg.fleet.Bridge)
	s.waitFor("7 Machines ●")
	s.keys("X")
	s.waitFor("boot services off")
}

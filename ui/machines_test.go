package ui

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/machines"
	"github.com/discoterm/discoterm/ui/uitest"
)

// machinesFleet registers five machines at five stages, web7 with its
// boot history.
func machinesFleet(t *testing.T, f *uitest.Fake) {
	t.Helper()
	for i, name := range []string{"web7", "web8", "db1", "db2", "lab1"} {
		m := machines.Machine{MAC: net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, byte(i + 1)}, Name: name, IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(7 + i)}), Branch: "web", Boot: "debian"}
		if _, err := f.Machines().Add(m); err != nil {
			t.Fatal(err)
		}
	}
	f.Stages["web7"] = engine.MachineView{Stage: engine.StagePosition, Text: "position 2 of 2", Branch: "web", Position: 2, Head: 2}
	f.Stages["web8"] = engine.MachineView{Stage: engine.StageRefused, Text: "refused: another host key", Branch: "web",
		Detail: "HOST KEY OF MACHINE web8 IS NOT ITS OWN — the host at fe80::5054:ff:fe12:3402%br-boot answers with its MAC 52:54:00:12:34:02 but presented SHA256:3nx5OuHpTw, and machines/web8.machine registers that MAC with the key discoterm made for it, SHA256:VIDXAtx5Le; refusing it like a changed key"}
	f.Stages["db1"] = engine.MachineView{Stage: engine.StageKernel, Text: "kernel fetched"}
	f.Stages["db2"] = engine.MachineView{Stage: engine.StageNoSSHD, Text: "no sshd after 5m0s"}
	at := func(s int) engine.Header {
		return engine.Header{Time: uitest.Epoch.Add(time.Duration(s-600) * time.Second)}
	}
	f.Boots["web7"] = []engine.BootEvent{
		{Header: at(0), Service: "dhcp", Request: "DISCOVER", Answer: "OFFER", Addr: "10.0.0.7"},
		{Header: at(0), Service: "dhcp", Request: "REQUEST", Answer: "ACK", Addr: "10.0.0.7"},
		{Header: at(1), Service: "tftp", Request: "undionly.kpxe", Answer: "sent"},
		{Header: at(3), Service: "dhcp", Request: "DISCOVER", Answer: "OFFER", Addr: "10.0.0.7"},
		{Header: at(3), Service: "http", Request: "/boot/web7.ipxe", Answer: "200"},
		{Header: at(4), Service: "http", Request: "/profile/debian/kernel", Answer: "200"},
		{Header: at(5), Service: "http", Request: "/profile/debian/initrd", Answer: "200"},
		{Header: at(21), Service: "http", Request: "/key/web7/4f1c…", Answer: "200"},
	}
}

// TestGoldenMachines: the Machines view at 80×24 with every stage, the
// cursor's machine's boot history below, and a refusal's detail.
func TestGoldenMachines(t *testing.T) {
	d := newThemedDriver(t, uitest.Options{Hosts: 12, Entries: 12}, 80, 24, "dark")
	machinesFleet(t, d.f)
	shot := func(name string) {
		t.Run(name, func(t *testing.T) {
			golden.RequireEqual(t, render(t, d.m.View().Content, colorprofile.ANSI256))
		})
	}
	d.key("7")
	d.keys("down", "down", "down") // db1 db2 lab1 web7 web8, by name
	d.wantScreen("Machines", "5 machines", "boot services off (B starts)", "position 2 of 2", "refused: another host key", "no sshd after 5m0s", "kernel fetched",
		"web7: position 2 of 2 · 8 boot requests", "http /profile/debian/kernel → 200")
	shot("machines")
	d.key("down")
	d.wantScreen("web8: refused: another host key", "IS NOT ITS OWN")
	shot("refused")
	d.key("up")
	d.key("enter")
	d.wantScreen("Boot history of web7", "dhcp DISCOVER → OFFER 10.0.0.7")
	shot("history")
	d.key("esc")
	d.f.Emit(&engine.BootEvent{Header: engine.Header{Time: uitest.Epoch, Message: "discovered unknown machine 52:54:00:85:00:99 at 10.0.0.253: …"}, Service: "http",
		MAC: "52:54:00:85:00:99", Request: "/report", Answer: "200", Addr: "10.0.0.253",
		Hardware: map[string]string{"mac": "52:54:00:85:00:99", "cpu": "Xeon \x1b[2J E-2224", "mem_kb": "16318412"}})
	d.pump()
	d.wantScreen("discovered, not registered: 1", "52:54:00:85:00:99 at 10.0.0.253  cpu=Xeon")
	if strings.Contains(d.m.View().Content, "\x1b[2J") {
		t.Error("a discovery report reached the terminal unescaped")
	}
	shot("discovered")
	d.key("?")
	d.wantScreen("Machines view", "boot services on", "boot services off")
	shot("help")
}

// TestMachinesBootServices: B opens the ":" line with provision; the boot
// services run as a job (the same engine call as --batch provision) until
// X stops them; X with none running says why.
func TestMachinesBootServices(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 100, 30)
	machinesFleet(t, d.f)
	d.key("7")
	d.key("X")
	if !strings.Contains(d.flashText(), "the boot services do not run from this console") {
		t.Errorf("X with nothing running: %q", d.flashText())
	}
	d.async = []string{"runVerb"}
	d.key("B")
	if !d.m.input.active() || d.m.input.Value() != "provision --iface " {
		t.Fatalf("B: input %v %q", d.m.input.active(), d.m.input.Value())
	}
	d.typeText("br-boot --boot-dir /srv/tftp")
	d.key("enter")
	for deadline := time.Now().Add(5 * time.Second); !slices.Contains(d.f.Calls(), "Provision(br-boot)"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("provision never called: %q", d.f.Calls())
		}
	}
	d.wantScreen("boot services on br-boot (X stops)", "7 Machines ●")
	d.key("B")
	if !strings.Contains(d.flashText(), "run on br-boot already") {
		t.Errorf("B while running: %q", d.flashText())
	}
	d.key("X")
	d.await()
	d.wantScreen("boot services off (B starts)")
	if d.m.provisionJob != "" || len(d.m.jobs) != 0 {
		t.Errorf("after X: job %q, jobs %v", d.m.provisionJob, d.m.jobs)
	}
	// A stage moves live: a boot event makes the view read again.
	d.f.Stages["lab1"] = engine.MachineView{Stage: engine.StageDHCP, Text: "DHCP offered"}
	d.f.Emit(&engine.BootEvent{Header: engine.Header{Message: "dhcp: DISCOVER from lab1"}, Service: "dhcp", Machine: "lab1", Request: "DISCOVER", Answer: "OFFER"})
	d.pump()
	d.m.machinesRefresh.fired()
	d.send(refreshMsg{"machines"})
	d.wantScreen("DHCP offered")
}

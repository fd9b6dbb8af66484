package engine

import (
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/machines"
	"github.com/discoterm/discoterm/engine/provision"
	"github.com/discoterm/discoterm/store"
)

// TestMachineStage: each stage from the boot history and the host found
// with the machine's MAC; a host not seen since the machine's last DHCP
// answer has not come back from that boot.
func TestMachineStage(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ev := func(s int, service, req, answer string) BootEvent {
		return BootEvent{Header: Header{Time: at(s)}, Service: service, Request: req, Answer: answer}
	}
	dhcp := []BootEvent{ev(1, "dhcp", "DISCOVER", "OFFER"), ev(2, "dhcp", "REQUEST", "ACK"), ev(3, "tftp", "undionly.kpxe", "sent")}
	kernel := append(append([]BootEvent{}, dhcp...), ev(4, "http", "/boot/web7.ipxe", "200"), ev(5, "http", "/profile/debian/kernel", "200"))
	noSSHD := append(append([]BootEvent{}, kernel...), ev(305, sshdWatch, "sshd", "5m0s"))
	host := func(seen int, trusted bool, branch string, pos, head uint64, lastErr string) *HostView {
		return &HostView{Host: store.Host{ID: "mid:1", Trusted: trusted, LastSeen: at(seen), Position: pos, LastError: lastErr}, Branch: branch, Head: head}
	}
	for _, c := range []struct {
		name  string
		hist  []BootEvent
		host  *HostView
		stage string
		text  string
	}{
		{"never booted", nil, nil, StageRegistered, "registered"},
		{"failed kernel fetch is not a kernel", append(append([]BootEvent{}, dhcp...), ev(5, "http", "/profile/debian/kernel", "403")), nil, StageDHCP, "DHCP offered"},
		{"DHCP", dhcp, nil, StageDHCP, "DHCP offered"},
		{"kernel", kernel, nil, StageKernel, "kernel fetched"},
		{"no sshd", noSSHD, nil, StageNoSSHD, "no sshd after 5m0s"},
		{"sshd answers, not trusted", kernel, host(9, false, "", 0, 0, ""), StageSSHD, "sshd up"},
		{"on the link, SSH refused: no sshd yet", kernel, host(9, false, "", 0, 0, "dial tcp: connection refused"), StageKernel, "kernel fetched"},
		{"refused", kernel, host(9, false, "", 0, 0, "HOST KEY OF MACHINE web7 "+refusedMarker+" — …"), StageRefused, "refused: another host key"},
		{"trusted, no branch", kernel, host(9, true, "", 0, 0, ""), StageTrusted, "trusted"},
		{"catching up", kernel, host(9, true, "web", 1, 3, ""), StagePosition, "position 1 of 3"},
		{"caught up, no boot seen", nil, host(9, true, "web", 3, 3, ""), StagePosition, "position 3 of 3"},
		{"rebooted into netboot: the host is from before", append(append([]BootEvent{}, kernel...), ev(20, "dhcp", "DISCOVER", "OFFER")), host(9, true, "web", 3, 3, ""), StageDHCP, "DHCP offered"},
		{"a NAK starts no boot", append(append([]BootEvent{}, kernel...), ev(20, "dhcp", "REQUEST", "NAK")), nil, StageKernel, "kernel fetched"},
		{"a renewed lease is the same boot", append(append([]BootEvent{}, kernel...), ev(1800, "dhcp", "REQUEST", "ACK")), host(9, true, "web", 3, 3, ""), StagePosition, "position 3 of 3"},
	} {
		v := machineStage(machines.Machine{Name: "web7"}, c.hist, c.host)
		if v.Stage != c.stage || v.Text != c.text {
			t.Errorf("%s: stage %q %q, want %q %q", c.name, v.Stage, v.Text, c.stage, c.text)
		}
	}
	if v := machineStage(machines.Machine{Name: "web7"}, kernel, host(9, false, "", 0, 0, "dial tcp: connection refused")); v.Detail != "answers on the link, but SSH failed: dial tcp: connection refused" {
		t.Errorf("detail %q", v.Detail)
	}
	// Router solicitations (provision answers them, provision_ra.go) are
	// no boot step: not a boot start, no stage, not a boot request. Nor is
	// the booted system's own DHCP client a new boot (the VM's udhcpc).
	rs := func(s int) BootEvent { return ev(s, "ndp", "RS", "RA") }
	osOffer := func(s int) BootEvent {
		e := ev(s, "dhcp", "DISCOVER", "OFFER")
		e.Client = provision.ClientOS
		return e
	}
	osAck := func(s int) BootEvent { e := ev(s, "dhcp", "REQUEST", "ACK"); e.Client = provision.ClientOS; return e }
	unanswered := BootEvent{Header: Header{Time: at(31), Level: LevelWarn}, Service: "ndp", Request: "RS", Err: "sendmsg: no buffer space"}
	booted := append(append([]BootEvent{}, kernel...), rs(30), unanswered)
	for _, c := range []struct {
		name     string
		hist     []BootEvent
		host     *HostView
		stage    string
		boots    int
		lastBoot time.Time
	}{
		{"the booted OS's own DHCP lease is the same boot", append(append([]BootEvent{}, kernel...), osOffer(20), osAck(20)), nil, StageKernel, 1, at(20)},
		{"its firmware's next DISCOVER is a new boot", append(append([]BootEvent{}, kernel...), osOffer(20), ev(40, "dhcp", "DISCOVER", "OFFER")), nil, StageDHCP, 2, at(40)},
		{"an RS alone is no boot", []BootEvent{rs(1)}, nil, StageRegistered, 0, time.Time{}},
		{"iPXE's RS before its OFFER: the boot starts at the OFFER", append([]BootEvent{rs(0)}, dhcp...), nil, StageDHCP, 1, at(3)},
		{"the booted OS's RS: no progress, no request", booted, nil, StageKernel, 1, at(5)},
		{"an RS after the hand-over", append(append([]BootEvent{}, kernel...), rs(40)), host(9, true, "web", 3, 3, ""), StagePosition, 1, at(5)},
		{"no sshd: the clock runs from the last request, not the RS", append(append([]BootEvent{}, booted...), ev(305, sshdWatch, "sshd", "5m0s")), nil, StageNoSSHD, 1, at(5)},
	} {
		v := machineStage(machines.Machine{Name: "web7"}, c.hist, c.host)
		if v.Stage != c.stage || v.Boots != c.boots || !v.LastBoot.Equal(c.lastBoot) {
			t.Errorf("%s: stage %q, %d boots, last boot request %v; want %q, %d, %v", c.name, v.Stage, v.Boots, v.LastBoot, c.stage, c.boots, c.lastBoot)
		}
	}
	if v := machineStage(machines.Machine{Name: "web7"}, noSSHD, nil); !v.LastBoot.Equal(at(5)) || v.Boots != 1 {
		t.Errorf("last boot request %s, boots %d: want the kernel's time (the watch report is not a request) and 1", v.LastBoot, v.Boots)
	}
}

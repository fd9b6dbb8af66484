package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/machines"
	"github.com/discoterm/discoterm/engine/provision"
)

// The stages a netboot machine goes through, in order. Two are faults:
// StageNoSSHD (it booted but no sshd answered in time) and StageRefused
// (something answers with its MAC but not with its host key).
const (
	StageRegistered = "registered"
	StageDHCP       = "DHCP offered"
	StageKernel     = "kernel fetched"
	StageSSHD       = "sshd up"
	StageTrusted    = "trusted"
	StagePosition   = "position" // shown as "position N of M"
	StageNoSSHD     = "no sshd"  // shown as "no sshd after 5m0s"
	StageRefused    = "refused"
)

// MachineView is a registered machine with the stage it has reached,
// derived from its boot history and its host's state (machineStage).
type MachineView struct {
	Machine machines.Machine
	Stage   string // one of the Stage constants
	Text    string // the stage as shown: "position 2 of 3", "no sshd after 5m0s"
	Detail  string // why, for faults: the refusal with both fingerprints
	// LastBoot is the time of the last request of its current boot (zero
	// when it never asked); Boots counts the boots (DHCP offers) of its
	// history.
	LastBoot time.Time
	Boots    int
	// The host it became, once the scanner found it.
	HostID   string
	Branch   string
	Position uint64
	Head     uint64
}

// sshdWatch is the BootEvent service of the "no sshd after D" report.
const sshdWatch = "watch"

// provisionNDP is the BootEvent service of the router solicitations
// provision answers (provision_ra.go).
const provisionNDP = "ndp"

// machineStage derives a machine's stage from its boot history (oldest
// first) and the host found with its MAC (nil before the scanner found
// one). The current boot starts at its last DHCP offer: a host not seen
// since then has not come back from that boot yet.
func machineStage(m machines.Machine, hist []BootEvent, h *HostView) MachineView {
	v := MachineView{Machine: m, Stage: StageRegistered, Text: StageRegistered}
	// A boot starts with an OFFER (the answer to a DISCOVER) to boot
	// firmware; a lease renewed later (REQUEST, ACK), and the lease the
	// booted system's own DHCP client takes (Client "os": the initramfs's
	// udhcpc), are the same boot. (Histories from before Client was
	// recorded count every OFFER.)
	start := 0
	for i, ev := range hist {
		if ev.Service == "dhcp" && ev.Answer == "OFFER" && ev.Client != provision.ClientOS {
			start, v.Boots = i, v.Boots+1
		}
	}
	var dhcp, kernel bool
	var noSSHD *BootEvent
	cycle := time.Time{}
	if v.Boots > 0 {
		cycle = hist[start].Time
		for i := start; i < len(hist); i++ {
			ev := &hist[i]
			switch {
			case ev.Service == "dhcp" && ev.Answer != "" && ev.Answer != "NAK":
				dhcp = true
			case ev.Service == "http" && ev.Answer == "200" && strings.HasSuffix(ev.Request, "/"+provision.ProfileKernel):
				kernel = true
			case ev.Service == sshdWatch:
				noSSHD = ev
				continue
			case ev.Service == provisionNDP:
				// A router solicitation is link chatter, not a boot step:
				// iPXE sends one beside its DHCP (before or after the OFFER),
				// and the booted OS again on each link-up, also long after
				// its boot. It starts no boot, advances no stage and is no
				// boot request (the "no sshd after D" clock runs from the
				// last DHCP, TFTP or HTTP request).
				continue
			}
			v.LastBoot = ev.Time
		}
	}
	current := h != nil && !h.LastSeen.Before(cycle)
	if h != nil {
		v.HostID, v.Branch, v.Position, v.Head = h.ID, h.Branch, h.Position, h.Head
	}
	switch {
	case current && h.Trusted && v.Branch != "":
		v.Stage, v.Text = StagePosition, fmt.Sprintf("position %d of %d", h.Position, h.Head)
	case current && h.Trusted:
		v.Stage, v.Text = StageTrusted, StageTrusted
	case current && strings.Contains(h.LastError, refusedMarker):
		v.Stage, v.Text, v.Detail = StageRefused, "refused: another host key", h.LastError
	case current && h.LastError == "":
		// It offered a host key nobody trusted yet: sshd is up. (One whose
		// SSH failed has no sshd up to speak of: its boot stage stays.)
		v.Stage, v.Text = StageSSHD, StageSSHD
	case noSSHD != nil:
		v.Stage, v.Text = StageNoSSHD, "no sshd after "+noSSHD.Answer
		v.Detail = noSSHD.Message
	case kernel:
		v.Stage, v.Text = StageKernel, StageKernel
	case dhcp:
		v.Stage, v.Text = StageDHCP, StageDHCP
	}
	if current && !h.Trusted && v.Detail == "" && h.LastError != "" {
		v.Detail = "answers on the link, but SSH failed: " + h.LastError
	}
	return v
}

// MachineViews lists the registered machines with their stages.
func (e *Engine) MachineViews(ctx context.Context) ([]MachineView, error) {
	if e.opts.MachinesDir == "" {
		return nil, fmt.Errorf("%w: no machines directory: give --machines DIR", ErrUsage)
	}
	ms, err := e.Machines().Load()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if len(ms) == 0 {
		return nil, nil
	}
	hosts, err := e.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MachineView, 0, len(ms))
	for _, m := range ms {
		hist, err := e.BootHistory(m.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, machineStage(m, hist, hostOfMachine(hosts, m)))
	}
	return out, nil
}

// hostOfMachine is the host the scanner found with the machine's MAC: the
// trusted one bound to it first, else one answering from it.
func hostOfMachine(hosts []HostView, m machines.Machine) *HostView {
	mac := m.MAC.String()
	var found *HostView
	for i := range hosts {
		h := &hosts[i]
		switch {
		case h.Trusted && strings.EqualFold(orDefault(h.BoundMAC, h.MAC), mac):
			return h
		case found == nil && strings.EqualFold(h.MAC, mac):
			found = h
		}
	}
	return found
}

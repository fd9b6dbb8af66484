package engine

import (
	"context"
	"fmt"
	"time"
)

// DefaultSSHDTimeout is how long a machine that booted may take before
// its sshd answers on the link; then it is reported "no sshd after 5m0s".
const DefaultSSHDTimeout = 5 * time.Minute

// watchSSHD reports, once per boot, each machine that got a boot (DHCP,
// kernel) but whose sshd has not answered within timeout of its last boot
// request: an event, kept in its boot history, from which its stage is
// then "no sshd" (machineStage). Hosts answer through the scanner (the
// console's, or scan --watch beside a batch provision).
func (e *Engine) watchSSHD(ctx context.Context, timeout time.Duration, emit func(*BootEvent)) {
	tick := min(max(timeout/4, 100*time.Millisecond), 5*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		views, err := e.MachineViews(ctx)
		if err != nil {
			continue
		}
		now := e.now()
		for _, v := range views {
			if (v.Stage != StageDHCP && v.Stage != StageKernel) || v.LastBoot.IsZero() || now.Sub(v.LastBoot) < timeout {
				continue
			}
			m := v.Machine
			emit(&BootEvent{Header: Header{Level: LevelWarn, Message: fmt.Sprintf("%s: no sshd after %s: it booted (%s, last request at %s) but no sshd answered on the link; check its console, and that a scan runs on this link (the console, or scan --watch)",
				m.Name, timeout, v.Stage, v.LastBoot.Format(time.TimeOnly))},
				Service: sshdWatch, MAC: m.MAC.String(), Machine: m.Name, Request: "sshd", Answer: timeout.String()})
		}
	}
}

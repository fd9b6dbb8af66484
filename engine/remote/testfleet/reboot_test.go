package testfleet

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Reboot: a systemd host comes back with a new PID 1, an empty /run (a
// transient timer is gone) and the same /etc: a timer enabled there under
// timers.target is armed again at boot. The machine's own units are not
// on the host's unit path. Stop afterwards leaves nothing.
func TestSystemdReboot(t *testing.T) {
	RequireSystemd(t)
	ctx := context.Background()
	f, err := Start(ctx, Options{N: 1, Systemd: true})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			f.Stop()
		}
	}()
	h := f.Hosts[0]
	target := "root@" + h.ULA
	if out, err := sshRun(t, f, target, "ls -A /etc/systemd/system"); err != nil || out != "" {
		t.Fatalf("/etc/systemd/system on a new host: %q %v, want it empty", out, err)
	}
	const arm = `set -e
d=/etc/systemd/system
printf '[Service]\nExecStart=/bin/sh -c "echo fired > /root/fired"\n' > $d/dt-kept.service
printf '[Timer]\nOnActiveSec=1h\n[Install]\nWantedBy=timers.target\n' > $d/dt-kept.timer
mkdir -p $d/timers.target.wants && ln -s ../dt-kept.timer $d/timers.target.wants/dt-kept.timer
systemctl daemon-reload && systemctl start dt-kept.timer
systemd-run --quiet --unit dt-transient --on-active=1h /bin/true
echo x > /run/dt-mark
systemctl list-timers --all --no-legend | awk '{print $(NF-1)}' | sort | tr '\n' ' '`
	if out, err := sshRun(t, f, target, arm); err != nil || out != "dt-kept.timer dt-transient.timer" {
		t.Fatalf("arming: %q %v", out, err)
	}
	pid := h.Pid
	t0 := time.Now()
	if err := h.Reboot(); err != nil {
		t.Fatal(err)
	}
	t.Logf("reboot: %v", time.Since(t0))
	if h.Pid == pid {
		t.Errorf("PID 1 is still process %d", pid)
	}
	for _, c := range []struct{ cmd, want string }{
		{"cat /proc/1/comm", "systemd"},
		{"systemctl is-system-running", "running"},
		{"test -e /run/dt-mark && echo kept || echo gone", "gone"},
		{"systemctl list-timers --all --no-legend | awk '{print $(NF-1)}' | sort | tr '\\n' ' '", "dt-kept.timer"},
		{"systemctl is-active dt-kept.timer", "active"},
	} {
		out, err := sshRun(t, f, target, c.cmd)
		if strings.TrimSpace(out) != c.want {
			t.Errorf("after reboot, %s: %q (%v), want %q", c.cmd, out, err, c.want)
		}
	}
	pids := fleetPids(f)
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if left := fleetTraces(f, pids); len(left) > 0 {
		t.Errorf("left after Stop: %v", left)
	}
	if left := sdCgroupsLeft(f); len(left) > 0 {
		t.Errorf("cgroups left after Stop: %v", left)
	}
}

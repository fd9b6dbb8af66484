package testfleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Reboot restarts a systemd host as a power cut and boot would: sshd
// stops, its systemd (PID 1 of the host's PID namespace) is killed, which
// ends every process of the host and drops its mounts (the tmpfs /run
// and /tmp with them: transient units are lost); then systemd boots again
// over the same root (the upper dir keeps /etc, /var) and sshd starts.
// Host.Pid changes. Only for fleets with Options.Systemd.
func (h *Host) Reboot() error {
	if !h.fleet.Systemd {
		return errors.New("testfleet: Reboot is for systemd hosts (Options.Systemd)")
	}
	if err := h.anchorAlive(); err != nil {
		return err
	}
	if err := h.StopSSHD(); err != nil {
		return fmt.Errorf("reboot %s: stopping sshd: %w", h.Name, err)
	}
	h.mu.Lock()
	pid := h.Pid
	h.mu.Unlock()
	// unshare, systemd's parent, holds the host's mount namespace too:
	// wait for it as well, so the old overlay is gone before the new one.
	pids := []int{pid}
	if pp := parentPid(pid); pp > 1 {
		pids = append(pids, pp)
	}
	kill(pid, unix.SIGKILL)
	if err := waitGone(pids, 10*time.Second); err != nil {
		return fmt.Errorf("reboot %s: the old systemd: %w", h.Name, err)
	}
	h.mu.Lock()
	h.Pid, h.PidStart = 0, 0
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*ReadyTimeout)
	defer cancel()
	if err := h.startAnchor(ctx); err != nil {
		return fmt.Errorf("reboot %s: %w", h.Name, err)
	}
	if err := h.startSSHD(ctx); err != nil {
		return fmt.Errorf("reboot %s: %w", h.Name, err)
	}
	return h.fleet.saveState()
}

// parentPid is pid's parent (0 if unknown).
func parentPid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

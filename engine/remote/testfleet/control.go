package testfleet

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// Down takes the host's link down (its bridge port), as if it left the
// network; its addresses and sshd stay.
func (h *Host) Down() error {
	_, err := run(context.Background(), 0, nil, "ip", "link", "set", h.Veth, "down")
	return err
}

// Up brings the host's link back and, if sshd runs, waits until it answers.
func (h *Host) Up() error {
	if _, err := run(context.Background(), 0, nil, "ip", "link", "set", h.Veth, "up"); err != nil {
		return err
	}
	h.mu.Lock()
	running := h.SSHDPid != 0
	h.mu.Unlock()
	if !running {
		return nil
	}
	return h.waitReady(context.Background())
}

// StopSSHD stops the host's sshd (existing sessions go on, like a real
// sshd restart). Exec, ReadFile and WriteFile keep working.
func (h *Host) StopSSHD() error {
	h.mu.Lock()
	pid, start, done := h.SSHDPid, h.SSHDStart, h.sshdDone
	h.mu.Unlock()
	if pid == 0 {
		return nil
	}
	if sameProc(pid, start) {
		kill(pid, unix.SIGTERM)
		if err := waitGone([]int{pid}, 5*time.Second); err != nil {
			kill(pid, unix.SIGKILL)
			if err := waitGone([]int{pid}, 5*time.Second); err != nil {
				return err
			}
		}
	}
	if done != nil {
		<-done
	}
	h.mu.Lock()
	h.SSHDPid, h.SSHDStart, h.sshdDone = 0, 0, nil
	h.mu.Unlock()
	return h.fleet.saveState()
}

// StartSSHD starts the host's sshd again (no-op if it runs) and waits until
// it answers.
func (h *Host) StartSSHD() error {
	if err := h.anchorAlive(); err != nil {
		return err
	}
	h.mu.Lock()
	pid, start := h.SSHDPid, h.SSHDStart
	h.mu.Unlock()
	if pid != 0 && sameProc(pid, start) {
		return nil
	}
	if err := h.startSSHD(context.Background()); err != nil {
		return err
	}
	return h.fleet.saveState()
}

// Sysctl sets a network sysctl ("net.ipv6.icmp.echo_ignore_multicast" or
// "net/ipv6/…") in the host's network namespace. Only net.* names are
// accepted: other sysctls are not per namespace and would change the
// machine.
func (h *Host) Sysctl(name, value string) error {
	n := strings.TrimPrefix(name, "/")
	if !strings.HasPrefix(n, "net.") && !strings.HasPrefix(n, "net/") {
		return fmt.Errorf("testfleet: sysctl %s is not per network namespace", name)
	}
	if strings.Contains(n, "..") {
		return fmt.Errorf("testfleet: bad sysctl name %q", name)
	}
	return inNetns("/run/netns/"+h.Netns, func() error { return writeSysctl(n, value) })
}

// GetSysctl reads a network sysctl in the host's network namespace.
func (h *Host) GetSysctl(name string) (string, error) {
	n := strings.TrimPrefix(name, "/")
	if !strings.HasPrefix(n, "net.") && !strings.HasPrefix(n, "net/") || strings.Contains(n, "..") {
		return "", fmt.Errorf("testfleet: sysctl %s is not per network namespace", name)
	}
	var v string
	err := inNetns("/run/netns/"+h.Netns, func() error {
		var err error
		v, err = readSysctl(n)
		return err
	})
	return v, err
}

// fastKex is OpenSSH's default key exchange list without the post-quantum
// sntrup761x25519 (named with and without @openssh.com, depending on the
// build); every name here is known to OpenSSH since 7.x.
const fastKex = "curve25519-sha256,curve25519-sha256@libssh.org," +
	"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," +
	"diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512," +
	"diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"

// SetHostKey gives the host another SSH host key (an OpenSSH private key,
// e.g. one made for a netboot machine) and restarts its sshd with it;
// HostKey and HostKeyFingerprint say the new one.
func (h *Host) SetHostKey(privPEM []byte) error {
	signer, err := ssh.ParsePrivateKey(privPEM)
	if err != nil {
		return fmt.Errorf("host key for %s: %w", h.Name, err)
	}
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if err := h.StopSSHD(); err != nil {
		return err
	}
	if err := h.WriteFile(hostKeyPath, privPEM, 0o600); err != nil {
		return err
	}
	if err := h.WriteFile(hostKeyPath+".pub", []byte(pub+"\n"), 0o644); err != nil {
		return err
	}
	h.mu.Lock()
	h.HostKey = pub
	h.mu.Unlock()
	return h.StartSSHD()
}

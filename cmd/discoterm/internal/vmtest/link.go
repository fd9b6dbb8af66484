package vmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// Link is a test bridge with the host's address on it and one tap for
// the VM's NIC. Its names are its own (dtvmb…, dtvmt…), so several runs
// can share a machine.
type Link struct {
	Bridge, Tap string
}

// NewLink makes the bridge (cidr: the host's address on it, e.g.
// 10.94.0.1/24) and the tap, both up. Close removes them.
func NewLink(cidr string) (*Link, error) {
	// A bridge left by a killed run would take the VM's traffic.
	if p, err := netip.ParsePrefix(cidr); err == nil {
		if ifs, err := net.Interfaces(); err == nil {
			for _, ifc := range ifs {
				addrs, _ := ifc.Addrs()
				for _, a := range addrs {
					if q, err := netip.ParsePrefix(a.String()); err == nil && q.Addr() == p.Addr() {
						return nil, fmt.Errorf("%s already has %s (left by an earlier run?); remove it: ip link del %s", ifc.Name, p.Addr(), ifc.Name)
					}
				}
			}
		}
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	l := &Link{Bridge: "dtvmb" + id, Tap: "dtvmt" + id}
	steps := [][]string{
		{"link", "add", l.Bridge, "type", "bridge"},
		{"addr", "add", cidr, "dev", l.Bridge},
		{"link", "set", l.Bridge, "up"},
		{"tuntap", "add", "dev", l.Tap, "mode", "tap"},
		{"link", "set", l.Tap, "master", l.Bridge, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// Close removes the tap and the bridge (and so the address).
func (l *Link) Close() {
	ip("link", "del", l.Tap)
	ip("link", "del", l.Bridge)
}

func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

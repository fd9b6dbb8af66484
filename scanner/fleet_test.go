package scanner

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fleet is a bridge in this namespace with hosts in their own network namespaces on veths.
// Interim stand-in for engine/remote/testfleet, without sshd: only what the scanner needs.
type fleet struct {
	Bridge string
	Hosts  []*fleetHost
}

type fleetHost struct {
	NS        string
	MAC       string
	LinkLocal netip.Addr // zoned with the bridge
	veth      string     // this namespace's end, a bridge port
	t         testing.TB
}

type fleetOptions struct {
	N             int
	StablePrivacy []int // hosts whose link-local address is stable-privacy (RFC 7217), not EUI-64
}

func startFleet(t testing.TB, o fleetOptions) *fleet {
	t.Helper()
	requireRoot(t)
	tag := randomTag()
	f := &fleet{Bridge: "dsb" + tag}
	t.Cleanup(func() { f.remove() })
	sh(t, "ip", "link", "add", f.Bridge, "type", "bridge")
	sh(t, "sysctl", "-qw", "net.ipv6.conf."+f.Bridge+".accept_dad=0")
	sh(t, "ip", "link", "set", f.Bridge, "up")
	stable := map[int]bool{}
	for _, i := range o.StablePrivacy {
		stable[i] = true
	}
	for i := 0; i < o.N; i++ {
		h := &fleetHost{NS: fmt.Sprintf("dsn%s-%d", tag, i), veth: fmt.Sprintf("dsv%s%d", tag, i),
			MAC: fmt.Sprintf("02:d5:%s:%s:%s:%02x", tag[:2], tag[2:4], tag[4:6], i), t: t}
		f.Hosts = append(f.Hosts, h)
		sh(t, "ip", "netns", "add", h.NS)
		sh(t, "ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
		sh(t, "ip", "link", "set", h.veth, "master", f.Bridge, "up")
		sh(t, "ip", "-n", h.NS, "link", "set", "eth0", "address", h.MAC)
		h.Sysctl("net.ipv6.conf.all.accept_dad", "0")
		h.Sysctl("net.ipv6.conf.eth0.accept_dad", "0")
		if stable[i] {
			h.Sysctl("net.ipv6.conf.eth0.stable_secret", fmt.Sprintf("fd00:%s::%x", tag[:4], i+1))
			h.Sysctl("net.ipv6.conf.eth0.addr_gen_mode", "2")
		}
		sh(t, "ip", "-n", h.NS, "link", "set", "lo", "up")
		sh(t, "ip", "-n", h.NS, "link", "set", "eth0", "up")
	}
	for _, h := range f.Hosts {
		h.LinkLocal = h.waitLinkLocal(f.Bridge)
	}
	return f
}

func (f *fleet) remove() {
	for _, h := range f.Hosts {
		shQuiet("ip", "netns", "del", h.NS)
		shQuiet("ip", "link", "del", h.veth)
	}
	shQuiet("ip", "link", "del", f.Bridge)
}

// Sysctl sets a sysctl inside the host's namespace.
func (h *fleetHost) Sysctl(name, value string) {
	h.t.Helper()
	sh(h.t, "ip", "netns", "exec", h.NS, "sysctl", "-qw", name+"="+value)
}

// Down takes the host off the link (its interface down), Up puts it back.
func (h *fleetHost) Down() { h.t.Helper(); sh(h.t, "ip", "-n", h.NS, "link", "set", "eth0", "down") }
func (h *fleetHost) Up() {
	h.t.Helper()
	sh(h.t, "ip", "-n", h.NS, "link", "set", "eth0", "up")
}

func (h *fleetHost) waitLinkLocal(zone string) netip.Addr {
	h.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out := sh(h.t, "ip", "-n", h.NS, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
		for _, fld := range strings.Fields(out) {
			if p, err := netip.ParsePrefix(fld); err == nil && !strings.Contains(out, "tentative") {
				return p.Addr().WithZone(zone)
			}
		}
	}
	h.t.Fatalf("%s: no link-local address on eth0", h.NS)
	return netip.Addr{}
}

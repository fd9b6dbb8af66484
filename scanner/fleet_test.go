package scanner

import (
	"net/netip"
	"testing"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// fleet adapts testfleet (hosts in network namespaces on veths to a bridge) to what the
// scanner's tests use: zoned netip addresses and failing the test on errors.
type fleet struct {
	Bridge string
	Hosts  []*fleetHost
}

type fleetHost struct {
	MAC       string
	LinkLocal netip.Addr // zoned with the bridge
	NS        string     // network namespace
	veth      string     // the root-namespace end, a bridge port
	h         *testfleet.Host
	t         testing.TB
}

type fleetOptions struct {
	N             int
	StablePrivacy []int // 0-based indexes into Hosts of hosts with stable-privacy link-local addresses
}

func startFleet(t testing.TB, o fleetOptions) *fleet {
	t.Helper()
	var stable []int
	for _, i := range o.StablePrivacy {
		stable = append(stable, i+1) // testfleet counts hosts from 1
	}
	tf := testfleet.StartT(t, testfleet.Options{N: o.N, StablePrivacy: stable, NoKnownHosts: true})
	f := &fleet{Bridge: tf.Bridge}
	for _, h := range tf.Hosts {
		ll, err := netip.ParseAddr(h.LinkLocal)
		if err != nil {
			t.Fatalf("testfleet host %s: link-local %q: %v", h.Name, h.LinkLocal, err)
		}
		f.Hosts = append(f.Hosts, &fleetHost{MAC: h.MAC, LinkLocal: ll.WithZone(tf.Bridge),
			NS: h.Netns, veth: h.Veth, h: h, t: t})
	}
	return f
}

// Sysctl sets a network sysctl inside the host.
func (h *fleetHost) Sysctl(name, value string) {
	h.t.Helper()
	if err := h.h.Sysctl(name, value); err != nil {
		h.t.Fatal(err)
	}
}

// Down takes the host off the link; Up puts it back.
func (h *fleetHost) Down() {
	h.t.Helper()
	if err := h.h.Down(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fleetHost) Up() {
	h.t.Helper()
	if err := h.h.Up(); err != nil {
		h.t.Fatal(err)
	}
}

// flushNeighbours empties the neighbour tables of the bridge and of every host: the link is
// cold again, as when a scanner starts or hosts boot.
func (f *fleet) flushNeighbours(t testing.TB) {
	t.Helper()
	sh(t, "ip", "-6", "neigh", "flush", "dev", f.Bridge)
	for _, h := range f.Hosts {
		sh(t, "ip", "-n", h.NS, "-6", "neigh", "flush", "dev", "eth0")
	}
}

package scanner

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
)

// Where a Sighting's MAC came from.
const (
	MACFromNeigh = "neigh" // the kernel's neighbour table: what the host really sends from
	MACFromEUI64 = "eui64" // decoded from a modified EUI-64 interface identifier: a guess
)

// DecodeEUI64 decodes the MAC embedded in a modified EUI-64 interface identifier
// (…:xxff:fexx:xxxx, universal/local bit flipped). It returns false for addresses that carry
// none: stable-privacy (RFC 7217), temporary and hand-made identifiers. One stable-privacy
// address in 65,536 has ff:fe in the middle by chance, and the host may since have changed
// its MAC, which is why the neighbour table comes first.
func DecodeEUI64(a netip.Addr) (net.HardwareAddr, bool) {
	if !a.Is6() || a.Is4In6() || a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() {
		return nil, false
	}
	b := a.As16()
	if b[11] != 0xff || b[12] != 0xfe {
		return nil, false
	}
	mac := net.HardwareAddr{b[8] ^ 0x02, b[9], b[10], b[13], b[14], b[15]}
	if isZeroMAC(mac) {
		return nil, false
	}
	return mac, true
}

// neighbourMACs reads the kernel's IPv6 neighbour table for one interface: address → MAC.
// Right after a probe round it holds every responder: each one solicited us (or we it)
// before it could reply.
func neighbourMACs(ifindex int) (map[netip.Addr]string, error) {
	neighs, err := netlink.NeighList(ifindex, netlink.FAMILY_V6)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, err
	}
	macs := make(map[netip.Addr]string, len(neighs))
	for _, n := range neighs {
		// INCOMPLETE and FAILED entries carry no (or no current) link-layer address.
		if n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 || n.State == netlink.NUD_NONE {
			continue
		}
		if len(n.HardwareAddr) != 6 || isZeroMAC(n.HardwareAddr) {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		macs[ip.Unmap()] = n.HardwareAddr.String()
	}
	return macs, nil
}

func isZeroMAC(mac net.HardwareAddr) bool {
	for _, b := range mac {
		if b != 0 {
			return false
		}
	}
	return true
}

// identify fills in MACs from the neighbour table. A responder may be missing from it when it
// already knew our MAC and so never solicited us: a unicast echo makes our kernel resolve it,
// and the table is read again for a short while before falling back to EUI-64 decoding.
func (s *Scanner) identify(ctx context.Context, sightings []Sighting) []Sighting {
	tables := map[string]map[netip.Addr]string{}
	lookup := func(refresh bool) (missing []int) {
		if refresh {
			tables = map[string]map[netip.Addr]string{}
		}
		for i := range sightings {
			sg := &sightings[i]
			if sg.MAC != "" {
				continue
			}
			l := s.linkByName(sg.Iface)
			if l == nil {
				continue
			}
			table, ok := tables[l.name]
			if !ok {
				var err error
				if table, err = neighbourMACs(l.index); err != nil {
					s.opts.Logf("scanner: reading the neighbour table of %s: %v", l.name, err)
				}
				tables[l.name] = table
			}
			if mac, ok := table[sg.Addr.WithZone("")]; ok {
				sg.MAC, sg.MACFrom = mac, MACFromNeigh
			} else {
				missing = append(missing, i)
			}
		}
		return missing
	}
	missing := lookup(false)
	if len(missing) > 0 && ctx.Err() == nil {
		st := &roundState{probes: map[uint16]probe{}} // replies to these are not awaited
		for _, i := range missing {
			if l := s.linkByName(sightings[i].Iface); l != nil {
				_ = s.probe(st, l, sightings[i].Addr, true)
			}
		}
		wait := min(max(s.opts.Window/4, 20*time.Millisecond), 250*time.Millisecond)
		for deadline := time.Now().Add(wait); len(missing) > 0 && time.Now().Before(deadline); {
			select {
			case <-ctx.Done():
				deadline = time.Now()
			case <-time.After(5 * time.Millisecond):
				missing = lookup(true)
			}
		}
	}
	for _, i := range missing {
		sg := &sightings[i]
		if mac, ok := DecodeEUI64(sg.Addr); ok {
			sg.MAC, sg.MACFrom = mac.String(), MACFromEUI64
		}
	}
	return sightings
}

package provision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/discoterm/discoterm/engine/machines"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// RouterAdverts answers the IPv6 router solicitations of registered
// machines with a router advertisement that advertises nothing: router
// lifetime 0 (not a default router), no prefix (no address), the M and
// O flags clear (no DHCPv6). iPXE configures IPv6 beside DHCPv4 and
// waits for a router advertisement before it boots; on a link without
// an IPv6 router that wait is about 13 s of every boot (measured with
// the VM test). This answer ends it at once and gives no host a route.
type RouterAdverts struct {
	Interface string
	Machines  func() ([]machines.Machine, error)
	// OnSolicit, when set, is called for each solicitation read from a
	// registered machine (Machine set) or an unknown one.
	OnSolicit func(RouterSolicit)
}

// RouterSolicit is one router solicitation and whether it was answered.
type RouterSolicit struct {
	MAC      net.HardwareAddr // its source link-layer address option
	Machine  string           // "" for an unregistered MAC: not answered
	From     netip.Addr
	Answered bool
	Err      error
}

// routerAdvert is the ICMPv6 router advertisement sent (RFC 4861 4.2):
// type 134, code 0, checksum (the kernel fills it), current hop limit 0
// and reachable time and retransmission timer 0 (unspecified), no
// flags, router lifetime 0, no options.
var routerAdvert = []byte{134, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// Serve answers on the interface until ctx ends.
func (r *RouterAdverts) Serve(ctx context.Context) error {
	ifi, err := net.InterfaceByName(r.Interface)
	if err != nil {
		return fmt.Errorf("router advertisements on %s: %v", r.Interface, err)
	}
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return fmt.Errorf("router advertisements on %s: %v", r.Interface, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	p := c.IPv6PacketConn()
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterSolicitation)
	if err := p.SetICMPFilter(&f); err != nil {
		return fmt.Errorf("router advertisements on %s: %v", r.Interface, err)
	}
	if err := p.JoinGroup(ifi, &net.IPAddr{IP: net.ParseIP("ff02::2")}); err != nil {
		return fmt.Errorf("router advertisements on %s: joining all-routers: %v", r.Interface, err)
	}
	if err := p.SetControlMessage(ipv6.FlagInterface|ipv6.FlagHopLimit, true); err != nil {
		return fmt.Errorf("router advertisements on %s: %v", r.Interface, err)
	}
	buf := make([]byte, 1500)
	for {
		n, cm, src, err := p.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		// RFC 4861 6.1.1: a solicitation that crossed a router (hop
		// limit below 255) is not from this link.
		if cm == nil || cm.IfIndex != ifi.Index || cm.HopLimit != 255 {
			continue
		}
		ia, ok := src.(*net.IPAddr)
		if !ok {
			continue
		}
		from, _ := netip.AddrFromSlice(ia.IP)
		mac := SolicitSourceMAC(buf[:n])
		// Without a source address (::) the solicitor is not known, and
		// it carries no link-layer address: not answered.
		if mac == nil || !from.IsLinkLocalUnicast() {
			continue
		}
		rs := RouterSolicit{MAC: mac, From: from}
		if ms, err := r.Machines(); err == nil {
			for _, m := range ms {
				if m.MAC.String() == mac.String() {
					rs.Machine = m.Name
				}
			}
		}
		if rs.Machine != "" {
			dst := &net.IPAddr{IP: ia.IP, Zone: r.Interface}
			_, rs.Err = p.WriteTo(routerAdvert, &ipv6.ControlMessage{HopLimit: 255, IfIndex: ifi.Index}, dst)
			rs.Answered = rs.Err == nil
		}
		if r.OnSolicit != nil {
			r.OnSolicit(rs)
		}
	}
}

// SolicitSourceMAC is the source link-layer address option of an ICMPv6
// router solicitation (RFC 4861 4.1, 4.6.1), or nil when it is no
// well-formed solicitation with one.
func SolicitSourceMAC(b []byte) net.HardwareAddr {
	if len(b) < 8 || b[0] != byte(ipv6.ICMPTypeRouterSolicitation) || b[1] != 0 {
		return nil
	}
	for opts := b[8:]; len(opts) >= 2; {
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return nil // a zero or overlong option: malformed
		}
		if opts[0] == 1 && l == 8 {
			return net.HardwareAddr(append([]byte(nil), opts[2:8]...))
		}
		opts = opts[l:]
	}
	return nil
}

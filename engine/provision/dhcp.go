package provision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/discoterm/discoterm/engine/machines"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/insomniacslk/dhcp/iana"
)

// DHCPOptions configure the DHCPv4 server of one interface.
type DHCPOptions struct {
	Interface string // the one interface it binds to (SO_BINDTODEVICE)
	// Machines are read for every request, so a machine added while the
	// server runs is answered at once.
	Machines func() ([]machines.Machine, error)
	// ServerIP is this machine's IPv4 address on Interface (default: the
	// interface's first); Mask its prefix.
	ServerIP netip.Prefix
	Router   netip.Addr    // optional default gateway handed out
	Lease    time.Duration // default 1h
	// HTTPPort is where iPXE clients fetch their script; 0: 80.
	HTTPPort int
	// Clock is injected for the once-per-hour log of unknown MACs.
	Clock func() time.Time
	// Unknown, when set (provision --unknown), offers unknown MACs an
	// address of its pool and the discovery boot.
	Unknown *UnknownPool
	// OnRequest, when set, is called for each request the server reads.
	OnRequest func(DHCPRequest)
}

// DHCPRequest is one DHCP message and what the server did with it.
type DHCPRequest struct {
	MAC      net.HardwareAddr
	Type     string // DISCOVER, REQUEST, …
	Machine  string // the registered machine, "" for an unknown MAC
	Answer   string // OFFER, ACK, NAK, or "" (ignored)
	Addr     netip.Addr
	BootFile string
	// Logged is true for the first request of an unknown MAC in an hour:
	// the face logs it; the others it counts silently.
	Logged bool
	// Discovery: an unknown MAC answered with the discovery boot.
	Discovery bool
	// Client is what asks (bootClient): ClientIPXE, ClientPXE, or
	// ClientOS, the DHCP client of a system already booted.
	Client string
}

// The kinds of DHCP client (DHCPRequest.Client).
const (
	ClientIPXE = "ipxe" // user class "iPXE"
	ClientPXE  = "pxe"  // PXE firmware: vendor class PXEClient…, or a client architecture
	ClientOS   = "os"   // neither: a booted system's own DHCP client (udhcpc, dhclient, networkd)
)

// bootClient tells boot firmware (whose DISCOVER starts a boot) from the
// DHCP client of the system it booted (the same boot, taking its lease).
func bootClient(m *dhcpv4.DHCPv4) string {
	for _, uc := range m.UserClass() {
		if uc == "iPXE" {
			return ClientIPXE
		}
	}
	if strings.HasPrefix(m.ClassIdentifier(), "PXEClient") || len(m.ClientArch()) > 0 {
		return ClientPXE
	}
	return ClientOS
}

// Boot files by client kind, served by TFTP from the boot directory
// (iPXE's own builds) and, for iPXE itself, the per-machine script over
// HTTP.
const (
	BootFileBIOS = "undionly.kpxe"
	BootFileUEFI = "ipxe.efi"
)

// DHCPServer answers registered MACs on one interface.
type DHCPServer struct {
	opts    DHCPOptions
	srv     *server4.Server
	mu      sync.Mutex
	unknown map[string]time.Time // MAC → when last logged
}

// ErrOtherDHCP is another DHCP server answering on the link.
var ErrOtherDHCP = errors.New("another DHCP server answers on this link")

// ProbeOtherDHCP sends one DISCOVER from iface's own MAC (a made-up one
// would not reach us: a bridge or NIC drops unicast offers to a MAC it
// does not own) and says who answered, if anyone did within wait. The
// offer is never taken up.
func ProbeOtherDHCP(ctx context.Context, iface string, wait time.Duration) (net.IP, error) {
	c, err := nclient4.New(iface, nclient4.WithTimeout(wait), nclient4.WithRetry(1))
	if err != nil {
		return nil, fmt.Errorf("probing %s for another DHCP server: %v", iface, err)
	}
	defer c.Close()
	offer, err := c.DiscoverOffer(ctx, dhcpv4.WithBroadcast(true))
	if err != nil {
		return nil, nil // nothing answered
	}
	return offer.ServerIdentifier(), nil
}

// NewDHCPServer binds to the interface; Serve answers.
func NewDHCPServer(opts DHCPOptions) (*DHCPServer, error) {
	if opts.Interface == "" {
		return nil, errors.New("DHCP needs one interface: give --iface IF")
	}
	ifc, err := net.InterfaceByName(opts.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %v; give one of this machine's interfaces", opts.Interface, err)
	}
	if !opts.ServerIP.IsValid() {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				opts.ServerIP = p
				break
			}
		}
		if !opts.ServerIP.IsValid() {
			return nil, fmt.Errorf("interface %s has no IPv4 address; give it one (ip addr add 10.0.0.1/24 dev %s)", opts.Interface, opts.Interface)
		}
	}
	if opts.Lease <= 0 {
		opts.Lease = time.Hour
	}
	if u := opts.Unknown; u != nil {
		if !u.Server.IsValid() {
			u.Server = opts.ServerIP
		}
		if u.Machines == nil {
			u.Machines = opts.Machines
		}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &DHCPServer{opts: opts, unknown: map[string]time.Time{}}
	s.srv, err = server4.NewServer(opts.Interface, &net.UDPAddr{Port: dhcpv4.ServerPort}, s.handle, server4.WithLogger(server4.EmptyLogger{}))
	if err != nil {
		return nil, fmt.Errorf("DHCP on %s: %v", opts.Interface, err)
	}
	return s, nil
}

// Serve answers until ctx ends.
func (s *DHCPServer) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.srv.Close() })
	defer stop()
	err := s.srv.Serve()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *DHCPServer) handle(conn net.PacketConn, _ net.Addr, m *dhcpv4.DHCPv4) {
	if m.OpCode != dhcpv4.OpcodeBootRequest {
		return
	}
	req := DHCPRequest{MAC: m.ClientHWAddr, Type: m.MessageType().String(), Client: bootClient(m)}
	defer func() {
		if s.opts.OnRequest != nil {
			s.opts.OnRequest(req)
		}
	}()
	ms, err := s.opts.Machines()
	if err != nil {
		return // a broken machines directory answers nobody
	}
	var mc *machines.Machine
	for i := range ms {
		if ms[i].MAC.String() == m.ClientHWAddr.String() {
			mc = &ms[i]
		}
	}
	if mc == nil && s.opts.Unknown != nil {
		if a, ok := s.opts.Unknown.LeaseFor(m.ClientHWAddr); ok {
			mc = &machines.Machine{MAC: m.ClientHWAddr, IP: a}
			req.Discovery = true
		}
	}
	if mc == nil || !mc.IP.IsValid() {
		req.Logged = s.logUnknown(m.ClientHWAddr)
		return
	}
	req.Machine, req.Addr = mc.Name, mc.IP
	var answer dhcpv4.MessageType
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		answer = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		answer = dhcpv4.MessageTypeAck
		if sid := m.ServerIdentifier(); sid != nil && !sid.Equal(s.serverIP()) {
			return // it chose another server
		}
		if want := m.RequestedIPAddress(); want != nil && !want.Equal(net.IP(mc.IP.AsSlice())) {
			answer = dhcpv4.MessageTypeNak
		}
	default:
		return
	}
	mask := net.CIDRMask(s.opts.ServerIP.Bits(), 32)
	mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(answer), dhcpv4.WithServerIP(s.serverIP()),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.serverIP()))}
	if answer != dhcpv4.MessageTypeNak {
		boot := s.bootFile(m, mc)
		req.BootFile = boot
		mods = append(mods, dhcpv4.WithYourIP(net.IP(mc.IP.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptSubnetMask(mask)),
			dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(s.opts.Lease)),
			dhcpv4.WithOption(dhcpv4.OptTFTPServerName(s.serverIP().String())),
			dhcpv4.WithOption(dhcpv4.OptBootFileName(boot)))
		if mc.Name != "" {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(mc.Name)))
		}
		if s.opts.Router.IsValid() {
			mods = append(mods, dhcpv4.WithRouter(net.IP(s.opts.Router.AsSlice())))
		}
	}
	reply, err := dhcpv4.NewReplyFromRequest(m, mods...)
	if err != nil {
		return
	}
	reply.BootFileName = req.BootFile
	req.Answer = answer.String()
	// The client has no address yet: broadcast on the bound interface.
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
	if !m.ClientIPAddr.IsUnspecified() && m.ClientIPAddr != nil {
		dst.IP = m.ClientIPAddr
	}
	conn.WriteTo(reply.ToBytes(), dst)
}

func (s *DHCPServer) serverIP() net.IP { return net.IP(s.opts.ServerIP.Addr().AsSlice()) }

// bootFile picks by what the client is: iPXE (user class "iPXE") gets
// its script over HTTP; UEFI firmware the EFI iPXE; BIOS PXE undionly.
func (s *DHCPServer) bootFile(m *dhcpv4.DHCPv4, mc *machines.Machine) string {
	for _, uc := range m.UserClass() {
		if uc == "iPXE" {
			port := s.opts.HTTPPort
			if port == 0 {
				port = 80
			}
			if mc.Name == "" {
				return fmt.Sprintf("http://%s/discover.ipxe", net.JoinHostPort(s.serverIP().String(), fmt.Sprint(port)))
			}
			return fmt.Sprintf("http://%s/boot/%s.ipxe", net.JoinHostPort(s.serverIP().String(), fmt.Sprint(port)), mc.Name)
		}
	}
	for _, a := range m.ClientArch() {
		switch a {
		case iana.EFI_IA32, iana.EFI_X86_64, iana.EFI_BC, iana.EFI_X86_64_HTTP:
			return BootFileUEFI
		}
	}
	return BootFileBIOS
}

// logUnknown tells whether an unknown MAC's request is the first in an
// hour (to be logged) or one more of a chatty machine (to be counted).
func (s *DHCPServer) logUnknown(hw net.HardwareAddr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock()
	if last, ok := s.unknown[hw.String()]; ok && now.Sub(last) < time.Hour {
		return false
	}
	s.unknown[hw.String()] = now
	return true
}

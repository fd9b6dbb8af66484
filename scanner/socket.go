package scanner

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// ErrNoPermission: neither a raw ICMPv6 socket nor an ICMP datagram socket may be opened.
// The error wrapping it says how to grant one.
var ErrNoPermission = errors.New("not allowed to open an ICMPv6 socket")

// Socket kinds, as reported by Scanner.SocketKind.
const (
	SocketRaw      = "raw"      // needs CAP_NET_RAW
	SocketDatagram = "datagram" // "ping socket": needs the group in net.ipv4.ping_group_range
)

// wantRcvBuf is the receive buffer asked for: one burst of replies from a few thousand hosts.
// A default buffer (~200 KiB) holds only a couple of hundred.
const wantRcvBuf = 4 << 20

// icmpSocket is the one socket a Scanner sends and receives on.
type icmpSocket struct {
	kind   string
	conn   net.PacketConn
	p      *ipv6.PacketConn
	rcvBuf int // effective SO_RCVBUF as the kernel reports it
}

// openSocket opens a raw ICMPv6 socket, or the unprivileged datagram kind when raw is refused.
func openSocket() (*icmpSocket, error) {
	s := &icmpSocket{kind: SocketRaw}
	conn, rawErr := net.ListenPacket("ip6:ipv6-icmp", "::")
	if rawErr != nil {
		var dgErr error
		conn, dgErr = listenDatagram()
		if dgErr != nil {
			return nil, socketError(rawErr, dgErr)
		}
		s.kind = SocketDatagram
	}
	s.conn = conn
	s.p = ipv6.NewPacketConn(conn)
	if err := s.setup(); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *icmpSocket) setup() error {
	if s.kind == SocketRaw {
		// A raw socket sees every ICMPv6 packet of the machine; let only echo replies wake us.
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeEchoReply)
		if err := s.p.SetICMPFilter(&f); err != nil {
			return fmt.Errorf("scanner: setting the ICMPv6 filter: %w", err)
		}
	}
	// Off, or the scanning machine answers its own multicast probe.
	if err := s.p.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("scanner: turning multicast loopback off: %w", err)
	}
	if err := s.p.SetMulticastHopLimit(1); err != nil {
		return fmt.Errorf("scanner: setting the multicast hop limit: %w", err)
	}
	if err := s.p.SetControlMessage(ipv6.FlagInterface, true); err != nil {
		return fmt.Errorf("scanner: asking for the arrival interface of packets: %w", err)
	}
	s.rcvBuf = enlargeRcvBuf(s.conn)
	return nil
}

// listenDatagram opens an ICMPv6 "ping socket". The kernel allocates the echo identifier (it
// overwrites ours) and hands the socket only replies carrying it.
func listenDatagram() (net.PacketConn, error) {
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_ICMPV6)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet6{}); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	f := os.NewFile(uintptr(fd), "icmpv6-datagram")
	defer f.Close()
	return net.FilePacketConn(f)
}

// socketError turns two refusals into one error that says what to do.
func socketError(rawErr, dgErr error) error {
	denied := func(err error) bool { return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) }
	if !denied(rawErr) || !denied(dgErr) {
		return fmt.Errorf("scanner: cannot open an ICMPv6 socket (raw: %v; datagram: %v)", rawErr, dgErr)
	}
	bin, err := os.Executable()
	if err != nil {
		bin = "/path/to/discoterm"
	}
	pingRange := "unknown"
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); err == nil {
		pingRange = strings.Join(strings.Fields(string(b)), " ")
	}
	return fmt.Errorf("scanner: %w (raw socket: %v; ICMP datagram socket: %v): "+
		"either give the program CAP_NET_RAW (run it as root, or \"sudo setcap cap_net_raw+ep %s\"), "+
		"or let your group (gid %d) open ICMP datagram sockets: \"sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'\" (now %q)",
		ErrNoPermission, errno(rawErr), errno(dgErr), bin, os.Getegid(), pingRange)
}

// errno keeps the short part of a socket error ("operation not permitted").
func errno(err error) error {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

// enlargeRcvBuf raises SO_RCVBUF so that one burst of replies fits. SO_RCVBUFFORCE passes
// net.core.rmem_max when we hold CAP_NET_ADMIN; SO_RCVBUF is capped by it.
func enlargeRcvBuf(conn net.PacketConn) int {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	got := 0
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, wantRcvBuf) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, wantRcvBuf)
		}
		got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return got
}

// send writes one echo request to dst out of l. The probe is pinned to l twice: by the zone of
// the destination and by the outgoing interface in the control message (for multicast also by
// IPV6_MULTICAST_IF). A probe with no interface is a bug and is never sent.
func (s *icmpSocket) send(l *link, dst netip.Addr, echo *icmp.Echo) error {
	if l == nil || l.index <= 0 || l.name == "" {
		return errors.New("scanner: bug: refusing to send a probe with no interface")
	}
	if !dst.Is6() || dst.Is4In6() {
		return fmt.Errorf("scanner: bug: probe to a non-IPv6 address %v", dst)
	}
	b, err := (&icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: echo}).Marshal(nil)
	if err != nil {
		return err
	}
	if dst.IsMulticast() {
		if err := s.p.SetMulticastInterface(l.netif); err != nil {
			return fmt.Errorf("scanner: pinning multicast to %s: %w", l.name, err)
		}
	}
	ip := net.IP(dst.WithZone("").AsSlice())
	var to net.Addr = &net.IPAddr{IP: ip, Zone: l.name}
	if s.kind == SocketDatagram {
		to = &net.UDPAddr{IP: ip, Zone: l.name}
	}
	_, err = s.p.WriteTo(b, &ipv6.ControlMessage{IfIndex: l.index}, to)
	return err
}

// reply is one echo reply as read from the socket.
type reply struct {
	src     netip.Addr // without zone
	ifindex int        // arrival interface
	id, seq uint16
	data    []byte
}

// read blocks for the next echo reply. Packets that are not echo replies come back with ok false.
func (s *icmpSocket) read(buf []byte) (r reply, ok bool, err error) {
	n, cm, src, err := s.p.ReadFrom(buf)
	if err != nil {
		return reply{}, false, err
	}
	if cm == nil {
		return reply{}, false, nil
	}
	var ip net.IP
	switch a := src.(type) {
	case *net.IPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	}
	addr, okAddr := netip.AddrFromSlice(ip)
	m, err := icmp.ParseMessage(58, buf[:n]) // 58: ICMPv6
	if !okAddr || err != nil || m.Type != ipv6.ICMPTypeEchoReply {
		return reply{}, false, nil
	}
	echo, okEcho := m.Body.(*icmp.Echo)
	if !okEcho {
		return reply{}, false, nil
	}
	return reply{src: addr.Unmap().WithZone(""), ifindex: cm.IfIndex,
		id: uint16(echo.ID), seq: uint16(echo.Seq), data: echo.Data}, true, nil
}

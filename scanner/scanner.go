package scanner

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultInterval = 5 * time.Second
	DefaultWindow   = time.Second
)

// ErrClosed is returned by Round and Run once the Scanner is closed.
var ErrClosed = errors.New("scanner: closed")

// Options configure a Scanner. Zero values mean the defaults.
type Options struct {
	// Interfaces to probe by name; empty means every usable one (see Interfaces).
	Interfaces []string
	// Interval is the time from the start of one round to the start of the next in Run.
	// Default 5s; a round longer than Interval is followed at once by the next.
	Interval time.Duration
	// Window is how long a round listens after its last probe (longer while hosts arrive late
	// on a cold link, see Round). Default 1s: enough for Wi-Fi stations in power saving; on
	// wired and virtual links replies take under 1 ms.
	Window time.Duration
	// Unicast returns the known addresses of hosts to probe by unicast when they stay silent to
	// multicast in a round (hosts with net.ipv6.icmp.echo_ignore_multicast=1). Each must be
	// link-local with a zone naming a probed interface; others are skipped with a log line.
	Unicast func() []netip.Addr
	// Now stamps Sighting.Time and RoundResult.Start; default time.Now. Probe timing and RTT
	// always use the real monotonic clock.
	Now func() time.Time
	// Logf receives notes worth an operator's attention; default: discarded.
	Logf func(format string, args ...any)
}

// Sighting is one host answering in one round on one interface.
type Sighting struct {
	Iface   string
	Addr    netip.Addr    // source of the reply, zoned with Iface
	MAC     string        // "" when neither the neighbour table nor EUI-64 told
	MACFrom string        // MACFromNeigh, MACFromEUI64 or ""
	RTT     time.Duration // from the probe answered; on a cold link it includes neighbour resolution
	Time    time.Time     // Options.Now when the first reply arrived
	Round   uint64
	// Unicast: the host answered only a unicast probe this round, not the multicast one.
	Unicast bool
}

// RoundResult is what one probe round found.
type RoundResult struct {
	Round     uint64
	Start     time.Time  // Options.Now at the first probe
	Sightings []Sighting // one per responding address and interface, sorted
	Probes    int        // echo requests sent, multicast and unicast
	Reprobed  []string   // interfaces that got a second multicast probe (new hosts arriving)
	// LastReply is the time from the first probe to the first reply of the last responder:
	// how long discovery took. Zero when nobody answered.
	LastReply time.Duration
	Duration  time.Duration // the whole round, listening included
	// Err holds per-interface failures; the sightings of the other interfaces are still here.
	Err error
}

// Scanner probes links with ICMPv6 echo requests to ff02::1 and collects the replies.
// Rounds run one at a time; a Scanner is safe for use from several goroutines.
type Scanner struct {
	opts    Options
	links   []*link
	byIndex map[int]*link
	sock    *icmpSocket
	nonce   [8]byte // payload marker: replies without it are not ours
	id      uint16  // echo identifier (raw sockets; the kernel picks it on datagram sockets)

	roundMu sync.Mutex // one round at a time
	round   uint64
	prev    map[int]map[netip.Addr]bool // last round's multicast responders per interface
	warned  map[netip.Addr]bool         // unusable unicast addresses already logged

	mu     sync.Mutex // guards the fields below; the reader goroutine takes it per reply
	cur    *roundState
	seq    uint16
	fatal  error
	closed bool

	readerDone chan struct{}
}

// New validates the interfaces and opens the socket: raw when the process holds CAP_NET_RAW,
// else an unprivileged ICMP datagram socket. When neither may be opened the error wraps
// ErrNoPermission and says how to allow one; interface problems come as *InterfaceError.
func New(opts Options) (*Scanner, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	links, err := chooseLinks(opts.Interfaces)
	if err != nil {
		return nil, err
	}
	sock, err := openSocket()
	if err != nil {
		return nil, err
	}
	s := &Scanner{opts: opts, links: links, byIndex: map[int]*link{}, sock: sock,
		prev: map[int]map[netip.Addr]bool{}, warned: map[netip.Addr]bool{},
		readerDone: make(chan struct{})}
	for _, l := range links {
		s.byIndex[l.index] = l
	}
	var idb [2]byte
	_, _ = rand.Read(s.nonce[:])
	_, _ = rand.Read(idb[:])
	s.id = binary.BigEndian.Uint16(idb[:])
	if sock.rcvBuf < wantRcvBuf {
		opts.Logf("scanner: receive buffer is %d KiB (capped by net.core.rmem_max); bursts of replies from hundreds of hosts may be lost", sock.rcvBuf>>10)
	}
	go s.readLoop()
	return s, nil
}

// SocketKind says which socket the scanner got: SocketRaw or SocketDatagram.
func (s *Scanner) SocketKind() string { return s.sock.kind }

// InterfaceNames lists the interfaces the scanner probes.
func (s *Scanner) InterfaceNames() []string {
	names := make([]string, len(s.links))
	for i, l := range s.links {
		names[i] = l.name
	}
	return names
}

// Close stops the scanner; a round in progress ends with ErrClosed.
func (s *Scanner) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.sock.conn.Close()
	<-s.readerDone
	return err
}

// Run probes a round every Interval until ctx is done (then it returns nil) or the scanner
// fails or is closed. fn sees every completed round, including those with per-interface
// errors in RoundResult.Err.
func (s *Scanner) Run(ctx context.Context, fn func(RoundResult)) error {
	for {
		started := time.Now()
		res, err := s.Round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if stopped := s.stopped(); stopped != nil {
			return stopped // closed or the socket failed
		}
		if err != nil && res.Err == nil {
			return err
		}
		fn(res)
		wait := time.NewTimer(time.Until(started.Add(s.opts.Interval)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return nil
		case <-wait.C:
		}
	}
}

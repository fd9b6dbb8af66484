package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
)

var allNodes = netip.MustParseAddr("ff02::1")

// lateHold is how long a round keeps listening after a late new responder: one neighbour
// solicitation retransmission (RFC 4861 RetransTimer, 1 s) and some. Hosts whose solicitation
// of our address was lost in a reply storm try again that much later, up to three times.
const lateHold = 1100 * time.Millisecond

type roundState struct {
	number        uint64
	probes        map[uint16]probe
	seen          map[netip.Addr]*Sighting // by zoned address
	own           map[netip.Addr]bool      // this machine's addresses, without zone
	lastNew       time.Time                // monotonic time of the last new responder
	lastMulticast time.Time                // same, counting answers to multicast probes only
	start         time.Time                // monotonic time of the first probe
}

type probe struct {
	link    *link
	sent    time.Time
	unicast bool
}

// Round runs one probe round on every interface:
//
//  1. an echo request to ff02::1 on each interface;
//  2. after a quarter of the Window, a second multicast probe on each interface where a host
//     not seen in the previous round answered (a cold link loses replies in the neighbour
//     solicitation storm the first probe sets off; by now most hosts know our MAC), and a
//     unicast probe to each known address (Options.Unicast) that has not answered yet;
//  3. listening for Window after the last probe; while new hosts keep arriving late (after
//     the re-probe), on until 1.1 s after the last of them, up to Window+2.2 s in all: on a
//     cold link, hosts whose neighbour solicitation was lost answer one or two seconds late.
//
// Round returns the sightings with MACs resolved. A failure on some interfaces yields the
// others' sightings and res.Err == err; ErrClosed, a failed socket or a done ctx end the
// round early with what was collected.
func (s *Scanner) Round(ctx context.Context) (RoundResult, error) {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	if err := s.stopped(); err != nil {
		return RoundResult{}, err
	}
	s.round++
	st := &roundState{number: s.round, probes: map[uint16]probe{},
		seen: map[netip.Addr]*Sighting{}, own: ownAddrs()}
	res := RoundResult{Round: s.round, Start: s.opts.Now()}
	s.mu.Lock()
	s.cur = st
	s.mu.Unlock()

	var errs []error
	w := s.opts.Window
	reprobeDelay := w / 4
	st.start = time.Now()
	for _, l := range s.links {
		errs = append(errs, s.probe(st, l, allNodes, false))
	}
	lastProbe := st.start
	timer := time.NewTimer(reprobeDelay)
	defer timer.Stop()
	reprobed := false
	var stopErr error
listen:
	for {
		select {
		case <-ctx.Done():
			stopErr = ctx.Err()
			break listen
		case <-s.readerDone:
			stopErr = s.stopped()
			break listen
		case <-timer.C:
		}
		now := time.Now()
		if !reprobed {
			reprobed = true
			res.Reprobed, errs = s.reprobe(st, errs)
			lastProbe = now
			timer.Reset(w)
			continue
		}
		// Hosts still arriving after the re-probe are waiting on neighbour resolution: hold on
		// for their next solicitation.
		s.mu.Lock()
		end := lastProbe.Add(w)
		if st.lastMulticast.After(st.start.Add(reprobeDelay)) {
			if t := st.lastMulticast.Add(lateHold); t.After(end) {
				end = t
			}
		}
		s.mu.Unlock()
		if hardEnd := st.start.Add(reprobeDelay + w + 2*lateHold); end.After(hardEnd) {
			end = hardEnd
		}
		if !now.Before(end) {
			break
		}
		timer.Reset(end.Sub(now))
	}

	s.mu.Lock()
	s.cur = nil
	probes := len(st.probes)
	sightings := make([]Sighting, 0, len(st.seen))
	for _, sg := range st.seen {
		sightings = append(sightings, *sg)
	}
	if !st.lastNew.IsZero() {
		res.LastReply = st.lastNew.Sub(st.start)
	}
	s.mu.Unlock()

	s.rememberResponders(sightings)
	sightings = s.identify(ctx, sightings)
	sort.Slice(sightings, func(i, j int) bool {
		if sightings[i].Iface != sightings[j].Iface {
			return sightings[i].Iface < sightings[j].Iface
		}
		return sightings[i].Addr.Less(sightings[j].Addr)
	})
	res.Sightings = sightings
	res.Probes = probes
	res.Duration = time.Since(st.start)
	res.Err = errors.Join(errs...)
	if stopErr != nil {
		return res, stopErr
	}
	return res, res.Err
}

// reprobe is step 2 of a round: second multicast probes where new hosts answered, and unicast
// probes to known hosts that stayed silent.
func (s *Scanner) reprobe(st *roundState, errs []error) ([]string, []error) {
	var again []*link
	s.mu.Lock()
	for _, sg := range st.seen {
		l := s.linkByName(sg.Iface)
		if l != nil && !sg.Unicast && !s.prev[l.index][sg.Addr] && !containsLink(again, l) {
			again = append(again, l)
		}
	}
	s.mu.Unlock()
	sort.Slice(again, func(i, j int) bool { return again[i].index < again[j].index })
	var names []string
	for _, l := range again {
		errs = append(errs, s.probe(st, l, allNodes, false))
		names = append(names, l.name)
	}
	if s.opts.Unicast == nil {
		return names, errs
	}
	targets := s.opts.Unicast()
	const maxUnicast = 60000 // sequence numbers are 16 bits and must stay unique in a round
	sent := map[netip.Addr]bool{}
	for _, a := range targets {
		l := s.unicastLink(a)
		if l == nil {
			continue
		}
		a = a.WithZone(l.name)
		s.mu.Lock()
		skip := st.seen[a] != nil || st.own[a.WithZone("")] || sent[a] || len(st.probes) >= maxUnicast
		s.mu.Unlock()
		if skip {
			continue
		}
		sent[a] = true
		errs = append(errs, s.probe(st, l, a, true))
	}
	return names, errs
}

// unicastLink finds the probed interface a known address is pinned to, logging (once per
// address) why an address cannot be probed.
func (s *Scanner) unicastLink(a netip.Addr) *link {
	why := ""
	var l *link
	switch {
	case !a.Is6() || !a.IsLinkLocalUnicast():
		why = "not an IPv6 link-local address"
	case a.Zone() == "":
		why = "no zone: a link-local address must say its interface (fe80::…%eth0)"
	default:
		l = s.linkByName(a.Zone())
		if l == nil {
			if i, err := strconv.Atoi(a.Zone()); err == nil {
				l = s.byIndex[i]
			}
		}
		if l == nil {
			why = "its interface is not one the scanner probes"
		}
	}
	if l == nil && !s.warned[a] {
		s.warned[a] = true
		s.opts.Logf("scanner: not probing %v by unicast: %s", a, why)
	}
	return l
}

// probe sends one echo request and registers it so that its reply can be matched.
func (s *Scanner) probe(st *roundState, l *link, dst netip.Addr, unicast bool) error {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	st.probes[seq] = probe{link: l, sent: time.Now(), unicast: unicast}
	s.mu.Unlock()
	echo := &icmp.Echo{ID: int(s.id), Seq: int(seq), Data: s.nonce[:]}
	if err := s.sock.send(l, dst, echo); err != nil {
		s.mu.Lock()
		delete(st.probes, seq)
		s.mu.Unlock()
		return sendError(l, dst, err)
	}
	return nil
}

func sendError(l *link, dst netip.Addr, err error) error {
	hint := ""
	switch {
	case errors.Is(err, syscall.ENETDOWN), errors.Is(err, syscall.ENETUNREACH):
		hint = fmt.Sprintf(": is it down? bring it up with \"ip link set %s up\"", l.name)
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		hint = ": the interface is gone; restart the scanner once it is back"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = ": it has no usable IPv6 link-local address (any more)"
	}
	return fmt.Errorf("scanner: probing %v on %s: %w%s", dst, l.name, err, hint)
}

// readLoop hands every echo reply to the round in progress until the socket is closed.
func (s *Scanner) readLoop() {
	defer close(s.readerDone)
	buf := make([]byte, 2048)
	failures := 0
	for {
		r, ok, err := s.sock.read(buf)
		at := time.Now()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			if failures++; failures > 100 {
				s.mu.Lock()
				s.fatal = fmt.Errorf("scanner: reading from the ICMPv6 socket: %w", err)
				s.mu.Unlock()
				return
			}
			s.opts.Logf("scanner: reading from the ICMPv6 socket: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		failures = 0
		if ok {
			s.collect(r, at)
		}
	}
}

// collect records a reply if it answers a probe of the current round.
func (s *Scanner) collect(r reply, at time.Time) {
	if s.sock.kind == SocketRaw && r.id != s.id {
		return // another program's ping; raw sockets see them all
	}
	if !bytes.HasPrefix(r.data, s.nonce[:]) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cur
	if st == nil {
		return
	}
	p, ok := st.probes[r.seq]
	l := s.byIndex[r.ifindex]
	if !ok || l == nil || st.own[r.src] {
		return // late (earlier round), on a link we do not probe, or ourselves
	}
	addr := r.src.WithZone(l.name)
	if sg := st.seen[addr]; sg != nil {
		if !p.unicast {
			sg.Unicast = false
		}
		return
	}
	st.seen[addr] = &Sighting{Iface: l.name, Addr: addr, RTT: at.Sub(p.sent),
		Time: s.opts.Now(), Round: st.number, Unicast: p.unicast}
	st.lastNew = at
	if !p.unicast {
		st.lastMulticast = at
	}
}

// rememberResponders keeps this round's multicast responders to tell new hosts next round.
func (s *Scanner) rememberResponders(sightings []Sighting) {
	prev := map[int]map[netip.Addr]bool{}
	for _, sg := range sightings {
		l := s.linkByName(sg.Iface)
		if l == nil || sg.Unicast {
			continue
		}
		if prev[l.index] == nil {
			prev[l.index] = map[netip.Addr]bool{}
		}
		prev[l.index][sg.Addr] = true
	}
	s.mu.Lock()
	s.prev = prev
	s.mu.Unlock()
}

func (s *Scanner) stopped() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.fatal
}

func (s *Scanner) linkByName(name string) *link {
	for _, l := range s.links {
		if l.name == name {
			return l
		}
	}
	return nil
}

func containsLink(ls []*link, l *link) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// ownAddrs are this machine's addresses: replies from them are dropped.
func ownAddrs() map[netip.Addr]bool {
	own := map[netip.Addr]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return own
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				own[ip.Unmap()] = true
			}
		}
	}
	return own
}

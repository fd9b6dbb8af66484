package scanner

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// newScanner scans only the test bridge: a test must never probe the machine's real links.
func newScanner(t testing.TB, f *fleet, opts Options) *Scanner {
	t.Helper()
	opts.Interfaces = []string{f.Bridge}
	if opts.Window == 0 {
		opts.Window = 300 * time.Millisecond
	}
	opts.Logf = t.Logf
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func round(t testing.TB, s *Scanner) RoundResult {
	t.Helper()
	res, err := s.Round(context.Background())
	if err != nil {
		t.Fatalf("round %d: %v", res.Round, err)
	}
	return res
}

// byMAC indexes sightings by MAC; a MAC seen twice fails the test.
func byMAC(t testing.TB, sgs []Sighting) map[string]Sighting {
	t.Helper()
	m := map[string]Sighting{}
	for _, sg := range sgs {
		if _, dup := m[sg.MAC]; dup {
			t.Fatalf("MAC %q sighted twice: %+v", sg.MAC, sgs)
		}
		m[sg.MAC] = sg
	}
	return m
}

func TestFindsEveryHostInTheFirstRound(t *testing.T) {
	for _, n := range []int{3, 10} {
		t.Run(fmt.Sprintf("%d-hosts", n), func(t *testing.T) {
			f := startFleet(t, fleetOptions{N: n})
			f.flushNeighbours(t) // a cold link: nobody knows anybody
			s := newScanner(t, f, Options{})
			res := round(t, s)
			seen := byMAC(t, res.Sightings)
			for _, h := range f.Hosts {
				sg, ok := seen[h.MAC]
				if !ok {
					t.Errorf("host %s (%s) not found in round 1", h.MAC, h.LinkLocal)
					continue
				}
				if sg.Addr != h.LinkLocal || sg.Iface != f.Bridge || sg.MACFrom != MACFromNeigh || sg.Unicast || sg.Round != 1 {
					t.Errorf("sighting %+v, want %s on %s from the neighbour table by multicast", sg, h.LinkLocal, f.Bridge)
				}
				if sg.RTT <= 0 || sg.RTT > time.Second {
					t.Errorf("RTT %v", sg.RTT)
				}
			}
			if len(res.Sightings) != n {
				t.Errorf("%d sightings, want %d: %+v", len(res.Sightings), n, res.Sightings)
			}
			// Round 1 is cold: every host is new, so the bridge is probed twice.
			if !slices.Equal(res.Reprobed, []string{f.Bridge}) || res.Probes != 2 {
				t.Errorf("reprobed %v with %d probes, want the bridge and 2", res.Reprobed, res.Probes)
			}
			// Round 2 is warm: nobody new, one probe.
			res = round(t, s)
			if len(res.Sightings) != n || len(res.Reprobed) != 0 || res.Probes != 1 {
				t.Errorf("round 2: %d sightings, reprobed %v, %d probes", len(res.Sightings), res.Reprobed, res.Probes)
			}
			t.Logf("round 2: last reply after %v", res.LastReply)
		})
	}
}

func TestHostIgnoringMulticastIsProbedByUnicast(t *testing.T) {
	f := startFleet(t, fleetOptions{N: 3})
	quiet := f.Hosts[1]
	quiet.Sysctl("net.ipv6.icmp.echo_ignore_multicast", "1")

	// Multicast alone misses it: without this the test below could pass for the wrong reason.
	s := newScanner(t, f, Options{})
	res := round(t, s)
	if _, ok := byMAC(t, res.Sightings)[quiet.MAC]; ok || len(res.Sightings) != 2 {
		t.Fatalf("multicast alone found %+v; the host ignoring multicast must not be among them", res.Sightings)
	}
	s.Close()

	// Known by address: found every round, marked as unicast-only; the others are not unicast-probed.
	known := func() []netip.Addr {
		var as []netip.Addr
		for _, h := range f.Hosts {
			as = append(as, h.LinkLocal)
		}
		return as
	}
	s = newScanner(t, f, Options{Unicast: known})
	for r := 0; r < 3; r++ {
		res = round(t, s)
		seen := byMAC(t, res.Sightings)
		sg, ok := seen[quiet.MAC]
		if !ok || !sg.Unicast || sg.Addr != quiet.LinkLocal || sg.MACFrom != MACFromNeigh {
			t.Fatalf("round %d: quiet host sighting %+v (found %v), want it by unicast", res.Round, sg, ok)
		}
		for _, h := range f.Hosts {
			if h != quiet && (seen[h.MAC].Unicast || seen[h.MAC].MAC == "") {
				t.Errorf("round %d: host %s: %+v, want it by multicast", res.Round, h.MAC, seen[h.MAC])
			}
		}
		if len(res.Sightings) != 3 {
			t.Errorf("round %d: %d sightings, want 3", res.Round, len(res.Sightings))
		}
	}
}

func TestStablePrivacyHostKeyedByMAC(t *testing.T) {
	f := startFleet(t, fleetOptions{N: 2, StablePrivacy: []int{0}})
	h := f.Hosts[0]
	if _, ok := DecodeEUI64(h.LinkLocal); ok {
		t.Fatalf("host address %s is EUI-64; the fleet did not give it a stable-privacy address", h.LinkLocal)
	}
	s := newScanner(t, f, Options{})
	tr := NewTracker(TrackerOptions{})
	for r := 1; r <= 3; r++ {
		if r == 3 {
			// Forget our neighbours while they still know us: they answer without soliciting,
			// and the scanner must resolve them itself.
			sh(t, "ip", "-6", "neigh", "flush", "dev", f.Bridge)
		}
		res := round(t, s)
		sg, ok := byMAC(t, res.Sightings)[h.MAC]
		if !ok || sg.MACFrom != MACFromNeigh || sg.Addr != h.LinkLocal {
			t.Fatalf("round %d: sighting %+v (found %v), want MAC %s from the neighbour table", r, sg, ok, h.MAC)
		}
		trs := tr.Observe(res.Round, time.Now(), res.Sightings)
		if r > 1 && len(trs) != 0 {
			t.Errorf("round %d: transitions %q, want none", r, kinds(trs))
		}
	}
	if snap := tr.Snapshot(); len(snap) != 2 || snap[0].Key != snap[0].MAC || snap[1].Key != snap[1].MAC {
		t.Errorf("tracker hosts %+v, want two keyed by MAC", snap)
	}
}

func TestDownHostIsLostThenAliveAgain(t *testing.T) {
	f := startFleet(t, fleetOptions{N: 3})
	s := newScanner(t, f, Options{Window: 200 * time.Millisecond})
	const k = 3
	tr := NewTracker(TrackerOptions{LostAfter: k})
	victim := f.Hosts[2]
	observe := func() []Transition {
		res := round(t, s)
		return tr.Observe(res.Round, time.Now(), res.Sightings)
	}
	if got := observe(); len(got) != 3 {
		t.Fatalf("round 1: transitions %q, want 3 new", kinds(got))
	}
	victim.Down()
	for r := 1; r <= k; r++ {
		got := observe()
		want := []string(nil)
		if r == k {
			want = []string{victim.MAC + " lost"}
		}
		if !slices.Equal(kinds(got), want) {
			t.Fatalf("%d rounds after Down: transitions %q, want %q", r, kinds(got), want)
		}
	}
	victim.Up()
	var back []string
	for r := 1; r <= 3 && len(back) == 0; r++ {
		back = kinds(observe())
	}
	if want := []string{victim.MAC + " alive"}; !slices.Equal(back, want) {
		t.Fatalf("after Up: transitions %q, want %q", back, want)
	}
}

func TestNeverListsItself(t *testing.T) {
	f := startFleet(t, fleetOptions{N: 2})
	own := ownLinkLocal(t, f.Bridge)
	// Even when the caller asks for our own address by unicast.
	s := newScanner(t, f, Options{Unicast: func() []netip.Addr { return []netip.Addr{own} }})
	for r := 0; r < 2; r++ {
		res := round(t, s)
		for _, sg := range res.Sightings {
			if sg.Addr.WithZone("") == own.WithZone("") {
				t.Fatalf("the scanning machine listed itself: %+v", sg)
			}
		}
		if len(res.Sightings) != 2 {
			t.Errorf("%d sightings, want the 2 hosts: %+v", len(res.Sightings), res.Sightings)
		}
	}
}

func TestInterfaceErrors(t *testing.T) {
	requireRoot(t)
	noIPv6 := dummyLink(t, true, "disable_ipv6=1")
	down := dummyLink(t, false)
	tests := []struct {
		name  string
		iface string
		err   error
		says  []string
	}{
		{"no IPv6", noIPv6, ErrNoLinkLocal, []string{"IPv6 is disabled", "sysctl -w net.ipv6.conf." + noIPv6 + ".disable_ipv6=0"}},
		{"down", down, ErrInterfaceDown, []string{"is down", "ip link set " + down + " up"}},
		{"nonexistent", "nosuch0", ErrNoSuchInterface, []string{"does not exist", "interfaces that could be scanned: "}},
		{"loopback", "lo", ErrLoopback, []string{"only this machine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Interfaces: []string{tt.iface}})
			if err == nil {
				s.Close()
				t.Fatalf("New on %s succeeded", tt.iface)
			}
			var ie *InterfaceError
			if !errors.Is(err, tt.err) || !errors.As(err, &ie) || ie.Name != tt.iface {
				t.Fatalf("error %v, want %v naming %s", err, tt.err, tt.iface)
			}
			msg := err.Error()
			for _, want := range append(tt.says, `"`+tt.iface+`"`) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			t.Log(msg)
		})
	}
	// Interfaces() reports the same reasons without failing.
	infos, err := Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if (in.Name == noIPv6 || in.Name == down) && (in.Usable || in.Problem == nil) {
			t.Errorf("%s listed as usable: %+v", in.Name, in)
		}
	}
}

func TestDefaultSelection(t *testing.T) {
	f := startFleet(t, fleetOptions{N: 2})
	links, err := chooseLinks(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.name)
	}
	if !slices.Contains(names, f.Bridge) || slices.Contains(names, "lo") || slices.Contains(names, f.Hosts[0].veth) {
		t.Errorf("default interfaces %v: want the bridge %s, not lo nor its ports", names, f.Bridge)
	}
	// A bridge port named explicitly is refused, pointing at the bridge.
	_, err = chooseLinks([]string{f.Hosts[0].veth})
	if !errors.Is(err, ErrBridgePort) || !strings.Contains(err.Error(), "scan "+f.Bridge+" instead") {
		t.Errorf("error %v, want a bridge port error pointing at %s", err, f.Bridge)
	}
}

func TestRunRoundsUntilCancelled(t *testing.T) {
	f := startFleet(t, fleetOptions{N: 2})
	s := newScanner(t, f, Options{Interval: 300 * time.Millisecond, Window: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var got []RoundResult
	start := time.Now()
	err := s.Run(ctx, func(r RoundResult) {
		got = append(got, r)
		if len(got) == 3 {
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i, r := range got {
		if r.Round != uint64(i+1) || len(r.Sightings) != 2 || r.Err != nil {
			t.Errorf("round %d: %+v", i+1, r)
		}
	}
	// Rounds start Interval apart; the third ends a round's length after the second started.
	if el := time.Since(start); el < 600*time.Millisecond || el > 2*time.Second {
		t.Errorf("3 rounds took %v, want about 2 intervals and a round", el)
	}
	s.Close()
	if err := s.Run(context.Background(), func(RoundResult) { t.Error("round after Close") }); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
}

// An interface failing mid-run costs its own sightings only, and the error names it.
func TestInterfaceGoingDownMidRun(t *testing.T) {
	f := startFleet(t, fleetOptions{N: 2})
	other := "dsw" + randomTag()
	sh(t, "ip", "link", "add", other, "type", "veth", "peer", "name", other+"p")
	t.Cleanup(func() { shQuiet("ip", "link", "del", other) })
	for _, l := range []string{other, other + "p"} {
		sh(t, "sysctl", "-qw", "net.ipv6.conf."+l+".accept_dad=0")
		sh(t, "ip", "link", "set", l, "up")
	}
	ownLinkLocal(t, other)
	s, err := New(Options{Interfaces: []string{f.Bridge, other}, Window: 100 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sh(t, "ip", "link", "set", other, "down")
	res, err := s.Round(context.Background())
	if err == nil || res.Err != err || !strings.Contains(err.Error(), " on "+other+":") ||
		!strings.Contains(err.Error(), "ip link set "+other+" up") {
		t.Fatalf("round error %v, want one naming %s", err, other)
	}
	t.Log(err)
	if len(res.Sightings) != 2 {
		t.Errorf("sightings %+v, want the 2 hosts on %s", res.Sightings, f.Bridge)
	}
}

func TestUnicastTargetsMustBePinned(t *testing.T) {
	var logged []string
	s := &Scanner{opts: Options{Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }},
		links:   []*link{{name: "br0", index: 7}},
		byIndex: map[int]*link{7: {name: "br0", index: 7}}, warned: map[netip.Addr]bool{}}
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"fe80::1%br0", true},
		{"fe80::1%7", true},
		{"fe80::1", false},         // no zone
		{"fe80::1%eth9", false},    // not a probed interface
		{"fd00::1%br0", false},     // not link-local
		{"2001:db8::1%br0", false}, // not link-local
		{"ff02::1%br0", false},     // multicast
	} {
		if l := s.unicastLink(netip.MustParseAddr(tt.addr)); (l != nil) != tt.ok {
			t.Errorf("unicastLink(%s) = %v, want ok=%v", tt.addr, l, tt.ok)
		}
	}
	s.unicastLink(netip.MustParseAddr("fe80::1")) // logged once only
	if len(logged) != 5 {
		t.Errorf("logged %q, want one line per unusable address", logged)
	}
}

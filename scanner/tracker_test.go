package scanner

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// fakeClock advances one Interval per round, as Run would.
type fakeClock struct{ t time.Time }

func (c *fakeClock) tick() time.Time { c.t = c.t.Add(5 * time.Second); return c.t }

func sighting(mac, addr string) Sighting {
	return Sighting{Iface: "br0", Addr: netip.MustParseAddr(addr), MAC: mac, MACFrom: MACFromNeigh, RTT: time.Millisecond}
}

func kinds(trs []Transition) []string {
	var out []string
	for _, tr := range trs {
		out = append(out, fmt.Sprintf("%s %s", tr.Host.Key, tr.Kind))
	}
	return out
}

func TestTrackerLifecycle(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	tr := NewTracker(TrackerOptions{LostAfter: 3, GoneAfter: 6})
	a := sighting("02:00:00:00:00:0a", "fe80::a%br0")
	b := sighting("02:00:00:00:00:0b", "fe80::b%br0")
	start := clock.t

	type step struct {
		seen []Sighting
		want []string
	}
	steps := []step{
		1:  {[]Sighting{a, b}, []string{"02:00:00:00:00:0a new", "02:00:00:00:00:0b new"}},
		2:  {[]Sighting{a, b}, nil},
		3:  {[]Sighting{a}, nil}, // b missed 1
		4:  {[]Sighting{a}, nil}, // 2
		5:  {[]Sighting{a}, []string{"02:00:00:00:00:0b lost"}},
		6:  {[]Sighting{a}, nil},
		7:  {[]Sighting{a, b}, []string{"02:00:00:00:00:0b alive"}},
		8:  {nil, nil},
		9:  {nil, nil},
		10: {nil, []string{"02:00:00:00:00:0a lost", "02:00:00:00:00:0b lost"}},
		11: {nil, nil},
		12: {nil, nil},
		13: {nil, []string{"02:00:00:00:00:0a gone", "02:00:00:00:00:0b gone"}},
		14: {nil, nil}, // gone stays gone, silently
		15: {[]Sighting{b}, []string{"02:00:00:00:00:0b alive"}},
	}
	for round := 1; round < len(steps); round++ {
		st := steps[round]
		now := clock.tick()
		got := kinds(tr.Observe(uint64(round), now, st.seen))
		if !slices.Equal(got, st.want) {
			t.Fatalf("round %d: transitions %q, want %q", round, got, st.want)
		}
	}

	snap := tr.Snapshot()
	if len(snap) != 2 {
		t.Fatalf("snapshot has %d hosts, want 2", len(snap))
	}
	ha, hb := snap[0], snap[1]
	if ha.State != Gone || ha.LastRound != 7 || ha.Missed != 8 || !ha.FirstSeen.Equal(start.Add(5*time.Second)) {
		t.Errorf("host a = %+v", ha)
	}
	if hb.State != Alive || hb.LastRound != 15 || hb.Missed != 0 || !hb.LastSeen.Equal(clock.t) {
		t.Errorf("host b = %+v", hb)
	}
}

func TestTrackerSkippedRoundsGoStraightToGone(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	now := time.Unix(0, 0)
	tr.Observe(1, now, []Sighting{sighting("02:00:00:00:00:01", "fe80::1%br0")})
	got := tr.Observe(1+DefaultGoneAfter, now.Add(time.Hour), nil)
	if len(got) != 1 || got[0].Kind != TransitionGone || got[0].From != Alive {
		t.Fatalf("transitions %+v, want one gone from alive", got)
	}
}

func TestTrackerAddressChangeKeepsOneHost(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	now := time.Unix(100, 0)
	mac := "02:00:00:00:00:01"
	tr.Observe(1, now, []Sighting{sighting(mac, "fe80::1%br0")})
	got := tr.Observe(2, now.Add(time.Second), []Sighting{sighting(mac, "fe80::8c3a:1b5e:9d2f:4a17%br0")})
	if len(got) != 1 || got[0].Kind != TransitionAddressChanged {
		t.Fatalf("transitions %q, want one address-changed", kinds(got))
	}
	if old := got[0].OldAddrs; len(old) != 1 || old[0] != netip.MustParseAddr("fe80::1%br0") {
		t.Errorf("old addresses %v", old)
	}
	if len(tr.Snapshot()) != 1 {
		t.Errorf("snapshot %+v, want one host", tr.Snapshot())
	}
	// Lost, then back on yet another address: alive and address-changed, in that order.
	for r := uint64(3); r <= 5; r++ {
		tr.Observe(r, now, nil)
	}
	got = tr.Observe(6, now, []Sighting{sighting(mac, "fe80::2%br0")})
	if want := []string{mac + " alive", mac + " address-changed"}; !slices.Equal(kinds(got), want) {
		t.Fatalf("transitions %q, want %q", kinds(got), want)
	}
	if got[0].From != Lost {
		t.Errorf("alive from %q, want lost", got[0].From)
	}
}

func TestTrackerMergesSightingsOfOneHost(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	mac := "02:00:00:00:00:01"
	s1 := sighting(mac, "fe80::1%br0")
	s1.RTT = 3 * time.Millisecond
	s2 := sighting(mac, "fe80::1%br1")
	s2.Iface, s2.RTT, s2.Unicast = "br1", time.Millisecond, true
	got := tr.Observe(1, time.Unix(0, 0), []Sighting{s2, s1})
	if len(got) != 1 {
		t.Fatalf("transitions %q, want one new host", kinds(got))
	}
	h := got[0].Host
	if h.RTT != time.Millisecond || h.Unicast || !slices.Equal(h.Ifaces, []string{"br0", "br1"}) || len(h.Addrs) != 2 {
		t.Errorf("host %+v", h)
	}
}

func TestTrackerWithoutMACKeysByAddress(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	sg := sighting("", "fe80::8c3a:1b5e:9d2f:4a17%br0")
	got := tr.Observe(1, time.Unix(0, 0), []Sighting{sg})
	if len(got) != 1 || got[0].Host.Key != "addr:fe80::8c3a:1b5e:9d2f:4a17%br0" {
		t.Fatalf("transitions %+v", got)
	}
}

func TestTrackerOptionsDefaults(t *testing.T) {
	tr := NewTracker(TrackerOptions{LostAfter: 5, GoneAfter: 2})
	if tr.opts.LostAfter != 5 || tr.opts.GoneAfter != 6 {
		t.Errorf("options %+v: gone must come after lost", tr.opts)
	}
	tr = NewTracker(TrackerOptions{})
	if tr.opts.LostAfter != DefaultLostAfter || tr.opts.GoneAfter != DefaultGoneAfter {
		t.Errorf("defaults %+v", tr.opts)
	}
}

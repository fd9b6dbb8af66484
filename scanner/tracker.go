package scanner

import (
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"
)

// Liveness of a host as the Tracker judges it. The values match store.Host.Liveness.
type Liveness string

const (
	Alive Liveness = "alive" // answered in the last LostAfter rounds
	Lost  Liveness = "lost"  // silent for LostAfter rounds
	Gone  Liveness = "gone"  // silent for GoneAfter rounds
)

// TransitionKind names a change the Tracker reports.
type TransitionKind string

const (
	TransitionNew            TransitionKind = "new"             // first sighting of a host
	TransitionAlive          TransitionKind = "alive"           // back after being lost or gone
	TransitionLost           TransitionKind = "lost"            // missed LostAfter rounds
	TransitionGone           TransitionKind = "gone"            // missed GoneAfter rounds
	TransitionAddressChanged TransitionKind = "address-changed" // answers from other addresses
)

// Defaults for TrackerOptions.
const (
	DefaultLostAfter = 3
	DefaultGoneAfter = 20
)

// TrackerOptions configure a Tracker. Zero values mean the defaults.
type TrackerOptions struct {
	LostAfter int // rounds missed before a host is lost; default 3
	GoneAfter int // rounds missed before a host is gone; default 20, at least LostAfter+1
}

// HostState is what the Tracker knows of one host.
type HostState struct {
	// Key identifies the host: its MAC, or "addr:" and its zoned address when no MAC was
	// learned (such a host becomes a new one if its address changes).
	Key       string
	MAC       string
	State     Liveness
	FirstSeen time.Time
	LastSeen  time.Time
	LastRound uint64        // round it last answered in
	Missed    int           // rounds missed since then, as of the last Observe
	RTT       time.Duration // smallest round-trip time in the round it last answered in
	Addrs     []netip.Addr  // addresses it answered from in that round, sorted
	Ifaces    []string      // interfaces it answered on in that round, sorted
	Unicast   bool          // it answered only unicast probes in that round
}

// Transition is one change of one host.
type Transition struct {
	Kind     TransitionKind
	Host     HostState    // after the change
	From     Liveness     // state before ("" for new)
	OldAddrs []netip.Addr // for TransitionAddressChanged
	Round    uint64
	Time     time.Time
}

// Tracker turns rounds of sightings into host liveness, keyed by MAC. It keeps no clock of its
// own (Observe is given the time) and does no IO. It is safe for concurrent use.
type Tracker struct {
	opts  TrackerOptions
	mu    sync.Mutex
	hosts map[string]*HostState
}

// NewTracker returns an empty Tracker.
func NewTracker(opts TrackerOptions) *Tracker {
	if opts.LostAfter <= 0 {
		opts.LostAfter = DefaultLostAfter
	}
	if opts.GoneAfter <= 0 {
		opts.GoneAfter = DefaultGoneAfter
	}
	if opts.GoneAfter <= opts.LostAfter {
		opts.GoneAfter = opts.LostAfter + 1
	}
	return &Tracker{opts: opts, hosts: map[string]*HostState{}}
}

// HostKey is the key the Tracker files a sighting under.
func HostKey(sg Sighting) string {
	if sg.MAC != "" {
		return sg.MAC
	}
	return "addr:" + sg.Addr.String()
}

// Observe records one round's sightings and returns the transitions it caused, sorted by host
// key. Hosts not in sightings have missed the round. Rounds must increase; a host missing
// from several skipped round numbers has missed them all.
func (t *Tracker) Observe(round uint64, now time.Time, sightings []Sighting) []Transition {
	t.mu.Lock()
	defer t.mu.Unlock()
	groups := map[string][]Sighting{}
	for _, sg := range sightings {
		k := HostKey(sg)
		groups[k] = append(groups[k], sg)
	}
	var out []Transition
	emit := func(kind TransitionKind, h *HostState, from Liveness, old []netip.Addr) {
		out = append(out, Transition{Kind: kind, Host: h.clone(), From: from, OldAddrs: old, Round: round, Time: now})
	}
	for key, sgs := range groups {
		h, known := t.hosts[key]
		if !known {
			h = &HostState{Key: key, MAC: sgs[0].MAC, FirstSeen: now}
			t.hosts[key] = h
		}
		from, oldAddrs := h.State, h.Addrs
		h.see(round, now, sgs)
		switch {
		case !known:
			emit(TransitionNew, h, "", nil)
		case from != Alive:
			emit(TransitionAlive, h, from, nil)
		}
		if known && !slices.Equal(oldAddrs, h.Addrs) {
			emit(TransitionAddressChanged, h, h.State, oldAddrs)
		}
	}
	for key, h := range t.hosts {
		if _, seen := groups[key]; seen {
			continue
		}
		if round > h.LastRound {
			h.Missed = int(round - h.LastRound)
		}
		from := h.State
		switch {
		case h.Missed >= t.opts.GoneAfter && from != Gone:
			h.State = Gone
			emit(TransitionGone, h, from, nil)
		case h.Missed >= t.opts.LostAfter && from == Alive:
			h.State = Lost
			emit(TransitionLost, h, from, nil)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Host.Key < out[j].Host.Key })
	return out
}

// Snapshot returns every host the Tracker knows, gone ones included, sorted by key.
func (t *Tracker) Snapshot() []HostState {
	t.mu.Lock()
	defer t.mu.Unlock()
	hosts := make([]HostState, 0, len(t.hosts))
	for _, h := range t.hosts {
		hosts = append(hosts, h.clone())
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Key < hosts[j].Key })
	return hosts
}

func (h *HostState) see(round uint64, now time.Time, sgs []Sighting) {
	h.State, h.LastSeen, h.LastRound, h.Missed = Alive, now, round, 0
	h.RTT, h.Unicast = sgs[0].RTT, true
	addrs := map[netip.Addr]bool{}
	ifaces := map[string]bool{}
	for _, sg := range sgs {
		h.RTT = min(h.RTT, sg.RTT)
		h.Unicast = h.Unicast && sg.Unicast
		addrs[sg.Addr] = true
		ifaces[sg.Iface] = true
	}
	h.Addrs = h.Addrs[:0:0]
	for a := range addrs {
		h.Addrs = append(h.Addrs, a)
	}
	slices.SortFunc(h.Addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	h.Ifaces = h.Ifaces[:0:0]
	for i := range ifaces {
		h.Ifaces = append(h.Ifaces, i)
	}
	slices.Sort(h.Ifaces)
}

func (h *HostState) clone() HostState {
	c := *h
	c.Addrs = slices.Clone(h.Addrs)
	c.Ifaces = slices.Clone(h.Ifaces)
	return c
}

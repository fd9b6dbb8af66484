package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/scanner"
	"github.com/discoterm/discoterm/store"
)

// DiscoverOptions configure live discovery.
type DiscoverOptions struct {
	Interfaces []string      // empty: every usable interface
	Interval   time.Duration // between rounds; default 5s
	Window     time.Duration // listen after each probe; default 1s
	LostAfter  int           // missed rounds before lost; default 3
	GoneAfter  int           // missed rounds before gone; default 20
	// Rounds stops after this many rounds (0: until ctx ends).
	Rounds int
	// BackoffMin is the first wait after a failed catch-up; it doubles up to
	// BackoffMax. Defaults 1m and 1h.
	BackoffMin, BackoffMax time.Duration
}

// discovery is the state of a running Discover.
type discovery struct {
	e       *Engine
	opts    DiscoverOptions
	tracker *scanner.Tracker
	learned map[string]bool      // MACs of hosts known and trusted: nothing to learn
	retry   map[string]time.Time // MAC → when to try learning again after a failure

	mu      sync.Mutex
	running map[string]bool      // host IDs with a catch-up in progress
	backoff map[string]time.Time // host ID → no catch-up before
	fails   map[string]int
	// handedOver are netboot machines just handed over (handover.go):
	// caught up from the start whatever their branch's policy.
	handedOver map[string]bool
	// booting are registered machines whose sshd did not answer yet
	// (handover.go retrySoon): MAC → when that began.
	booting   map[string]time.Time
	soon      map[string]bool          // MACs to retry soon, applied after the round's learns
	slots     chan struct{}            // bounds catch-ups at once across the fleet
	perBranch map[string]chan struct{} // bounds them per branch (CatchUp.Parallel)
	wg        sync.WaitGroup
	drift     driftWatch // periodic drift checks (drift_watch.go)
}

// Discover scans for hosts until ctx ends (or opts.Rounds rounds), keeping
// the store's liveness data current, learning new hosts over SSH, and
// catching up hosts that come back behind their branch where the branch's
// policy says so. Its progress is reported as events.
func (e *Engine) Discover(ctx context.Context, opts DiscoverOptions) error {
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = time.Minute
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = time.Hour
	}
	d := &discovery{e: e, opts: opts, learned: map[string]bool{}, retry: map[string]time.Time{}, running: map[string]bool{},
		backoff: map[string]time.Time{}, fails: map[string]int{}, handedOver: map[string]bool{}, booting: map[string]time.Time{}, soon: map[string]bool{}, slots: make(chan struct{}, 4),
		tracker: scanner.NewTracker(scanner.TrackerOptions{LostAfter: opts.LostAfter, GoneAfter: opts.GoneAfter})}
	sc, err := scanner.New(scanner.Options{Interfaces: opts.Interfaces, Interval: opts.Interval, Window: opts.Window,
		Unicast: d.knownAddrs, Now: e.opts.Clock, Logf: func(f string, a ...any) { e.logf(LevelWarn, "scan: "+f, a...) }})
	if err != nil {
		e.emit(&ScanEvent{Header: Header{Level: LevelError, Message: "scan failed to start: " + err.Error()}, State: "error", Err: err.Error()})
		return err
	}
	defer sc.Close()
	d.seed()
	e.emit(&ScanEvent{Header: Header{Message: fmt.Sprintf("scanning %s with a %s socket", strings.Join(sc.InterfaceNames(), ", "), sc.SocketKind())}, State: "started"})
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	rounds := 0
	err = sc.Run(rctx, func(r scanner.RoundResult) {
		d.round(ctx, r)
		rounds++
		if opts.Rounds > 0 && rounds >= opts.Rounds {
			stop()
		}
	})
	d.wg.Wait()
	e.emit(&ScanEvent{Header: Header{Message: fmt.Sprintf("scan stopped after %d rounds", rounds)}, State: "stopped", Round: uint64(rounds)})
	return err
}

// seed tells the tracker about hosts the store knows by MAC, as seen in
// round 0: a known host that stays silent is then reported lost after K
// rounds, instead of simply never appearing, and is probed by unicast.
func (d *discovery) seed() {
	var seeds []scanner.Sighting
	if err := d.e.opts.Store.View(func(tx store.Tx) error {
		hosts, err := tx.Hosts()
		for _, h := range hosts {
			if h.MAC != "" && h.Trusted {
				d.learned[h.MAC] = true
			}
			a, perr := netip.ParseAddr(h.Addr)
			if h.MAC == "" || perr != nil || !a.IsLinkLocalUnicast() || a.Zone() == "" {
				continue
			}
			seen := h.LastSeen
			if seen.IsZero() {
				seen = d.e.now()
			}
			seeds = append(seeds, scanner.Sighting{Iface: a.Zone(), Addr: a, MAC: h.MAC, MACFrom: "store", Time: seen, RTT: h.RTT})
		}
		return err
	}); err != nil {
		d.e.logf(LevelError, "reading known hosts for the scan: %v", err)
	}
	if len(seeds) > 0 {
		d.tracker.Observe(0, d.e.now(), seeds)
	}
}

// knownAddrs are the link-local addresses of hosts seen before, probed by
// unicast when they ignore multicast echo.
func (d *discovery) knownAddrs() []netip.Addr {
	var out []netip.Addr
	for _, h := range d.tracker.Snapshot() {
		out = append(out, h.Addrs...)
	}
	return out
}

func (d *discovery) round(ctx context.Context, r scanner.RoundResult) {
	e := d.e
	now := r.Start
	if now.IsZero() {
		now = e.now()
	}
	trans := d.tracker.Observe(r.Round, now, r.Sightings)
	msg := fmt.Sprintf("round %d: %d replies, last after %s", r.Round, len(r.Sightings), r.LastReply.Round(time.Microsecond))
	ev := &ScanEvent{Header: Header{Message: msg}, State: "round", Round: r.Round, Replies: len(r.Sightings), LastReply: r.LastReply, Duration: r.Duration}
	if r.Err != nil {
		ev.Err, ev.Level = r.Err.Error(), LevelWarn
	}
	e.emit(ev)
	// Hosts not yet known and trusted: learn who they are (one SSH round
	// trip each, in parallel); after a failure (untrusted key, SSH refused)
	// try again a minute later, so an accepted key or a fixed login is
	// picked up without a restart.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var trusted map[string]bool // read once per round, only if someone is to learn
	// At most Parallel learns at once: a round may sight hundreds of new
	// MACs (a busy LAN, or one device answering as many).
	learning := make(chan struct{}, e.opts.Parallel)
	for _, hs := range d.tracker.Snapshot() {
		if hs.Missed > 0 {
			d.forgetBoot(hs.MAC) // silent: rebooting, perhaps; its next boot is retried soon again
		}
		if hs.MAC == "" || hs.Missed > 0 || d.learned[hs.MAC] || now.Before(d.retry[hs.MAC]) {
			continue
		}
		if trusted == nil {
			trusted = e.trustedMACs()
		}
		if trusted[hs.MAC] { // trusted meanwhile, e.g. from the console
			d.learned[hs.MAC] = true
			continue
		}
		d.retry[hs.MAC] = now.Add(time.Minute)
		wg.Add(1)
		learning <- struct{}{}
		go func(hs scanner.HostState) {
			defer wg.Done()
			defer func() { <-learning }()
			if d.learn(ctx, hs) {
				mu.Lock()
				d.learned[hs.MAC] = true
				mu.Unlock()
			}
		}(hs)
	}
	wg.Wait()
	d.retrySoon(now)
	changed := d.record(now, trans)
	var view func(store.Host) HostView
	for _, t := range trans {
		if t.Kind == scanner.TransitionNew {
			continue // announced by learn
		}
		if view == nil {
			view = e.viewer()
		}
		h := changed[t.Host.Key]
		name := orDefault(displayName(h), t.Host.MAC)
		lvl := LevelInfo
		if t.Host.State != scanner.Alive {
			lvl = LevelWarn
		}
		e.emit(&HostEvent{Header: Header{Level: lvl, Message: fmt.Sprintf("%s %s", name, t.Kind)}, Change: HostChange(t.Host.State), Host: view(h)})
	}
	// Only hosts that answered this very round are candidates: the store's
	// "alive" may be rounds old.
	answered := map[string]store.Host{}
	for _, sg := range r.Sightings {
		if h, ok := changed[sg.MAC]; ok && sg.MAC != "" {
			answered[sg.MAC] = h
		}
	}
	d.catchUp(ctx, answered)
	d.driftChecks(ctx) // engine/drift_watch.go: policy --drift-every
}

// learn identifies a new MAC over SSH: hostname, machine-id, OS and its
// discoterm state. A host whose key is not trusted is recorded as
// untrusted, with the fingerprint it offers.
func (d *discovery) learn(ctx context.Context, hs scanner.HostState) bool {
	e := d.e
	if len(hs.Addrs) == 0 {
		return false
	}
	addr := hs.Addrs[0].String()
	pctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout)
	defer cancel()
	t := remote.Target{Addr: addr, Name: addr}
	// A registered netboot machine must present the key made for it
	// (handover.go): no trust on first use, at whatever address.
	ho := e.machineHandover(hs.MAC)
	if ho != nil {
		ho.bind(&t)
	}
	res, err := e.opts.Remote.Probe(pctx, t, remote.ProbeRequest{StateDir: e.opts.StateDir})
	var hke *remote.HostKeyError
	if ho != nil && err != nil {
		err = ho.refused(err, addr)
	} else if errors.As(err, &hke) && !hke.Changed && !hke.Revoked {
		// Unknown at this address, but the key may be one a trusted host
		// holds (a host added by another address): the key proves who it
		// is. Ask again bound to that host's key.
		if h, ok := e.hostByKey(hke.Presented); ok {
			t.Name, t.HostKey, t.HostKeyType = displayName(h), h.HostKey, h.HostKeyType
			res, err = e.opts.Remote.Probe(pctx, t, remote.ProbeRequest{StateDir: e.opts.StateDir})
		}
	}
	now := e.now()
	if err != nil {
		// Keep one placeholder record per MAC; say so once per fingerprint
		// or error, not on every retry.
		id := "mac:" + hs.MAC
		fp, untrusted := "", errors.As(err, &hke) && !hke.Changed
		if untrusted {
			fp = hke.Presented
		}
		if ho != nil && !errors.As(err, new(*refusedMachine)) {
			d.bootingMachine(hs.MAC)
		}
		repeat := false
		var rec store.Host
		if serr := e.opts.Store.Update(func(tx store.Tx) error {
			h, gerr := tx.Host(id)
			if gerr != nil {
				h = store.Host{ID: id, MAC: hs.MAC, FirstSeen: now}
			}
			repeat = gerr == nil && h.HostKey == fp && (untrusted || h.LastError == err.Error())
			h.Addr, h.Addrs, h.HostKey, h.Trusted = addr, prependUnique(h.Addrs, addr), fp, false
			h.LastSeen, h.Liveness, h.RTT, h.Iface = now, string(scanner.Alive), hs.RTT, firstOf(hs.Ifaces)
			h.LastError = ""
			if !untrusted {
				h.LastError = err.Error()
			}
			rec = h
			return tx.PutHost(h)
		}); serr != nil {
			e.logf(LevelError, "recording new host %s (%s): %v", addr, hs.MAC, serr)
			return false
		}
		switch {
		case repeat:
		case untrusted:
			ev := e.hostEvent(rec, HostUntrusted, LevelWarn, fmt.Sprintf("new host %s (%s) offers host key %s; check it and accept it to manage the host", addr, hs.MAC, fp))
			ev.Fingerprint = fp
			e.emit(ev)
		case errors.As(err, new(*refusedMachine)):
			ev := e.hostEvent(rec, HostFailed, LevelError, err.Error())
			ev.Err, ev.Fingerprint = err.Error(), hke.Presented
			e.emit(ev)
		default:
			ev := e.hostEvent(rec, HostFailed, LevelWarn, fmt.Sprintf("new host %s (%s) answers but SSH failed", addr, hs.MAC))
			ev.Err = err.Error()
			e.emit(ev)
		}
		return false
	}
	var pk remote.PresentedKey
	if e.opts.KeyTrust != nil {
		pk, _ = e.opts.KeyTrust.PresentedKey(t)
	}
	var saved store.Host
	if err := e.opts.Store.Update(func(tx store.Tx) error {
		// A scanned host is never trusted on first use (its key was in
		// known_hosts), so a shared machine-id makes it a clone.
		h, known, err := identify(tx, res, addr, "", false)
		if err != nil {
			return err
		}
		if !known {
			h.FirstSeen = now
		}
		// It was untrusted or unreachable before: its placeholder goes.
		if err := tx.DeleteHost("mac:" + hs.MAC); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		h.MAC = hs.MAC
		if h.BoundMAC == "" {
			h.BoundMAC = hs.MAC // the MAC its trusted key answered from first
		}
		name := ""
		if ho != nil {
			name = ho.m.Name // the machine's name, not what it calls itself
			pk.Fingerprint, pk.Type = ho.fp, ho.typ
		}
		learnFacts(&h, res, pk, name)
		if h.Addr == "" || isLinkLocal(h.Addr) {
			h.Addr = addr
		}
		h.Addrs = prependUnique(h.Addrs, addr)
		h.LastSeen, h.Liveness, h.RTT, h.Iface = now, string(scanner.Alive), hs.RTT, firstOf(hs.Ifaces)
		mirrorState(&h, res, now)
		saved = h
		return tx.PutHost(h)
	}); err != nil {
		e.logf(LevelError, "recording host %s (%s): %v", addr, hs.MAC, err)
		return false
	}
	e.emitDuplicates(saved)
	if ho != nil {
		d.mu.Lock()
		d.handedOver[saved.ID] = true
		d.mu.Unlock()
		branch := orDefault(e.hostView(saved).Branch, "none yet")
		e.emitHost(saved, HostLearned, LevelInfo, fmt.Sprintf("handed over machine %s at %s (%s): it presented the host key made for it (%s); branch %s", ho.m.Name, addr, hs.MAC, ho.fp, branch))
		return true
	}
	e.emitHost(saved, HostLearned, LevelInfo, fmt.Sprintf("found %s at %s (%s)", displayName(saved), addr, hs.MAC))
	// A host prepared for a window reports what it applied there now.
	if e.collectAtContact(pctx, saved, t, false) {
		if fresh, err := e.hostRecord(saved.ID); err == nil {
			e.emitHost(fresh, HostUpdated, LevelInfo, fmt.Sprintf("%s: prepared results collected", displayName(fresh)))
		}
	}
	return true
}

// hostByKey finds the trusted host bound to a host key fingerprint.
func (e *Engine) hostByKey(fp string) (store.Host, bool) {
	var out store.Host
	found := false
	_ = e.opts.Store.View(func(tx store.Tx) error {
		hosts, err := tx.Hosts()
		for _, h := range hosts {
			if h.Trusted && fp != "" && h.HostKey == fp {
				out, found = h, true
			}
		}
		return err
	})
	return out, found
}

// trustedMACs are the MACs of trusted hosts in the store.
func (e *Engine) trustedMACs() map[string]bool {
	out := map[string]bool{}
	_ = e.opts.Store.View(func(tx store.Tx) error {
		hs, err := tx.Hosts()
		for _, h := range hs {
			if h.MAC != "" && h.Trusted {
				out[h.MAC] = true
			}
		}
		return err
	})
	return out
}

func isLinkLocal(addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && a.IsLinkLocalUnicast()
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// record writes the round's liveness data in one transaction and returns
// the hosts touched, by tracker key (MAC).
func (d *discovery) record(now time.Time, trans []scanner.Transition) map[string]store.Host {
	byKey := map[string]scanner.HostState{}
	for _, hs := range d.tracker.Snapshot() {
		if hs.MAC != "" {
			byKey[hs.MAC] = hs
		}
	}
	out := map[string]store.Host{}
	if err := d.e.opts.Store.Update(func(tx store.Tx) error {
		hosts, err := tx.Hosts()
		if err != nil {
			return err
		}
		for _, h := range hosts {
			hs, ok := byKey[h.MAC]
			if h.MAC == "" || !ok {
				continue
			}
			before := h
			h.Liveness = string(hs.State)
			if hs.Missed == 0 {
				h.LastSeen, h.RTT, h.Iface = hs.LastSeen, hs.RTT, firstOf(hs.Ifaces)
				for _, a := range hs.Addrs {
					h.Addrs = prependUnique(h.Addrs, a.String())
				}
				if isLinkLocal(h.Addr) && len(hs.Addrs) > 0 && h.Addr != hs.Addrs[0].String() {
					h.Addr = hs.Addrs[0].String() // it answers elsewhere now; same host
				}
			}
			if h.FirstSeen.IsZero() {
				h.FirstSeen = hs.FirstSeen
			}
			out[h.MAC] = h
			if h.Liveness != before.Liveness || !h.LastSeen.Equal(before.LastSeen) || h.Addr != before.Addr {
				if err := tx.PutHost(h); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		// Liveness is rewritten next round; say why this one was lost.
		d.e.logf(LevelError, "recording scan round: %v", err)
	}
	for _, t := range trans {
		if _, ok := out[t.Host.Key]; !ok {
			out[t.Host.Key] = store.Host{MAC: t.Host.MAC}
		}
	}
	return out
}

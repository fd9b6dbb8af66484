// Package uitest is an in-process stand-in for the engine: deterministic
// hosts, journals, plans and pushes, with every call recorded. UI tests,
// benchmarks, demos and screenshots drive the real UI against it.
package uitest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// Epoch is the fixed "now" of every fake: goldens never depend on the day.
var Epoch = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// Options shape a fake fleet.
type Options struct {
	Hosts    int    // hosts on the fleet; 0: 12
	Entries  int    // committed entries on main; 0: 12
	Operator string // "": alice@jump1
	// Clock is the fake's now; nil: always Epoch.
	Clock func() time.Time
	// Drift gives a few hosts hand edits that drift checks find
	// (uitest/drift.go); without it no host ever drifts.
	Drift bool
}

type branch struct {
	meta    store.Branch
	entries []journal.Entry
	staged  []journal.Entry
	lock    *store.Lock
}

// Fake implements the UI's Backend in memory.
type Fake struct {
	mu          sync.Mutex
	opts        Options
	hosts       []engine.HostView
	branches    map[string]*branch
	plans       map[string]*engine.Plan
	planSeq     int
	calls       []string
	blobs       map[string][]byte // staged content by its sum
	subs        map[int]chan engine.Event
	nextSub     int
	machinesDir string
	drifted     map[string][]engine.PathDrift // host id → its drift (Options.Drift)

	// PushGate, when set, is received from before each host is pushed, so
	// a test can hold a push mid-way (and cancel it).
	PushGate chan struct{}
	// FailPush names hosts whose push fails, with the error.
	FailPush map[string]string
	// Err makes the named operation ("Lock", "Plan", …) fail.
	Err map[string]error
	// Stages and Boots are what MachineViews and BootHistory say of the
	// machines (by name).
	Stages map[string]engine.MachineView
	Boots  map[string][]engine.BootEvent
}

// New builds a fake fleet.
func New(opts Options) *Fake {
	if opts.Hosts == 0 {
		opts.Hosts = 12
	}
	if opts.Entries == 0 {
		opts.Entries = 12
	}
	if opts.Operator == "" {
		opts.Operator = "alice@jump1"
	}
	if opts.Clock == nil {
		opts.Clock = func() time.Time { return Epoch }
	}
	f := &Fake{opts: opts, branches: map[string]*branch{}, plans: map[string]*engine.Plan{}, subs: map[int]chan engine.Event{},
		FailPush: map[string]string{}, Err: map[string]error{}, Stages: map[string]engine.MachineView{}, Boots: map[string][]engine.BootEvent{}}
	f.branches["main"] = f.makeBranch("main", opts.Entries)
	f.branches["staging"] = f.makeBranch("staging", min(opts.Entries, 5))
	for i := range opts.Hosts {
		f.hosts = append(f.hosts, f.makeHost(i))
	}
	if opts.Drift {
		f.seedDrift()
	}
	return f
}

func (f *Fake) now() time.Time { return f.opts.Clock() }

// record notes a call and returns the error configured for it.
func (f *Fake) record(op string, format string, args ...any) error {
	f.calls = append(f.calls, op+"("+fmt.Sprintf(format, args...)+")")
	return f.Err[op]
}

// Calls returns the operations called so far, e.g. `Lock(main, "motd")`.
// Reads (Hosts, Log, Branches) are not recorded.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Subscribe implements Backend.
func (f *Fake) Subscribe() (<-chan engine.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextSub
	f.nextSub++
	ch := make(chan engine.Event, 1<<16)
	f.subs[id] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if c, ok := f.subs[id]; ok {
			delete(f.subs, id)
			close(c)
		}
	}
}

// Emit publishes events to every subscriber; the caller holds no lock.
func (f *Fake) Emit(evs ...engine.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emitLocked(evs...)
}

func (f *Fake) emitLocked(evs ...engine.Event) {
	for _, ev := range evs {
		if h := ev.Meta(); h.Time.IsZero() {
			h.Time = f.now()
		}
		for _, ch := range f.subs {
			select {
			case ch <- ev:
			default: // a full subscriber loses events, as with the engine
			}
		}
	}
}

// Operator implements Backend.
func (f *Fake) Operator() string { return f.opts.Operator }

// StorePath implements Backend.
func (f *Fake) StorePath() string { return "/var/lib/discoterm/fleet.db" }

// Hosts implements Backend.
func (f *Fake) Hosts(context.Context) ([]engine.HostView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.hosts)
	for i := range out {
		if b := f.branches[out[i].Branch]; b != nil {
			out[i].Head = b.meta.Head
			out[i].Behind = int(b.meta.Head - out[i].Position)
		}
	}
	return out, nil
}

// HostByName finds a host for tests.
func (f *Fake) HostByName(name string) (engine.HostView, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hosts {
		if h.Name == name {
			return h, true
		}
	}
	return engine.HostView{}, false
}

// SetHost changes one host in place (by ID) and announces it.
func (f *Fake) SetHost(id string, change func(*engine.HostView)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.hosts {
		if f.hosts[i].ID == id {
			change(&f.hosts[i])
			f.emitLocked(&engine.HostEvent{Header: engine.Header{Message: f.hosts[i].Name + " changed"}, Change: engine.HostUpdated, Host: f.hosts[i]})
		}
	}
}

// AddHost implements Backend.
func (f *Fake) AddHost(_ context.Context, req engine.AddHostRequest) (engine.HostView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("AddHost", "%s", req.Addr); err != nil {
		return engine.HostView{}, err
	}
	h := f.makeHost(len(f.hosts))
	h.Addr, h.Name = req.Addr, req.Name
	f.hosts = append(f.hosts, h)
	f.emitLocked(&engine.HostEvent{Header: engine.Header{Message: h.Name + " added"}, Change: engine.HostAdded, Host: h})
	return h, nil
}

// Assign implements Backend.
func (f *Fake) Assign(host, br string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Assign", "%s, %s", host, br); err != nil {
		return err
	}
	for i := range f.hosts {
		if f.hosts[i].Name == host {
			f.hosts[i].Branch = br
			f.emitLocked(&engine.HostEvent{Header: engine.Header{Message: host + " assigned to " + br}, Change: engine.HostAssigned, Host: f.hosts[i]})
			return nil
		}
	}
	return fmt.Errorf("host %q: %w", host, engine.ErrNotFound)
}

// TrustHost implements Backend: the host (by id or name) becomes trusted
// if its key is still the one the operator was shown.
func (f *Fake) TrustHost(host, fingerprint string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("TrustHost", "%s, %s", host, fingerprint); err != nil {
		return err
	}
	for i := range f.hosts {
		h := &f.hosts[i]
		if h.ID != host && h.Name != host {
			continue
		}
		if h.HostKey != fingerprint {
			return fmt.Errorf("%s now offers key %s, not the %s you accepted; nothing was trusted", h.Name, h.HostKey, fingerprint)
		}
		h.Trusted = true
		f.emitLocked(&engine.HostEvent{Header: engine.Header{Message: h.Name + " trusted"}, Change: engine.HostTrusted, Host: *h})
		return nil
	}
	return fmt.Errorf("host %q: %w", host, engine.ErrNotFound)
}

// Report implements Backend.
func (f *Fake) Report(host string) ([]store.RunResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Report", "%s", host); err != nil {
		return nil, err
	}
	b := f.branches["main"]
	var out []store.RunResult
	for _, e := range b.entries[max(len(b.entries)-5, 0):] {
		out = append(out, store.RunResult{HostName: host, Branch: "main", Seq: e.Seq, Kind: e.Kind, Summary: e.Summary(),
			Result: "ok", Time: e.Time.Add(time.Minute), Output: "done\n"})
	}
	return out, nil
}

// Branches implements Backend.
func (f *Fake) Branches() ([]store.Branch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Branch
	for _, b := range f.branches {
		out = append(out, b.meta)
	}
	slices.SortFunc(out, func(a, b store.Branch) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Log implements Backend.
func (f *Fake) Log(name string) (*engine.JournalView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.branches[name]
	if b == nil {
		return nil, fmt.Errorf("branch %q: %w", name, engine.ErrNotFound)
	}
	v := &engine.JournalView{Branch: b.meta, Entries: b.entries, Staged: b.stagedSeqs(), Positions: map[string]uint64{}}
	if b.lock != nil {
		l := *b.lock
		v.Lock = &l
	}
	for _, h := range f.hosts {
		if h.Branch == name {
			v.Positions[h.Name] = h.Position
		}
	}
	return v, nil
}

// Fork implements Backend.
func (f *Fake) Fork(from, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Fork", "%s, %s", from, to); err != nil {
		return err
	}
	src := f.branches[from]
	if src == nil {
		return fmt.Errorf("branch %q: %w", from, engine.ErrNotFound)
	}
	nb := &branch{meta: src.meta, entries: slices.Clone(src.entries)}
	nb.meta.Name, nb.meta.Parent, nb.meta.ForkSeq = to, from, src.meta.Head
	f.branches[to] = nb
	return nil
}

// Migrate implements Backend.
func (f *Fake) Migrate(_ context.Context, host, br string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.record("Migrate", "%s, %s", host, br)
}

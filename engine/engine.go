package engine

import (
	"fmt"
	"github.com/discoterm/discoterm/engine/machines"
	"strings"
	"sync/atomic"
	"time"

	"github.com/discoterm/discoterm/store"
	"golang.org/x/crypto/ssh"
)

// Options configure an Engine.
type Options struct {
	Store     store.Store
	Remote    Remote           // how hosts are reached; see remote.Steps
	KeyTrust  KeyTrust         // host key decisions; nil disables them
	Operator  string           // who is acting, e.g. "alice@jump1"
	ClassFile string           // classification file (ISconf main.cf semantics); "" for none
	Parallel  int              // hosts planned/pushed at once; 0: 16
	Clock     func() time.Time // nil: time.Now
	// StateDir is where each host keeps its state file; default
	// /var/lib/discoterm.
	StateDir string
	// HostTimeout bounds one host's plan or connection; default 30s.
	// A push's apply step is bounded by PushTimeout instead.
	HostTimeout time.Duration
	PushTimeout time.Duration // default 30m
	// RebootCommand replaces "shutdown -r now" for reboot entries.
	RebootCommand string
	// LockTTL is how long a branch lock lasts without being renewed; the
	// holder's operations and its running console renew it. Default 1h.
	LockTTL time.Duration
	// NoopTimeout bounds each entry a plan carries out in a host's sandbox;
	// default 60s (remote.DefaultNoopTimeout).
	NoopTimeout time.Duration
	// NoopSpace bounds what a host's sandbox may hold of the changes its
	// entries make, in bytes; default 256 MiB (remote.DefaultUpperCap).
	NoopSpace int64
	// NoopOutput bounds the output each entry may print in the sandbox,
	// in bytes; default 1 MiB (remote.DefaultOutputCap).
	NoopOutput int64
	// NoopProcs bounds the processes alive at once in a host's sandbox;
	// default 512 (remote.DefaultMaxProcs).
	NoopProcs int
	// NoSandbox plans exec entries without simulating them: each shows as
	// "would run (not simulated: …)" and no --unless guard is evaluated.
	NoSandbox bool
	// Signer signs the changesets this operator approves (an SSH key, from
	// the agent or a key file). Approve refuses to commit without one.
	Signer ssh.Signer
	// AllowedSigners is an OpenSSH allowed_signers file: the keys whose
	// changesets are accepted. Journals are verified against it on load;
	// push refuses when it is not set.
	AllowedSigners string
	// MachinesDir is the directory of netboot machine files
	// (engine/machines); "" for none.
	MachinesDir string
}

// DefaultLockTTL is how long a lock outlives its holder's last sign of
// life: long enough for a lunch break, short enough that a crashed
// console does not block the team for the day.
const DefaultLockTTL = time.Hour

// Engine is discoterm's headless core. Every face drives it through these
// methods and renders its events.
type Engine struct {
	opts    Options
	bus     bus
	signers signers
	wq      writeQueue // store writes that must not stall a push (results.go)
}

// New builds an engine over a store.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("engine: no store")
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 16
	}
	if opts.StateDir == "" {
		opts.StateDir = "/var/lib/discoterm"
	}
	if opts.HostTimeout <= 0 {
		opts.HostTimeout = 30 * time.Second
	}
	if opts.PushTimeout <= 0 {
		opts.PushTimeout = 30 * time.Minute
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = DefaultLockTTL
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Operator == "" {
		opts.Operator = DefaultOperator()
	}
	return &Engine{opts: opts}, nil
}

// Subscribe returns a channel of every event from now on and a function
// that ends the subscription. After it ends, the channel delivers what was
// published before and then closes.
func (e *Engine) Subscribe() (<-chan Event, func()) { return e.bus.subscribe(4096) }

// Operator is who the engine acts as.
func (e *Engine) Operator() string { return e.opts.Operator }

// Machines is the directory of netboot machine files (--machines DIR).
func (e *Engine) Machines() machines.Dir { return machines.Dir{Path: e.opts.MachinesDir} }

// StorePath is the store's file.
func (e *Engine) StorePath() string { return e.opts.Store.Path() }

// now is the time to record: without a monotonic reading, so a record
// compares equal before and after the store.
func (e *Engine) now() time.Time { return e.opts.Clock().UTC().Round(0) }

func (e *Engine) emit(ev Event) {
	if h := ev.Meta(); h.Time.IsZero() {
		h.Time = e.now()
	}
	e.bus.publish(ev)
}

func (e *Engine) logf(level Level, format string, args ...any) {
	e.emit(&LogEvent{Header: Header{Level: level, Message: fmt.Sprintf(format, args...)}})
}

// emitHost publishes a host's record as faces show it.
// It returns the view published. An event is never changed after it is
// published (subscribers read it concurrently): build a HostEvent with
// hostEvent, fill it, then emit it.
func (e *Engine) emitHost(h store.Host, change HostChange, level Level, msg string) HostView {
	ev := e.hostEvent(h, change, level, msg)
	e.emit(ev)
	return ev.Host
}

// hostEvent builds a host's event, for callers that add fields.
// Doubts about its identity (clones, a rename) raise an add or learn to a
// warning that says them.
func (e *Engine) hostEvent(h store.Host, change HostChange, level Level, msg string) *HostEvent {
	ev := &HostEvent{Header: Header{Level: level, Message: msg}, Change: change, Host: e.hostView(h)}
	if w := ev.Host.Warnings; len(w) > 0 && (change == HostAdded || change == HostLearned || change == HostUpdated) {
		ev.Level = max(ev.Level, LevelWarn)
		ev.Message += "; " + strings.Join(w, "; ")
	}
	return ev
}

// jobSeq numbers long jobs (plan, push) for the faces' job lists.
var jobSeq atomic.Int64

func (e *Engine) startJob(name, text string) string {
	id := fmt.Sprintf("j%d", jobSeq.Add(1))
	e.emit(&JobEvent{Header: Header{Message: text}, JobID: id, Name: name})
	return id
}

func (e *Engine) finishJob(id, text string) {
	e.emit(&JobEvent{Header: Header{Message: text}, JobID: id, Done: true})
}

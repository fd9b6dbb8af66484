package engine

import (
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/store"
)

// Effect is what a pending entry would do on a host (engine/kinds).
type Effect = kinds.Effect

// The effects a plan predicts.
const (
	EffectCreate    = kinds.EffectCreate
	EffectModify    = kinds.EffectModify
	EffectDelete    = kinds.EffectDelete
	EffectUnchanged = kinds.EffectUnchanged
	EffectRun       = kinds.EffectRun
	EffectFail      = kinds.EffectFail
	EffectSkip      = kinds.EffectSkip
	EffectReboot    = kinds.EffectReboot
	EffectError     = kinds.EffectError
)

// Change is one pending entry's predicted effect on one host (engine/kinds).
type Change = kinds.Change

// FileChange is one path an exec changed in the host's sandbox (engine/kinds).
type FileChange = kinds.FileChange

// PathState is what a host had at a path when planned: the fingerprint part.
type PathState struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Hash   string `json:"hash,omitempty"`
	Mode   string `json:"mode,omitempty"`
	Owner  string `json:"owner,omitempty"` // user:group
}

// Fingerprint is the host state a plan was computed against. A push refuses
// a host whose fingerprint no longer matches.
type Fingerprint struct {
	Branch   string      `json:"branch"`
	Position uint64      `json:"position"`
	Hash     string      `json:"hash"` // hash of the last applied entry
	Paths    []PathState `json:"paths"`
}

// HostPlan is the dry-run of one host.
type HostPlan struct {
	HostID      string      `json:"host_id"`
	Name        string      `json:"name"`
	Addr        string      `json:"addr"`
	Position    uint64      `json:"position"`
	Fingerprint Fingerprint `json:"fingerprint"`
	Changes     []Change    `json:"changes"`
	Err         string      `json:"error,omitempty"` // host could not be planned: unreachable, corrupt state, …
	// Sandbox is why this host's exec entries could not be simulated
	// (and what to do), "" when they were or there were none.
	Sandbox string `json:"sandbox,omitempty"`
	// Rendered template contents by seq, so push installs exactly what was reviewed.
	Rendered map[uint64]string `json:"rendered,omitempty"` // seq → blob sum
	// Env are the host's variables that exec entries and guards saw in
	// the plan; the push exports the same.
	Env map[string]string `json:"env,omitempty"`
	// SecretEnv names the secret variables exec entries saw; their values
	// are not kept: push takes them from the classification file and
	// refuses the host as stale unless they hash to SecretsSum.
	SecretEnv  []string `json:"secret_env,omitempty"`
	SecretsSum string   `json:"secrets_sum,omitempty"`
	// Facts are the host facts templates were rendered with, kept when a
	// rendering was secret and so not stored: push renders it again.
	Facts    map[string]string `json:"facts,omitempty"`
	Duration time.Duration     `json:"duration"`
	// ClockSkew is how far the host's clock is ahead of the controller's
	// (negative: behind), set when it exceeds MaxClockSkew: the host keeps
	// maintenance windows by its own clock.
	ClockSkew time.Duration `json:"clock_skew_ns,omitempty"`
	// Revert says a revert is armed on the host (push --must-come-back):
	// a push now is refused as stale until it is confirmed or has run.
	Revert string `json:"revert,omitempty"`
}

// MaxClockSkew is the host clock difference a plan shows.
const MaxClockSkew = time.Minute

// Pending counts the changes that would do something.
func (h HostPlan) Pending() int {
	n := 0
	for _, c := range h.Changes {
		if c.Effect != EffectUnchanged && c.Effect != EffectSkip {
			n++
		}
	}
	return n
}

// Plan is a dry-run's result: for each host, the entries it would apply and
// what each would change.
type Plan struct {
	ID       string          `json:"id"`
	Branch   string          `json:"branch"`
	Created  time.Time       `json:"created"`
	Author   string          `json:"author"`
	Head     uint64          `json:"head"` // journal head when planned
	HeadHash string          `json:"head_hash"`
	Staged   []journal.Entry `json:"staged,omitempty"` // staged entries covered, in order; committed on approve
	Hosts    []HostPlan      `json:"hosts"`
	// Skipped are the branch's hosts the scanner had marked lost, left
	// out so one dead host does not hold up the fleet; naming one in the
	// request includes it.
	Skipped  []SkippedHost `json:"skipped,omitempty"`
	Approved bool          `json:"approved"`
	Pushed   bool          `json:"pushed"`
}

// SkippedHost is a host a plan left out, and why.
type SkippedHost struct {
	HostID   string    `json:"host_id"`
	Name     string    `json:"name"`
	Liveness string    `json:"liveness"`  // what the scanner said: lost, gone
	LastSeen time.Time `json:"last_seen"` // its last answer; zero if never
}

// Entries counts the distinct entries the plan covers.
func (p *Plan) Entries() int {
	seen := map[uint64]bool{}
	for _, h := range p.Hosts {
		for _, c := range h.Changes {
			seen[c.Seq] = true
		}
	}
	return len(seen)
}

// PushStatus is where one host stands in a push.
type PushStatus string

// Push statuses.
const (
	PushWaiting    PushStatus = "waiting"
	PushApplying   PushStatus = "applying"
	PushDone       PushStatus = "done"
	PushFailed     PushStatus = "failed"
	PushStale      PushStatus = "stale"
	PushRebootHold PushStatus = "reboot-pending"
	PushRebooting  PushStatus = "rebooting"
	PushCancelled  PushStatus = "cancelled"   // stopped on request before an entry; the ones before it are applied
	PushNotStarted PushStatus = "not-started" // the push was cancelled before it reached this host: untouched
	PushUnreach    PushStatus = "unreachable"
	PushNothing    PushStatus = "up-to-date"
)

// EntryResult is the outcome of one entry on one host.
type EntryResult struct {
	Seq      uint64        `json:"seq"`
	Kind     journal.Kind  `json:"kind"`
	Summary  string        `json:"summary"`
	Result   string        `json:"result"` // ok, skipped, failed, reboot-pending, cancelled
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration"`
	Output   string        `json:"output,omitempty"`
	Usage    *store.Usage  `json:"usage,omitempty"` // exec entries
}

// HostPush is the result of a push on one host.
type HostPush struct {
	HostID   string        `json:"host_id"`
	Name     string        `json:"name"`
	Status   PushStatus    `json:"status"`
	From     uint64        `json:"from"`
	To       uint64        `json:"to"` // position after the push
	Entries  []EntryResult `json:"entries"`
	Err      string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
	// CameBack says how a push that must come back was confirmed.
	CameBack string `json:"came_back,omitempty"`

	contacted bool            // the apply step ran (its positions are true)
	prepared  *store.Prepared // a prepared push's state, to record on the host
}

// PushResult is the result of a push.
type PushResult struct {
	PlanID   string        `json:"plan"`
	Hosts    []HostPush    `json:"hosts"`
	Duration time.Duration `json:"duration"`
	// Waves are the waves pushed, in order; Stopped says why the push
	// stopped before the rest (their hosts are not-started), or "".
	Waves   []WaveResult `json:"waves,omitempty"`
	Stopped string       `json:"stopped,omitempty"`
}

// WaveResult is one wave of a push.
type WaveResult struct {
	Wave   int      `json:"wave"` // 1-based; the canary, if any, is wave 1
	Canary bool     `json:"canary,omitempty"`
	Hosts  []string `json:"hosts"`
	Failed int      `json:"failed"`
}

// NotStarted names the hosts the push never touched.
func (r *PushResult) NotStarted() []string {
	var out []string
	for _, h := range r.Hosts {
		if h.Status == PushNotStarted {
			out = append(out, h.Name)
		}
	}
	return out
}

// Failed counts hosts that did not end done or up to date.
func (r *PushResult) Failed() int {
	n := 0
	for _, h := range r.Hosts {
		if h.Status != PushDone && h.Status != PushNothing && h.Status != PushRebooting && h.Status != PushPrepared {
			n++
		}
	}
	return n
}

// Stale counts hosts refused as stale.
func (r *PushResult) Stale() int {
	n := 0
	for _, h := range r.Hosts {
		if h.Status == PushStale {
			n++
		}
	}
	return n
}

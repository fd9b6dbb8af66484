// Package store persists discoterm's state: hosts, branches and their
// journals, content blobs, locks, staged changes, plans, run results and the
// audit trail. Store is an interface; Open returns the default implementation,
// one bbolt file.
//
// All access goes through transactions: View for reads, Update for writes,
// so an operation such as approve (append entries, clear the staged list,
// release the lock, mark the plan approved) is all-or-nothing.
package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
)

// SchemaVersion is the version of the on-disk layout this build writes.
// A store with a higher version is refused.
const SchemaVersion = 1

// Errors callers can test for with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrInUse         = errors.New("store in use") // another process holds the file
	ErrNewerSchema   = errors.New("store schema is newer than this discoterm")
	ErrHeadMoved     = errors.New("journal head moved") // Append's compare-and-set failed
	ErrCorruptRecord = errors.New("corrupt record in store")
)

// Host is what the store knows about a machine. Identity is ID, derived from
// what the host is (machine-id, else SSH host key, else MAC), never from its
// address: addresses and name are attributes that change.
type Host struct {
	ID    string   `json:"id"`
	Name  string   `json:"name,omitempty"`
	Addr  string   `json:"addr"`            // address used to reach it: "fd00::2", "fe80::1%br0", "10.0.0.5", a DNS name
	Addrs []string `json:"addrs,omitempty"` // every address it was seen at, newest first
	Port  int      `json:"port,omitempty"`  // 0: from ssh config, else 22
	User  string   `json:"user,omitempty"`  // "": from ssh config, else root
	MAC   string   `json:"mac,omitempty"`
	// BoundMAC is the MAC the host's trusted key was first found at;
	// classification by MAC uses it, not the MAC it answers from now.
	BoundMAC string `json:"bound_mac,omitempty"`
	// MachineID is what the host said when its key was trusted;
	// MachineIDNow what it says at the last learn. Classification and
	// identity checks use MachineID; a change is flagged.
	MachineID    string `json:"machine_id,omitempty"`
	MachineIDNow string `json:"machine_id_now,omitempty"`
	HostKey      string `json:"host_key,omitempty"` // SHA256:… fingerprint of its SSH host key
	// HostKeyType is the algorithm of HostKey (ssh-ed25519 …): the key is
	// asked for by type, so a host with several keys presents the bound one.
	HostKeyType string `json:"host_key_type,omitempty"`
	// Hostname is what the host called itself when it was first trusted;
	// HostnameNow what it says at the last contact. Name (the operator's)
	// does not follow it: a host that renames itself is flagged.
	Hostname    string `json:"hostname,omitempty"`
	HostnameNow string `json:"hostname_now,omitempty"`
	OS          string `json:"os,omitempty"`
	Trusted     bool   `json:"trusted"`          // its host key is in known_hosts
	Branch      string `json:"branch,omitempty"` // explicit assignment; "" means from the classification file
	// Mirror of the host's own state file (the host is the truth).
	StateBranch  string    `json:"state_branch,omitempty"`
	Position     uint64    `json:"position"`
	PositionHash string    `json:"position_hash,omitempty"`
	StateSeen    time.Time `json:"state_seen,omitempty"` // when the mirror was last refreshed
	// Results and liveness.
	LastResult string        `json:"last_result,omitempty"` // "ok", "failed", "stale", "unreachable", …
	LastError  string        `json:"last_error,omitempty"`
	LastPush   time.Time     `json:"last_push,omitempty"`
	LastOK     time.Time     `json:"last_ok,omitempty"` // last push that finished cleanly
	FirstSeen  time.Time     `json:"first_seen,omitempty"`
	LastSeen   time.Time     `json:"last_seen,omitempty"`
	RTT        time.Duration `json:"rtt,omitempty"`
	Liveness   string        `json:"liveness,omitempty"` // "alive", "lost", "gone", "" (never scanned)
	Iface      string        `json:"iface,omitempty"`    // interface it was last seen on
	// Drift is what the last drift check found on the host.
	Drift *DriftSummary `json:"drift,omitempty"`
	// Prepared is the host's last prepared push: armed for a window, then
	// what the host reported of it once collected.
	Prepared *Prepared `json:"prepared,omitempty"`
}

// Prepared is a push prepared on a host ahead of its window.
type Prepared struct {
	Plan  string    `json:"plan"`
	For   time.Time `json:"for"`           // the window start it was armed for, in the window's zone
	State string    `json:"state"`         // armed, applied, stale, failed, lost, discarded
	At    time.Time `json:"at,omitempty"`  // when the host began applying it, by the host's clock
	Seq   uint64    `json:"seq,omitempty"` // failed: the entry it stopped at
}

// DriftSummary is the outcome of a host's last drift check: the paths
// whose content, mode or owner differ from what the journal says.
type DriftSummary struct {
	Checked  time.Time `json:"checked"`
	Position uint64    `json:"position"` // the position the check compared against
	Paths    []string  `json:"paths,omitempty"`
	Err      string    `json:"error,omitempty"` // the check could not run
}

// CatchUp is a branch's policy for hosts that come back behind its head.
type CatchUp struct {
	Enabled     bool          `json:"enabled"`
	MaxAge      time.Duration `json:"max_age,omitempty"` // also push when the last good push is older
	Parallel    int           `json:"parallel,omitempty"`
	AllowReboot bool          `json:"allow_reboot,omitempty"`
}

// Branch is a named journal. Head and HeadHash are the last entry's seq and
// hash, kept apart from the entries so truncation is detected.
type Branch struct {
	Name     string    `json:"name"`
	Parent   string    `json:"parent,omitempty"`
	ForkSeq  uint64    `json:"fork_seq,omitempty"` // parent's head when forked
	Head     uint64    `json:"head"`
	HeadHash string    `json:"head_hash,omitempty"`
	Created  time.Time `json:"created"`
	CatchUp  CatchUp   `json:"catch_up"`
	// Windows are the branch's maintenance windows as the operator wrote
	// them (engine/window grammar); none: catch-up and up push any time.
	Windows []string `json:"windows,omitempty"`
	// Rollout is the branch's default for how pushes roll out (waves)
	// and how drift is watched; push flags override it field by field.
	Rollout Rollout `json:"rollout,omitzero"`
}

// Amount is a number of hosts, or a percentage of a push's hosts.
type Amount struct {
	N       int  `json:"n"`
	Percent bool `json:"percent,omitempty"`
}

// Rollout is a branch's rollout and drift policy. Nil amounts are unset.
type Rollout struct {
	Canary      int           `json:"canary,omitempty"`       // hosts pushed first, alone, as wave 1
	Wave        *Amount       `json:"wave,omitempty"`         // hosts per following wave; nil: all the rest at once
	MaxFail     *Amount       `json:"max_fail,omitempty"`     // stop before the next wave once more hosts failed; nil: never stop
	Pause       time.Duration `json:"pause,omitempty"`        // wait between waves
	AliveWithin time.Duration `json:"alive_within,omitempty"` // admit only hosts seen alive this recently; 0: every host
	DriftEvery  time.Duration `json:"drift_every,omitempty"`  // check drift this often while scanning; 0: off
	Repair      bool          `json:"repair,omitempty"`       // catch-up also repairs drift
	// MustComeBack > 0: pushes of the branch must come back within it
	// (push --must-come-back); 0: off.
	MustComeBack time.Duration `json:"must_come_back,omitempty"`
}

// Lock is a branch lock: staging needs it.
type Lock struct {
	Branch  string    `json:"branch"`
	Holder  string    `json:"holder"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	// Expires is when the lock ends unless its holder renews it; zero
	// (locks written before TTLs) never expires.
	Expires time.Time `json:"expires,omitempty"`
}

// Expired reports whether the lock has run out at now.
func (l Lock) Expired(now time.Time) bool { return !l.Expires.IsZero() && now.After(l.Expires) }

// PlanRecord is a saved plan. Data is the engine's encoding of the plan; the
// store does not interpret it.
type PlanRecord struct {
	ID       string    `json:"id"`
	Branch   string    `json:"branch"`
	Created  time.Time `json:"created"`
	Author   string    `json:"author"`
	Approved bool      `json:"approved"`
	Approver string    `json:"approver,omitempty"`
	Pushed   bool      `json:"pushed"`
	Data     []byte    `json:"data"`
}

// RunResult is the outcome of one entry on one host (disco's report).
type RunResult struct {
	PlanID   string        `json:"plan_id"`
	HostID   string        `json:"host_id"`
	HostName string        `json:"host_name,omitempty"`
	Branch   string        `json:"branch"`
	Seq      uint64        `json:"seq"`
	Kind     journal.Kind  `json:"kind"`
	Summary  string        `json:"summary"`
	Result   string        `json:"result"` // "ok", "skipped" (guard), "failed", "stale", "cancelled", "reboot-pending", "unreachable"
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration"`
	Output   string        `json:"output,omitempty"`
	Time     time.Time     `json:"time"`
	Usage    *Usage        `json:"usage,omitempty"` // exec entries: what the command used on the host
}

// Usage is what one exec entry's command used on its host (disco's
// per-step metrics): CPU of the command and every process it waited for,
// and their IO; -1 where the host's kernel has no counter.
type Usage struct {
	UserCPU    time.Duration `json:"user_cpu_ns"`
	SysCPU     time.Duration `json:"sys_cpu_ns"`
	ReadChars  int64         `json:"read_chars"`  // read by system calls
	WriteChars int64         `json:"write_chars"` // written by system calls
	ReadBytes  int64         `json:"read_bytes"`  // fetched from storage
	WriteBytes int64         `json:"write_bytes"` // sent to storage (0 on tmpfs)
	// PeakMem is the command's peak memory in bytes; 0 or less: not
	// measured (the host had no writable memory cgroup, or an older record).
	PeakMem int64 `json:"peak_mem_bytes"`
}

// AuditRecord is one line of a branch's audit trail: lock, unlock, forced
// unlock, approve, push, fork, migrate, assign.
type AuditRecord struct {
	Branch  string    `json:"branch"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Message string    `json:"message"`
}

// Tx is a transaction. Methods of a read-only transaction that write return
// an error.
type Tx interface {
	// Hosts.
	Hosts() ([]Host, error)
	Host(id string) (Host, error) // ErrNotFound
	PutHost(h Host) error
	DeleteHost(id string) error

	// Branches and journals.
	Branches() ([]Branch, error)
	Branch(name string) (Branch, error) // ErrNotFound
	PutBranch(b Branch) error           // creates or updates metadata; never touches entries
	// Journal returns the branch's entries in order, without verifying them.
	Journal(branch string) ([]journal.Entry, error)
	// Append adds sealed entries after the branch's current head. It fails
	// with ErrHeadMoved unless entries[0].Seq == head+1 and entries[0].Prev ==
	// head hash, and updates the branch's Head and HeadHash.
	Append(branch string, entries []journal.Entry) error

	// Content blobs, addressed by hex sha256.
	PutBlob(data []byte) (sum string, err error)
	Blob(sum string) ([]byte, error) // ErrNotFound
	Blobs() ([]string, error)        // every stored sum, in order

	// Locks.
	Lock(branch string) (Lock, error) // ErrNotFound when unlocked
	PutLock(l Lock) error
	DeleteLock(branch string) error

	// Staged (uncommitted) entries of a branch, in order; unsealed.
	Staged(branch string) ([]journal.Entry, error)
	PutStaged(branch string, entries []journal.Entry) error

	// Plans.
	PutPlan(p PlanRecord) error
	Plan(id string) (PlanRecord, error) // ErrNotFound
	Plans() ([]PlanRecord, error)

	// Run results, newest last.
	AddResults(rs []RunResult) error
	Results(hostID string) ([]RunResult, error) // "" for all hosts

	// Audit trail, oldest first.
	AddAudit(a AuditRecord) error
	Audit(branch string) ([]AuditRecord, error) // "" for all branches
}

// Store is a persistent store.
type Store interface {
	View(fn func(Tx) error) error
	Update(fn func(Tx) error) error
	Path() string
	Close() error
}

// keepHead is PutBranch's rule in every backend: metadata never moves a
// branch's head (only Append does), and a new branch starts empty. readErr
// is the error of reading the stored branch (ErrNotFound: it is new).
func keepHead(b *Branch, head uint64, headHash string, readErr error) error {
	switch {
	case readErr == nil:
		b.Head, b.HeadHash = head, headHash
	case errors.Is(readErr, ErrNotFound):
		if b.Head != 0 || b.HeadHash != "" {
			return fmt.Errorf("store: new branch %q has head %d; a branch starts empty and grows only by Append", b.Name, b.Head)
		}
	default:
		return readErr
	}
	return nil
}

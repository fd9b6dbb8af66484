package engine

import (
	"context"
	"errors"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/store"
)

// Errors faces map to exit codes (errors.Is).
var (
	ErrUsage     = errors.New("usage")             // bad arguments
	ErrLockHeld  = errors.New("lock held")         // someone else holds the branch lock
	ErrNotLocked = errors.New("branch not locked") // staging without your lock
	ErrStale     = errors.New("stale plan")        // plan no longer matches hosts or journal
	ErrHostsFail = errors.New("some hosts failed") // partial failure of plan or push
	ErrNotFound  = errors.New("not found")         // unknown host, branch, plan
	ErrCancelled = errors.New("cancelled")         // ctx cancelled
)

// StageRequest describes an entry to stage under the caller's lock.
type StageRequest = kinds.Request

// PlanRequest selects what to dry-run.
type PlanRequest struct {
	Branch string   // "": every branch with assigned hosts… or the only branch
	Hosts  []string // host names, IDs or addresses; empty: every host of the branch
	// NoStaged leaves the operator's staged entries out (catch-up pushes
	// only what is committed).
	NoStaged bool
}

// UserDirNote is what faces show on a planned change whose entry was
// staged with --allow-user-dir.
const UserDirNote = "allowed where a non-root user can change the directory (--allow-user-dir)"

// PushOptions tune a push.
type PushOptions struct {
	AllowReboot bool
	Parallel    int // hosts at once (within a wave); 0: engine default
	// IgnoreWindows lets Up push a branch outside its maintenance
	// windows (--now). Push of a plan the operator names is never gated.
	IgnoreWindows bool
	// The rollout: each field overrides the branch's policy
	// (store.Rollout) when set; nil or 0 keeps the branch's.
	Canary      *int          // hosts pushed first, alone
	Wave        *store.Amount // hosts per following wave
	MaxFail     *store.Amount // stop before the next wave once more hosts failed
	Pause       time.Duration // wait between waves
	AliveWithin time.Duration // admit only hosts seen alive this recently
	// MustComeBack > 0: each host reverts the push by itself unless the
	// controller reaches it again over a fresh SSH connection within it.
	MustComeBack time.Duration
	// Confirm, when set, is asked before each wave after the first; false
	// stops the push there (the console's c / x, a terminal's y/N).
	Confirm func(ctx context.Context, next *WaveEvent) (bool, error)
}

// HostView is a host with what the engine derives for display.
type HostView struct {
	store.Host
	Branch   string            `json:"branch"`  // effective branch (assignment, else classification, else "")
	Head     uint64            `json:"head"`    // head of that branch
	Behind   int               `json:"behind"`  // head - position, when known
	Drifted  int               `json:"drifted"` // paths the last drift check found drifted (Host.Drift)
	Vars     map[string]string `json:"vars,omitempty"`
	ClassErr string            `json:"class_error,omitempty"`
	// NextWindow is the branch's maintenance window open now, else the
	// next to open; nil when the branch has no windows.
	NextWindow *WindowView `json:"next_window,omitempty"`
	WindowErr  string      `json:"window_error,omitempty"` // stored windows that no longer parse
	// Warnings are doubts about the host's identity: a machine-id shared
	// with other hosts, a hostname changed since it was trusted.
	Warnings []string `json:"warnings,omitempty"`
}

// AddHostRequest adds a host not found by scanning.
type AddHostRequest struct {
	Addr string
	Port int
	User string
	Name string // optional display name; learned from the host otherwise
}

// JournalView is a branch's journal with where each host stands.
type JournalView struct {
	Branch    store.Branch      `json:"branch"`
	Entries   []journal.Entry   `json:"entries"`
	Staged    []journal.Entry   `json:"staged"`
	Lock      *store.Lock       `json:"lock,omitempty"`
	Positions map[string]uint64 `json:"positions"` // host name → position
	// NextWindow is the branch's next (or open) maintenance window; every
	// host of the branch shares it.
	NextWindow *WindowView `json:"next_window,omitempty"`
	WindowErr  string      `json:"window_error,omitempty"`
}

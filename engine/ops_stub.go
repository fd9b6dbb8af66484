package engine

// Temporary stubs: the method set faces build against. Each is replaced by
// its real implementation in its own file.

import (
	"context"
	"errors"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

var errTODO = errors.New("not implemented yet")

// Hosts lists every known host with its effective branch and how far behind it is.
func (e *Engine) Hosts(ctx context.Context) ([]HostView, error) { return nil, errTODO }

// AddHost connects to an address, learns what the host is and records it.
func (e *Engine) AddHost(ctx context.Context, req AddHostRequest) (HostView, error) {
	return HostView{}, errTODO
}

// Assign puts a host on a branch, overriding the classification file.
func (e *Engine) Assign(host, branch string) error { return errTODO }

// Branches lists every branch.
func (e *Engine) Branches() ([]store.Branch, error) { return nil, errTODO }

// Lock takes the branch lock for the operator.
func (e *Engine) Lock(branch, message string) error { return errTODO }

// Unlock releases the branch lock; force breaks someone else's and records it.
func (e *Engine) Unlock(branch string, force bool) error { return errTODO }

// Stage adds an entry to the branch's staged list under the operator's lock.
func (e *Engine) Stage(branch string, req StageRequest) (journal.Entry, error) {
	return journal.Entry{}, errTODO
}

// Drop removes staged entry n (1-based).
func (e *Engine) Drop(branch string, n int) error { return errTODO }

// Plan dry-runs every pending entry on the selected hosts.
func (e *Engine) Plan(ctx context.Context, req PlanRequest) (*Plan, error) { return nil, errTODO }

// GetPlan loads a saved plan.
func (e *Engine) GetPlan(id string) (*Plan, error) { return nil, errTODO }

// Approve commits the plan's staged entries and marks it approved.
func (e *Engine) Approve(planID string, keepLock bool) (*Plan, error) { return nil, errTODO }

// Push applies an approved plan.
func (e *Engine) Push(ctx context.Context, planID string, opts PushOptions) (*PushResult, error) {
	return nil, errTODO
}

// Up is plan + approve + push.
func (e *Engine) Up(ctx context.Context, req PlanRequest, opts PushOptions) (*Plan, *PushResult, error) {
	return nil, nil, errTODO
}

// Fork creates a new branch whose journal copies from's.
func (e *Engine) Fork(from, newBranch string) error { return errTODO }

// Migrate moves a host to another branch (ISconf's rule).
func (e *Engine) Migrate(ctx context.Context, host, branch string) error { return errTODO }

// Log returns a branch's journal, staged entries, lock and host positions.
func (e *Engine) Log(branch string) (*JournalView, error) { return nil, errTODO }

// Report returns run results, newest last, for one host or all.
func (e *Engine) Report(host string) ([]store.RunResult, error) { return nil, errTODO }

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// Up is plan + approve + push of what is committed on one branch, for
// scripts, cron and catch-up. It never commits staged entries: those are
// an operator's unreviewed work, and only their approve commits them.
func (e *Engine) Up(ctx context.Context, req PlanRequest, opts PushOptions) (*Plan, *PushResult, error) {
	req.NoStaged = true
	if req.Branch != "" && !opts.IgnoreWindows {
		if err := e.checkWindow(req.Branch); err != nil {
			return nil, nil, err
		}
	}
	p, err := e.Plan(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if req.Branch == "" && !opts.IgnoreWindows {
		if err := e.checkWindow(p.Branch); err != nil {
			return p, nil, err
		}
	}
	if p, err = e.Approve(p.ID, false); err != nil {
		return p, nil, err
	}
	r, err := e.Push(ctx, p.ID, opts)
	return p, r, err
}

// UpRun is one branch's part of UpAll.
type UpRun struct {
	Branch string
	Plan   *Plan
	Push   *PushResult
	Err    error
}

// UpAll is Up for every branch that has hosts, each host on its own
// branch, one branch after another. A branch that fails does not stop the
// others; the error joins every branch's.
func (e *Engine) UpAll(ctx context.Context, opts PushOptions) ([]UpRun, error) {
	views, err := e.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	var branches []string
	seen := map[string]bool{}
	for _, v := range views {
		if v.Branch != "" && v.Trusted && !seen[v.Branch] {
			seen[v.Branch] = true
			branches = append(branches, v.Branch)
		}
	}
	if len(branches) == 0 {
		return nil, fmt.Errorf("%w: no host follows a branch yet; assign hosts (assign HOST BRANCH) or set BRANCH in the classification file", ErrUsage)
	}
	slices.SortFunc(branches, NaturalCompare)
	var runs []UpRun
	var errs []error
	for _, b := range branches {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("%w: up stopped before branch %s", ErrCancelled, b))
			break
		}
		p, r, err := e.Up(ctx, PlanRequest{Branch: b}, opts)
		runs = append(runs, UpRun{Branch: b, Plan: p, Push: r, Err: err})
		// A branch outside its windows is skipped, not failed: cron runs
		// up all day and each branch is pushed inside its own windows.
		if err != nil && !errors.Is(err, ErrOutsideWindow) {
			errs = append(errs, fmt.Errorf("branch %s: %w", b, err))
		}
	}
	return runs, errors.Join(errs...)
}

// Report returns run results, oldest first, for one host or all ("").
func (e *Engine) Report(host string) ([]store.RunResult, error) {
	var out []store.RunResult
	err := e.opts.Store.View(func(tx store.Tx) error {
		id := ""
		if host != "" {
			h, err := findHost(tx, host)
			if err != nil {
				return err
			}
			id = h.ID
		}
		var err error
		out, err = tx.Results(id)
		return err
	})
	return out, err
}

// storeUsage is a host's usage report as the store keeps it.
func storeUsage(u *remote.Usage) *store.Usage {
	if u == nil {
		return nil
	}
	return &store.Usage{UserCPU: u.UserCPU, SysCPU: u.SysCPU, ReadChars: u.ReadChars, WriteChars: u.WriteChars,
		ReadBytes: u.ReadBytes, WriteBytes: u.WriteBytes, PeakMem: u.PeakMem}
}

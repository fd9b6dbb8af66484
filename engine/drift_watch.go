package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/discoterm/discoterm/store"
)

// The drift watch: while the console scans, each branch whose policy sets
// DriftEvery is checked that often (off by default), one check per branch
// at a time; where the policy also says Repair, the drifted hosts are
// repaired (plan, approve, push) as a catch-up would.

type driftWatch struct {
	mu      sync.Mutex
	last    map[string]time.Time // branch → when its last check started
	running map[string]bool
}

// driftChecks starts the drift checks that are due, in the background.
func (d *discovery) driftChecks(ctx context.Context) {
	e := d.e
	bs, err := e.Branches()
	if err != nil {
		return
	}
	now := e.opts.Clock()
	w := &d.drift
	for _, b := range bs {
		every := b.Rollout.DriftEvery
		if every <= 0 {
			continue
		}
		w.mu.Lock()
		if w.last == nil {
			w.last, w.running = map[string]time.Time{}, map[string]bool{}
		}
		due := !w.running[b.Name] && now.Sub(w.last[b.Name]) >= every
		if due {
			w.running[b.Name], w.last[b.Name] = true, now
		}
		w.mu.Unlock()
		if !due {
			continue
		}
		d.wg.Add(1)
		go func(b store.Branch) {
			defer d.wg.Done()
			defer func() { w.mu.Lock(); w.running[b.Name] = false; w.mu.Unlock() }()
			e.watchDrift(ctx, b)
		}(b)
	}
}

// watchDrift is one periodic check of a branch, and its repair when the
// policy says so.
func (e *Engine) watchDrift(ctx context.Context, b store.Branch) {
	rep, err := e.Drift(ctx, DriftRequest{Branch: b.Name})
	if err != nil {
		if !errors.Is(err, ErrCancelled) {
			e.logf(LevelWarn, "periodic drift check of %s: %v", b.Name, err)
		}
		return
	}
	if rep.Drifted() == 0 || !b.Rollout.Repair {
		return
	}
	var hosts []string
	for _, h := range rep.Hosts {
		if len(h.Paths) > 0 {
			hosts = append(hosts, h.HostID)
		}
	}
	if err := e.RepairNow(ctx, FixRequest{Branch: b.Name, Hosts: hosts}); err != nil {
		e.logf(LevelError, "repairing drift on %s: %v", b.Name, err)
	}
}

// RepairNow repairs drift without a review: Repair, approve, push — what
// policy --repair on does on its own. Its plan and push are recorded like
// any other.
func (e *Engine) RepairNow(ctx context.Context, req FixRequest) error {
	p, err := e.Repair(ctx, req)
	if errors.Is(err, ErrUsage) {
		return nil // nothing drifted any more
	} else if err != nil {
		return err
	}
	if _, err := e.Approve(p.ID, false); err != nil {
		return err
	}
	r, err := e.Push(ctx, p.ID, PushOptions{})
	if err == nil {
		e.emit(&LogEvent{Header: Header{Message: fmt.Sprintf("repaired drift on %s of %s (plan %s)", Plural(len(r.Hosts), "host"), p.Branch, p.ID)}, Branch: p.Branch, PlanID: p.ID})
	}
	return err
}

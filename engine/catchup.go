package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/discoterm/discoterm/scanner"
	"github.com/discoterm/discoterm/store"
)

// SetCatchUp sets a branch's catch-up policy: whether hosts seen alive and
// behind its head (or whose last good push is older than MaxAge) are
// planned and pushed automatically.
func (e *Engine) SetCatchUp(branch string, p store.CatchUp) error {
	if p.Parallel < 0 || p.MaxAge < 0 {
		return fmt.Errorf("%w: parallel and max-age must not be negative", ErrUsage)
	}
	state := "off"
	if p.Enabled {
		state = fmt.Sprintf("on (parallel %d, max age %s, reboots %v)", p.Parallel, p.MaxAge, p.AllowReboot)
	}
	return e.setBranchPolicy(branch, "catch-up", state, "catch-up policy of "+branch+" changed",
		func(b *store.Branch) { b.CatchUp = p })
}

// setBranchPolicy changes one policy of an existing branch and records it
// in the audit trail (action, message) in one transaction, then says so.
// Every policy verb (catch-up, windows, rollout) writes through it.
func (e *Engine) setBranchPolicy(branch, action, audit, event string, change func(*store.Branch)) error {
	err := e.opts.Store.Update(func(tx store.Tx) error {
		b, err := tx.Branch(branch)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no branch %q", ErrNotFound, branch)
		} else if err != nil {
			return err
		}
		change(&b)
		if err := tx.PutBranch(b); err != nil {
			return err
		}
		return tx.AddAudit(store.AuditRecord{Branch: branch, Time: e.now(), Actor: e.opts.Operator, Action: action, Message: audit})
	})
	if err == nil {
		e.emit(&LogEvent{Header: Header{Message: event}, Branch: branch})
	}
	return err
}

// catchUp starts a catch-up for each alive host that its branch's policy
// says is due. Each host is caught up serially (one at a time per host),
// at most the branch's Parallel at once, and a host that fails waits an
// exponentially growing back-off before the next try.
func (d *discovery) catchUp(ctx context.Context, touched map[string]store.Host) {
	e := d.e
	if len(touched) == 0 {
		return
	}
	// Branches first: with no policy on (the default), a round costs no
	// read of every host.
	branches := map[string]store.Branch{}
	all := map[string]store.Branch{}
	bs, err := e.Branches()
	if err != nil {
		return
	}
	d.mu.Lock()
	handover := len(d.handedOver) > 0
	d.mu.Unlock()
	now := e.now()
	for _, b := range bs {
		all[b.Name] = b
		if !b.CatchUp.Enabled {
			continue
		}
		// Outside its maintenance windows a branch waits; its hosts are
		// pushed at the next round inside one. Windows that no longer
		// parse keep it closed (checkWindow says why when up is run).
		if w, err := branchWindow(b, now); err != nil || (w != nil && !w.Open) {
			continue
		}
		branches[b.Name] = b
	}
	if len(branches) == 0 && !handover {
		return
	}
	views, err := e.Hosts(ctx)
	if err != nil {
		return
	}
	for _, v := range views {
		if v.Liveness != string(scanner.Alive) || !v.Trusted || v.Branch == "" {
			continue
		}
		if _, ok := touched[v.MAC]; !ok {
			continue
		}
		b, ok := branches[v.Branch]
		d.mu.Lock()
		fresh := d.handedOver[v.ID]
		d.mu.Unlock()
		if !ok && fresh {
			b, ok = all[v.Branch] // a machine just handed over: built whatever the policy
		}
		if !ok {
			continue
		}
		due := v.Behind > 0 || (b.CatchUp.MaxAge > 0 && now.Sub(v.LastOK) > b.CatchUp.MaxAge)
		if fresh && !due {
			d.mu.Lock()
			delete(d.handedOver, v.ID) // already where its branch is
			d.mu.Unlock()
		}
		if !due {
			continue
		}
		d.mu.Lock()
		busy := d.running[v.ID] || now.Before(d.backoff[v.ID])
		if !busy {
			d.running[v.ID] = true
		}
		d.mu.Unlock()
		if busy {
			continue
		}
		d.wg.Add(1)
		go d.catchUpHost(ctx, v, b)
	}
}

func (d *discovery) catchUpHost(ctx context.Context, v HostView, b store.Branch) {
	defer d.wg.Done()
	e := d.e
	limit := b.CatchUp.Parallel
	if limit <= 0 {
		limit = 1
	}
	// At most the branch's Parallel catch-ups at once, and at most the
	// fleet-wide slots across branches.
	bslots := d.branchSlots(b.Name, limit)
	for _, slots := range []chan struct{}{bslots, d.slots} {
		select {
		case slots <- struct{}{}:
			defer func(c chan struct{}) { <-c }(slots)
		case <-ctx.Done():
			d.finish(v.ID, nil)
			return
		}
	}
	e.emit(&LogEvent{Header: Header{Message: fmt.Sprintf("catching up %s on %s (position %d, head %d)", v.Name, b.Name, v.Position, v.Head)},
		Branch: b.Name, HostID: v.ID, Host: v.Name})
	_, r, err := e.Up(ctx, PlanRequest{Branch: b.Name, Hosts: []string{v.ID}, NoStaged: true}, PushOptions{AllowReboot: b.CatchUp.AllowReboot, Parallel: 1})
	if err == nil && r != nil && r.Failed() > 0 {
		err = fmt.Errorf("%s", r.Hosts[0].Err)
	}
	if err == nil && b.Rollout.Repair {
		// policy --repair on: a host caught up has its drift put back too.
		err = e.RepairNow(ctx, FixRequest{Branch: b.Name, Hosts: []string{v.ID}})
	}
	d.finish(v.ID, err)
	if err != nil {
		e.logf(LevelError, "catch-up of %s failed: %v", v.Name, err)
	} else {
		e.emit(&LogEvent{Header: Header{Message: fmt.Sprintf("%s caught up on %s", v.Name, b.Name)}, Branch: b.Name, HostID: v.ID, Host: v.Name})
	}
}

func (d *discovery) branchSlots(branch string, limit int) chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.perBranch == nil {
		d.perBranch = map[string]chan struct{}{}
	}
	c, ok := d.perBranch[branch]
	if !ok || cap(c) != limit {
		c = make(chan struct{}, limit)
		d.perBranch[branch] = c
	}
	return c
}

// finish records a catch-up's outcome and sets the host's back-off.
func (d *discovery) finish(id string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.running, id)
	if err == nil {
		delete(d.handedOver, id)
		delete(d.fails, id)
		delete(d.backoff, id)
		return
	}
	d.fails[id]++
	// A machine handed over stays due: it is retried after its back-off.
	wait := d.opts.BackoffMin << (d.fails[id] - 1)
	if wait > d.opts.BackoffMax || wait <= 0 {
		wait = d.opts.BackoffMax
	}
	d.backoff[id] = d.e.now().Add(wait)
}

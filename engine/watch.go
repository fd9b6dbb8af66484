package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/discoterm/discoterm/store"
)

// Watch reports what other processes and operators change in the store as
// the engine's own events (lock, staged, journal, host, log), so a console
// shows a colleague's lock, staging, plan, approval and push as they
// happen. While it runs it also renews this operator's branch locks (the
// holder's process is alive) and says when the store is unreachable. It
// returns when ctx ends.
func (e *Engine) Watch(ctx context.Context) error {
	w := &watcher{e: e}
	if err := w.snapshot(store.AreaAll); err != nil {
		e.logf(LevelWarn, "not following other operators' changes: %v", err)
		return err
	}
	var changes <-chan store.Change
	if sw, ok := e.opts.Store.(store.Watcher); ok {
		ch, err := sw.Watch(ctx)
		if err != nil {
			e.logf(LevelWarn, "not following other operators' changes: %v", err)
			return err
		}
		changes = ch
	}
	renew := time.NewTicker(max(e.opts.LockTTL/4, time.Second))
	defer renew.Stop()
	health := time.NewTicker(time.Second)
	defer health.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ch, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			w.changed(ch)
		case <-renew.C:
			e.renewLocks()
		case <-health.C:
			w.checkHealth()
		}
	}
}

// renewLocks extends the TTL of every lock this operator holds.
func (e *Engine) renewLocks() {
	now := e.now()
	err := e.opts.Store.Update(func(tx store.Tx) error {
		bs, err := tx.Branches()
		if err != nil {
			return err
		}
		for _, b := range bs {
			l, err := tx.Lock(b.Name)
			if errors.Is(err, store.ErrNotFound) || (err == nil && (l.Holder != e.opts.Operator || l.Expired(now))) {
				continue
			} else if err != nil {
				return err
			}
			l.Expires = now.Add(e.opts.LockTTL)
			if err := tx.PutLock(l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.logf(LevelWarn, "renewing your locks: %v", err)
	}
}

// watcher keeps what the store held at the last look, to turn a change
// notice into the events that describe it.
type watcher struct {
	e       *Engine
	heads   map[string]uint64
	locks   map[string]store.Lock
	staged  map[string]int
	plans   map[string]store.PlanRecord // without Data
	hosts   map[string]store.Host
	downLog time.Time // last "unreachable" message
}

// changed re-reads the areas a change touched and, when someone else made
// it, reports the differences.
func (w *watcher) changed(ch store.Change) {
	old := *w
	areas := ch.Areas
	if areas&(store.AreaBranches|store.AreaJournal) != 0 {
		areas |= store.AreaLocks | store.AreaStaged // per-branch reads need the branch list
	}
	if err := w.snapshot(areas); err != nil {
		w.e.logf(LevelWarn, "following the store: %v", err)
		return
	}
	if !ch.Foreign {
		return
	}
	if areas&(store.AreaBranches|store.AreaJournal) != 0 {
		w.diffHeads(old.heads)
	}
	if areas&store.AreaLocks != 0 {
		w.diffLocks(old.locks)
	}
	if areas&store.AreaStaged != 0 {
		w.diffStaged(old.staged)
	}
	if areas&store.AreaPlans != 0 {
		w.diffPlans(old.plans)
	}
	if areas&store.AreaHosts != 0 {
		w.diffHosts(old.hosts)
	}
}

// snapshot reads the given areas in one transaction.
func (w *watcher) snapshot(areas store.Area) error {
	return w.e.opts.Store.View(func(tx store.Tx) error {
		bs, err := tx.Branches()
		if err != nil {
			return err
		}
		if areas&(store.AreaBranches|store.AreaJournal) != 0 || w.heads == nil {
			w.heads = map[string]uint64{}
			for _, b := range bs {
				w.heads[b.Name] = b.Head
			}
		}
		if areas&store.AreaLocks != 0 || w.locks == nil {
			w.locks = map[string]store.Lock{}
			for _, b := range bs {
				if l, err := tx.Lock(b.Name); err == nil {
					w.locks[b.Name] = l
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		if areas&store.AreaStaged != 0 || w.staged == nil {
			w.staged = map[string]int{}
			for _, b := range bs {
				st, err := tx.Staged(b.Name)
				if err != nil {
					return err
				}
				w.staged[b.Name] = len(st)
			}
		}
		if areas&store.AreaPlans != 0 || w.plans == nil {
			ps, err := tx.Plans()
			if err != nil {
				return err
			}
			w.plans = make(map[string]store.PlanRecord, len(ps))
			for _, p := range ps {
				p.Data = nil
				w.plans[p.ID] = p
			}
		}
		if areas&store.AreaHosts != 0 || w.hosts == nil {
			hs, err := tx.Hosts()
			if err != nil {
				return err
			}
			w.hosts = make(map[string]store.Host, len(hs))
			for _, h := range hs {
				w.hosts[h.ID] = h
			}
		}
		return nil
	})
}

func (w *watcher) diffHeads(old map[string]uint64) {
	for name, head := range w.heads {
		prev, known := old[name]
		switch {
		case !known:
			w.e.emit(&JournalEvent{Header: Header{Message: "branch " + name + " created elsewhere"}, Branch: name, Head: head})
		case head > prev:
			w.e.emit(&JournalEvent{Header: Header{Message: fmt.Sprintf("%s: seq %d–%d committed elsewhere", name, prev+1, head)},
				Branch: name, Head: head, First: prev + 1, Last: head})
		}
	}
}

func (w *watcher) diffLocks(old map[string]store.Lock) {
	for name, l := range w.locks {
		if p, ok := old[name]; ok && p.Holder == l.Holder && p.Message == l.Message && p.Time.Equal(l.Time) {
			continue // renewed, not changed
		}
		l := l
		w.e.emit(&LockEvent{Header: Header{Message: fmt.Sprintf("%s locked %s: %s", l.Holder, name, l.Message)},
			Branch: name, State: "locked", Lock: &l, Actor: l.Holder})
	}
	for name, p := range old {
		if _, ok := w.locks[name]; !ok {
			w.e.emit(&LockEvent{Header: Header{Message: fmt.Sprintf("%s unlocked (it was %s's)", name, p.Holder)},
				Branch: name, State: "unlocked", Actor: p.Holder})
		}
	}
}

func (w *watcher) diffStaged(old map[string]int) {
	for name, n := range w.staged {
		if old[name] != n {
			w.e.emit(&StagedEvent{Header: Header{Message: fmt.Sprintf("%s: %s staged (elsewhere)", name, plural(n, "entry", "entries"))}, Branch: name, Count: n})
		}
	}
}

func (w *watcher) diffPlans(old map[string]store.PlanRecord) {
	// A plan first seen after it was approved or pushed (a cron `up`
	// makes, approves and pushes between two looks) reports each step.
	for id, p := range w.plans {
		prev, known := old[id]
		if !known {
			w.e.logf(LevelInfo, "plan %s of %s made by %s", id, p.Branch, p.Author)
		}
		if p.Approved && !prev.Approved {
			w.e.logf(LevelInfo, "plan %s of %s approved by %s", id, p.Branch, p.Approver)
		}
		if p.Pushed && !prev.Pushed {
			w.e.logf(LevelInfo, "plan %s of %s pushed", id, p.Branch)
		}
	}
}

// diffHosts reports hosts whose state an operator cares about changed;
// a scanner's last-seen times and round-trip figures are not news.
func (w *watcher) diffHosts(old map[string]store.Host) {
	view := w.e.viewer()
	for id, h := range w.hosts {
		p, known := old[id]
		if known && p.Position == h.Position && p.StateBranch == h.StateBranch && p.LastResult == h.LastResult &&
			p.LastPush.Equal(h.LastPush) && p.Branch == h.Branch && p.Trusted == h.Trusted && p.Liveness == h.Liveness &&
			p.Name == h.Name && p.Addr == h.Addr {
			continue
		}
		msg := displayName(h) + " updated elsewhere"
		if known && !p.LastPush.Equal(h.LastPush) {
			msg = fmt.Sprintf("%s: %s at position %d (push elsewhere)", displayName(h), h.LastResult, h.Position)
		}
		w.e.emit(&HostEvent{Header: Header{Message: msg}, Change: HostUpdated, Host: view(h)})
	}
}

// checkHealth says when a shared store becomes unreachable, every ten
// seconds while it stays so, and when it is back.
func (w *watcher) checkHealth() {
	hs, ok := w.e.opts.Store.(store.Health)
	if !ok {
		return
	}
	since := hs.Unreachable()
	now := time.Now()
	switch {
	case since.IsZero() && !w.downLog.IsZero():
		w.downLog = time.Time{}
		w.e.logf(LevelInfo, "store %s reachable again", w.e.opts.Store.Path())
	case !since.IsZero() && now.Sub(w.downLog) >= 10*time.Second:
		w.downLog = now
		w.e.logf(LevelWarn, "store unreachable since %s; results are queued until it returns", now.Sub(since).Round(time.Second))
	}
}

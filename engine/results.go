package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// A push records each host's results as that host finishes, so other
// consoles follow it live, and through a queue, so that a store that is
// unreachable (a NATS server lost mid-push) never stalls the push: the
// hosts' state files are the truth, and the results are written, in order,
// when the store is back.

// writeQueue holds store writes in order until they succeed.
type writeQueue struct {
	mu      sync.Mutex
	pending []queuedWrite
	running bool
	failing time.Time // since when the head write has failed; zero if not
	lastErr error
	idle    chan struct{} // closed when the queue empties
}

type queuedWrite struct {
	what string
	fn   func(store.Tx) error
}

// ResultsWait bounds how long a push waits at its end for an unreachable
// store to take its results.
const ResultsWait = 5 * time.Minute

// queueRetry is the pause between attempts at the head write.
const queueRetry = 250 * time.Millisecond

// enqueue adds a write behind every earlier one and starts the writer.
func (e *Engine) enqueue(what string, fn func(store.Tx) error) {
	q := &e.wq
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, queuedWrite{what: what, fn: fn})
	if q.idle == nil {
		q.idle = make(chan struct{})
	}
	if !q.running {
		q.running = true
		go e.drainQueue()
	}
}

func (e *Engine) drainQueue() {
	q := &e.wq
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			if !q.failing.IsZero() {
				e.logf(LevelInfo, "store reachable again after %s; queued results written", time.Since(q.failing).Round(time.Second))
			}
			q.failing, q.lastErr = time.Time{}, nil
			close(q.idle)
			q.idle = nil
			q.mu.Unlock()
			return
		}
		w := q.pending[0]
		q.mu.Unlock()
		err := e.opts.Store.Update(w.fn)
		q.mu.Lock()
		if err == nil {
			q.pending = q.pending[1:]
			q.mu.Unlock()
			continue
		}
		if q.failing.IsZero() {
			q.failing = time.Now()
			e.logf(LevelWarn, "store unreachable: %s queued (%v)", w.what, err)
		}
		q.lastErr = err
		q.mu.Unlock()
		time.Sleep(queueRetry)
	}
}

// QueuedWrites reports writes waiting for the store and since when it has
// refused them (zero when it has not).
func (e *Engine) QueuedWrites() (n int, failingSince time.Time) {
	e.wq.mu.Lock()
	defer e.wq.mu.Unlock()
	return len(e.wq.pending), e.wq.failing
}

// flushWrites waits until every queued write is stored, saying every few
// seconds that it waits; when ctx ends first it reports what is unsaved.
func (e *Engine) flushWrites(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		e.wq.mu.Lock()
		idle, n, since, lastErr := e.wq.idle, len(e.wq.pending), e.wq.failing, e.wq.lastErr
		e.wq.mu.Unlock()
		if idle == nil {
			return nil
		}
		select {
		case <-idle:
			return nil
		case <-tick.C:
			if !since.IsZero() {
				e.logf(LevelWarn, "store unreachable since %s; %d result writes queued, waiting (%v)", time.Since(since).Round(time.Second), n, lastErr)
			}
		case <-ctx.Done():
			return fmt.Errorf("%d result writes not stored (store unreachable since %s); the hosts' state files hold their positions, and the next plan reads them", n, time.Since(since).Round(time.Second))
		}
	}
}

// recordHost queues one host's results and its mirrored position.
func (e *Engine) recordHost(p *Plan, entries []journal.Entry, hr HostPush) {
	if hr.Status == PushNotStarted {
		return // never touched: it keeps its last result
	}
	now := e.now()
	e.enqueue("results of "+hr.Name, func(tx store.Tx) error {
		var rs []store.RunResult
		for _, en := range hr.Entries {
			rs = append(rs, store.RunResult{PlanID: p.ID, HostID: hr.HostID, HostName: hr.Name, Branch: p.Branch, Seq: en.Seq, Kind: en.Kind,
				Summary: en.Summary, Result: en.Result, ExitCode: en.ExitCode, Duration: en.Duration, Output: en.Output, Time: now, Usage: en.Usage})
		}
		if len(hr.Entries) == 0 && hr.Status != PushDone && hr.Status != PushNothing {
			rs = append(rs, store.RunResult{PlanID: p.ID, HostID: hr.HostID, HostName: hr.Name, Branch: p.Branch, Result: string(hr.Status), Output: hr.Err, Time: now})
		}
		if err := tx.AddResults(rs); err != nil {
			return err
		}
		h, err := tx.Host(hr.HostID)
		if err != nil {
			return nil // removed meanwhile: its results stay on record
		}
		if hr.Status == PushNothing {
			// Up to date: nothing ran, so its last result stands.
			h.LastOK = now
			return tx.PutHost(h)
		}
		h.LastPush, h.LastResult, h.LastError = now, string(hr.Status), hr.Err
		h.Prepared = hr.prepared // a live push's result ends what was prepared
		if hr.Status == PushDone {
			h.LastOK = now
			clearRepaired(&h, p, hr.HostID) // drift_fix.go
		}
		if hr.contacted && hr.Status != PushStale && hr.Status != PushUnreach {
			h.Position, h.StateBranch = hr.To, p.Branch
			if hr.To > 0 && hr.To <= uint64(len(entries)) {
				h.PositionHash = entries[hr.To-1].Hash
			}
		}
		return tx.PutHost(h)
	})
}

// recordPush marks the plan pushed and audits the push, behind the hosts'
// results, and waits for all of it to be stored.
func (e *Engine) recordPush(ctx context.Context, p *Plan, res *PushResult) {
	now, failed, n := e.now(), res.Failed(), len(res.Hosts)
	e.enqueue("push record of plan "+p.ID, func(tx store.Tx) error {
		rec, err := tx.Plan(p.ID)
		if err == nil {
			rec.Pushed = true
			if err := tx.PutPlan(rec); err != nil {
				return err
			}
		}
		return tx.AddAudit(store.AuditRecord{Branch: p.Branch, Time: now, Actor: e.opts.Operator, Action: "push",
			Message: fmt.Sprintf("plan %s: %d hosts, %d not finished", p.ID, n, failed)})
	})
	if err := e.flushWrites(ctx); err != nil {
		e.logf(LevelError, "recording push %s: %v", p.ID, err)
	}
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// PushPrepared is a host that holds a plan's apply program and applies it
// by itself at the start of the branch's next window.
const PushPrepared PushStatus = "prepared"

// PushDiscarded is the result recorded for a prepared plan disarmed and
// removed from a host before its window (cancel-prepared, or a live push).
const PushDiscarded = "discarded"

// Preparer is the part of a Remote that prepares pushes ahead of a
// window (remote.Steps); a Remote without it cannot.
type Preparer interface {
	Prepare(ctx context.Context, t remote.Target, b *remote.Bundle, planID string, start time.Time) (armed remote.Armed, sent int64, err error)
	Collect(ctx context.Context, t remote.Target, stateDir string) ([]remote.Prepared, error)
	Forget(ctx context.Context, t remote.Target, stateDir, planID string) error
}

func (e *Engine) preparer() (Preparer, error) {
	p, ok := e.opts.Remote.(Preparer)
	if !ok {
		return nil, fmt.Errorf("%w: this transport cannot prepare pushes", ErrUsage)
	}
	return p, nil
}

// PreparePush uploads an approved plan to each of its hosts ahead of the
// branch's next maintenance window: the same apply program a live push
// runs (fingerprint checks first), kept in the host's state directory and
// verified there by its sha256, and a detached waiter that runs it at the
// window's start by the host's clock. The controller need not be
// reachable then; Collect stores the results at its next contact. The
// plan counts as pushed: it is applied once, by the hosts.
func (e *Engine) PreparePush(ctx context.Context, planID string, opts PushOptions) (*PushResult, error) {
	pr, err := e.preparer()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	in, err := e.loadPushInput(planID, opts)
	if err != nil {
		return nil, err
	}
	p, entries, bundles, targets, bundleErr := in.plan, in.entries, in.bundles, in.targets, in.bundleErr
	win, err := branchWindow(in.branch, e.now())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	} else if win == nil {
		return nil, fmt.Errorf("%w: branch %s has no maintenance window to prepare for; set one with: policy %s --window 'Sat 02:00-04:00 UTC'", ErrUsage, p.Branch, p.Branch)
	}
	at := win.Start
	if win.Open {
		at = e.now() // open now: the hosts apply at once, still on their own
	}
	res := &PushResult{PlanID: p.ID, Hosts: make([]HostPush, len(p.Hosts))}
	e.forEachHost(ctx, len(p.Hosts), e.opts.Parallel, func(i int) {
		hp := p.Hosts[i]
		hr := &res.Hosts[i]
		*hr = HostPush{HostID: hp.HostID, Name: hp.Name, From: hp.Position, To: hp.Position}
		switch {
		case hp.Err != "":
			hr.Status, hr.Err = PushFailed, "not planned: "+hp.Err
		case bundleErr[hp.HostID] != nil:
			hr.Status, hr.Err = PushFailed, bundleErr[hp.HostID].Error()
		case len(bundles[hp.HostID].Entries) == 0:
			hr.Status = PushNothing
		default:
			hs := time.Now()
			hctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout)
			armed, _, err := pr.Prepare(hctx, targets[hp.HostID], bundles[hp.HostID], p.ID, at)
			cancel()
			hr.Duration = time.Since(hs)
			if err != nil {
				hr.Status, hr.Err = PushFailed, "prepare: "+hostErr(err)
				var ue *remote.UnreachableError
				if errors.As(err, &ue) {
					hr.Status = PushUnreach
				}
			} else {
				hr.Status, hr.Err = PushPrepared, fmt.Sprintf("prepared for %s (%s; %s)", at.Format("Mon 2006-01-02 15:04 MST"), win.Window, armed)
				hr.prepared = &store.Prepared{Plan: p.ID, For: at, State: "armed"}
			}
		}
		e.emit(&PushHostEvent{Header: Header{Message: fmt.Sprintf("%s %s", hp.Name, hr.Status)}, PlanID: p.ID, HostID: hp.HostID, Host: hp.Name,
			Status: hr.Status, Err: hr.Err, Position: hr.To})
		e.recordHost(p, entries, *hr)
	})
	res.Duration = time.Since(start)
	e.recordPush(ctx, p, res)
	if n := res.Failed(); n > 0 {
		return res, fmt.Errorf("%w: %d of %d hosts could not be prepared", ErrHostsFail, n, len(res.Hosts))
	}
	return res, nil
}

// CollectedPlan is one prepared plan found on a host by Collect.
type CollectedPlan struct {
	Host   string     `json:"host"`
	HostID string     `json:"host_id"`
	PlanID string     `json:"plan"`
	State  string     `json:"state"`  // done, waiting, lost
	Status PushStatus `json:"status"` // done: how the host's apply ended
	To     uint64     `json:"to"`
	Err    string     `json:"error,omitempty"`
}

// Collect asks hosts (names; none: every trusted host) for the plans they
// were prepared with: results of those applied at their window are stored
// like a live push's and removed from the host; a plan whose waiter is
// gone (the host rebooted) is recorded as lost. With cancel, plans still
// waiting are disarmed and removed too (cancel-prepared).
func (e *Engine) Collect(ctx context.Context, hosts []string, branch string, cancel bool) ([]CollectedPlan, error) {
	pr, err := e.preparer()
	if err != nil {
		return nil, err
	}
	var hs []store.Host
	err = e.opts.Store.View(func(tx store.Tx) error {
		if len(hosts) > 0 {
			for _, n := range hosts {
				h, err := findHost(tx, n)
				if err != nil {
					return err
				}
				hs = append(hs, h)
			}
			return nil
		}
		all, err := tx.Hosts()
		for _, h := range all {
			if h.Trusted && (branch == "" || e.hostView(h).Branch == branch) {
				hs = append(hs, h)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []CollectedPlan
	var errs []error
	for _, h := range hs {
		why := ""
		if cancel {
			why = "by cancel-prepared"
		}
		cs, err := e.collectHost(ctx, pr, h, target(h), why)
		out = append(out, cs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := e.flushWrites(ctx); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// collectHost gathers one host's prepared plans: those its waiter ran
// (or lost) are stored and removed from the host; with a reason to
// cancel, those still waiting are disarmed and removed too, and recorded
// as discarded for that reason.
func (e *Engine) collectHost(ctx context.Context, pr Preparer, h store.Host, t remote.Target, cancelWhy string) ([]CollectedPlan, error) {
	cancel := cancelWhy != ""
	hctx, stop := context.WithTimeout(ctx, e.opts.HostTimeout)
	defer stop()
	ps, err := pr.Collect(hctx, t, e.opts.StateDir)
	if err != nil {
		return nil, err
	}
	var out []CollectedPlan
	var errs []error
	for _, pp := range ps {
		c := CollectedPlan{Host: displayName(h), HostID: h.ID, PlanID: pp.PlanID, State: pp.State}
		if pp.State == "waiting" && !cancel {
			out = append(out, c)
			continue
		}
		if pp.State != "waiting" {
			c.Status, c.To, c.Err = e.storeCollected(h, pp)
		}
		if err := pr.Forget(hctx, t, e.opts.StateDir, pp.PlanID); err != nil {
			errs = append(errs, err)
		} else if pp.State == "waiting" {
			e.recordDiscarded(h, pp.PlanID, cancelWhy)
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// collectAtContact is Collect for one host the controller is contacting
// anyway (scan learn, plan, live push), and only when its last push was a
// prepared one: the others hold nothing, and pay no extra round trip.
// With discard (a live push), a plan still waiting is disarmed and its
// copy removed first, so the host never applies it after the live push.
// It reports whether anything was stored (the host's record changed).
func (e *Engine) collectAtContact(ctx context.Context, h store.Host, t remote.Target, discard bool) bool {
	if h.LastResult != string(PushPrepared) {
		return false
	}
	pr, ok := e.opts.Remote.(Preparer)
	if !ok {
		return false
	}
	why := ""
	if discard {
		why = "before a live push"
	}
	cs, err := e.collectHost(ctx, pr, h, t, why)
	if err != nil {
		e.logf(LevelWarn, "%s: collecting its prepared pushes: %v", displayName(h), err)
	}
	stored := false
	for _, c := range cs {
		stored = stored || c.State != "waiting" || discard
	}
	if stored {
		if err := e.flushWrites(ctx); err != nil {
			e.logf(LevelError, "%s: storing collected results: %v", displayName(h), err)
		}
	}
	return stored
}

// recordDiscarded records, in the plan's results (report), that a
// host's prepared copy of it was disarmed and removed before its window,
// and stops the host's record saying it is prepared.
func (e *Engine) recordDiscarded(h store.Host, planID, why string) {
	msg := fmt.Sprintf("prepared plan %s discarded (waiter disarmed, copy removed) %s", planID, why)
	now := e.now()
	e.enqueue("discard of "+planID+" on "+displayName(h), func(tx store.Tx) error {
		branch := ""
		if p, err := getPlan(tx, planID); err == nil {
			branch = p.Branch
		}
		if err := tx.AddResults([]store.RunResult{{PlanID: planID, HostID: h.ID, HostName: displayName(h), Branch: branch,
			Result: PushDiscarded, Output: msg, Time: now}}); err != nil {
			return err
		}
		cur, err := tx.Host(h.ID)
		if err != nil || cur.LastResult != string(PushPrepared) {
			return nil
		}
		cur.LastResult, cur.LastError = PushDiscarded, msg
		if cur.Prepared != nil && cur.Prepared.Plan == planID {
			cur.Prepared.State = "discarded"
		}
		return tx.PutHost(cur)
	})
	e.emit(&LogEvent{Header: Header{Level: LevelWarn, Message: displayName(h) + ": " + msg}, PlanID: planID, HostID: h.ID, Host: displayName(h)})
}

// storeCollected records what a host reported of a prepared plan.
func (e *Engine) storeCollected(h store.Host, pp remote.Prepared) (PushStatus, uint64, string) {
	var p *Plan
	var entries []journal.Entry
	err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		if p, err = getPlan(tx, pp.PlanID); err != nil {
			return err
		}
		_, entries, err = e.loadJournal(tx, p.Branch)
		return err
	})
	if err != nil {
		return PushFailed, 0, fmt.Sprintf("plan %s: %v", pp.PlanID, err)
	}
	hr := HostPush{HostID: h.ID, Name: displayName(h), From: h.Position, To: h.Position}
	switch {
	case pp.State == "lost":
		hr.Status, hr.Err = PushFailed, "prepare lost (the waiter is gone: did the host reboot before its window?); re-prepare"
	case pp.Err != "":
		hr.Status, hr.Err = PushFailed, pp.Err
	case pp.Result.Stale != "":
		hr.Status, hr.Err = PushStale, "at its window: "+pp.Result.Stale+"; nothing applied"
	default:
		ar := pp.Result
		hr.To, hr.contacted = ar.Position, true
		cls, _ := e.classification() // an unreadable file scrubs nothing: the plan kept no secret value
		_, sec := e.hostVars(h, cls)
		for _, r := range ar.Entries {
			er := EntryResult{Seq: r.Seq, Result: r.Result, ExitCode: r.ExitCode, Duration: r.Duration, Output: sec.redact(r.Output), Usage: storeUsage(r.Usage)}
			if r.Seq >= 1 && r.Seq <= uint64(len(entries)) {
				er.Kind, er.Summary = entries[r.Seq-1].Kind, entries[r.Seq-1].Summary()
			}
			hr.Entries = append(hr.Entries, er)
		}
		hr.Status = PushDone
		entryEnded(&hr)
	}
	hr.prepared = collectedState(h, pp, hr)
	e.recordHost(p, entries, hr)
	e.emit(&LogEvent{Header: Header{Message: fmt.Sprintf("%s: prepared plan %s collected: %s", hr.Name, p.ID, hr.Status)}, PlanID: p.ID, HostID: h.ID, Host: hr.Name})
	return hr.Status, hr.To, hr.Err
}

// collectedState is what the host's record keeps of a collected plan.
func collectedState(h store.Host, pp remote.Prepared, hr HostPush) *store.Prepared {
	ps := &store.Prepared{Plan: pp.PlanID, At: pp.At}
	if h.Prepared != nil && h.Prepared.Plan == pp.PlanID {
		ps.For = h.Prepared.For
		if !ps.At.IsZero() {
			ps.At = ps.At.In(ps.For.Location()) // shown in the window's zone
		}
	}
	switch {
	case pp.State == "lost":
		ps.State = "lost"
	case hr.Status == PushStale:
		ps.State = "stale"
	case hr.Status == PushDone:
		ps.State = "applied"
	default:
		ps.State = "failed"
		for _, en := range hr.Entries {
			if en.Result != "ok" && en.Result != "skipped" {
				ps.Seq = en.Seq
				break
			}
		}
	}
	return ps
}

// hostRecord reads one host's record from the store.
func (e *Engine) hostRecord(id string) (store.Host, error) {
	var h store.Host
	err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		h, err = tx.Host(id)
		return err
	})
	return h, err
}

package uitest

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// Lock implements Backend.
func (f *Fake) Lock(name, message string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Lock", "%s, %q", name, message); err != nil {
		return err
	}
	b := f.branches[name]
	if b == nil { // locking creates a branch, as the engine does
		b = &branch{meta: store.Branch{Name: name}}
		f.branches[name] = b
	}
	if b.lock != nil && b.lock.Holder != f.opts.Operator {
		return fmt.Errorf("%s is locked by %s: %w", name, b.lock.Holder, engine.ErrLockHeld)
	}
	b.lock = &store.Lock{Branch: name, Holder: f.opts.Operator, Message: message, Time: f.now()}
	f.emitLocked(&engine.LockEvent{Header: engine.Header{Message: "locked " + name + ": " + message}, Branch: name, State: "locked", Actor: f.opts.Operator})
	return nil
}

// LockAs makes someone else hold a branch's lock.
func (f *Fake) LockAs(name, holder, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.branches[name].lock = &store.Lock{Branch: name, Holder: holder, Message: message, Time: f.now().Add(-20 * 60e9)}
}

// Unlock implements Backend.
func (f *Fake) Unlock(name string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Unlock", "%s, %v", name, force); err != nil {
		return err
	}
	b := f.branches[name]
	if b == nil || b.lock == nil {
		return fmt.Errorf("%s: %w", name, engine.ErrNotLocked)
	}
	if b.lock.Holder != f.opts.Operator && !force {
		return fmt.Errorf("%s is locked by %s: %w", name, b.lock.Holder, engine.ErrLockHeld)
	}
	b.lock = nil
	f.emitLocked(&engine.LockEvent{Header: engine.Header{Message: "unlocked " + name}, Branch: name, State: "unlocked"})
	return nil
}

// Stage implements Backend.
func (f *Fake) Stage(name string, req engine.StageRequest) (journal.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	subject := req.Path
	if req.Kind == journal.KindExec {
		subject = req.Command
	}
	if err := f.record("Stage", "%s, %s %s", name, req.Kind, subject); err != nil {
		return journal.Entry{}, err
	}
	b := f.branches[name]
	if b == nil {
		return journal.Entry{}, fmt.Errorf("branch %q: %w", name, engine.ErrNotFound)
	}
	if b.lock == nil || b.lock.Holder != f.opts.Operator {
		return journal.Entry{}, fmt.Errorf("staging on %s: %w", name, engine.ErrNotLocked)
	}
	e := journal.Entry{Kind: req.Kind, Path: req.Path, Mode: req.Mode, Owner: req.Owner, Group: req.Group,
		Command: req.Command, Guard: req.Guard, Author: f.opts.Operator, Message: b.lock.Message, Time: f.now(),
		Size: int64(len(req.Content))}
	if req.Content != nil {
		if f.blobs == nil {
			f.blobs = map[string][]byte{}
		}
		e.Blob = fmt.Sprintf("%064x", len(f.blobs)+1000)
		f.blobs[e.Blob] = slices.Clone(req.Content)
	}
	b.staged = append(b.staged, e)
	e.Seq = b.meta.Head + uint64(len(b.staged))
	f.emitLocked(&engine.StagedEvent{Header: engine.Header{Message: "staged " + e.Summary()}, Branch: name})
	return e, nil
}

// Drop implements Backend: by the seq approve would give the entry, as
// the engine does.
func (f *Fake) Drop(name string, seq uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Drop", "%s, %d", name, seq); err != nil {
		return err
	}
	b := f.branches[name]
	head, n := b.meta.Head, len(b.staged)
	if n == 0 || seq <= head || seq > head+uint64(n) {
		return fmt.Errorf("%w: seq %d is not a staged entry of %s: the staged entries are %s (staged lists them)", engine.ErrUsage, seq, name, engine.SeqRange(head, n))
	}
	i := int(seq - head - 1)
	b.staged = slices.Delete(b.staged, i, i+1)
	f.emitLocked(&engine.StagedEvent{Header: engine.Header{Message: "dropped"}, Branch: name})
	return nil
}

// stagedSeqs are the staged entries numbered as approve would commit them.
func (b *branch) stagedSeqs() []journal.Entry {
	out := slices.Clone(b.staged)
	for i := range out {
		out[i].Seq = b.meta.Head + uint64(i) + 1
	}
	return out
}

// Plan implements Backend: every host of the branch (or the named ones)
// gets the entries after its position plus the staged ones.
func (f *Fake) Plan(ctx context.Context, req engine.PlanRequest) (*engine.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Plan", "%s, %v", req.Branch, req.Hosts); err != nil {
		return nil, err
	}
	b := f.branches[req.Branch]
	if b == nil {
		return nil, fmt.Errorf("branch %q: %w", req.Branch, engine.ErrNotFound)
	}
	f.planSeq++
	p := &engine.Plan{ID: fmt.Sprintf("p%08x", 0x1a2b3c00+f.planSeq), Branch: req.Branch, Created: f.now(),
		Author: f.opts.Operator, Head: b.meta.Head, HeadHash: b.meta.HeadHash, Staged: slices.Clone(b.staged)}
	var targets []int
	for i, h := range f.hosts {
		if len(req.Hosts) > 0 && !slices.Contains(req.Hosts, h.Name) {
			continue
		}
		if len(req.Hosts) == 0 && h.Branch != req.Branch {
			continue
		}
		targets = append(targets, i)
	}
	for _, i := range targets {
		h := f.hosts[i]
		p.Hosts = append(p.Hosts, f.planHost(i, h, b))
		hp := p.Hosts[len(p.Hosts)-1]
		// As the engine does: Step and Steps count this host's entries.
		f.emitLocked(&engine.PlanHostEvent{Header: engine.Header{Message: h.Name + " planned"}, PlanID: p.ID, Branch: p.Branch, Host: hp})
		if ctx.Err() != nil {
			return nil, engine.ErrCancelled
		}
	}
	f.plans[p.ID] = p
	f.emitLocked(&engine.PlanDoneEvent{Header: engine.Header{Message: fmt.Sprintf("%d hosts", len(p.Hosts))}, PlanID: p.ID, Branch: p.Branch, Hosts: len(p.Hosts)})
	return clonePlan(p), nil
}

func clonePlan(p *engine.Plan) *engine.Plan {
	c := *p
	c.Hosts = slices.Clone(p.Hosts)
	return &c
}

// GetPlan implements Backend.
func (f *Fake) GetPlan(id string) (*engine.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("GetPlan", "%s", id); err != nil {
		return nil, err
	}
	for pid, p := range f.plans {
		if pid == id || (len(id) >= 4 && pid[:len(id)] == id) {
			return clonePlan(p), nil
		}
	}
	return nil, fmt.Errorf("plan %q: %w", id, engine.ErrNotFound)
}

// Approve implements Backend: commits the staged entries, releases the lock.
func (f *Fake) Approve(id string, keepLock bool) (*engine.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Approve", "%s, %v", id, keepLock); err != nil {
		return nil, err
	}
	p := f.plans[id]
	if p == nil {
		return nil, fmt.Errorf("plan %q: %w", id, engine.ErrNotFound)
	}
	b := f.branches[p.Branch]
	if len(p.Staged) > 0 {
		if b.lock == nil || b.lock.Holder != f.opts.Operator {
			return nil, fmt.Errorf("approving commits staged entries: %w", engine.ErrNotLocked)
		}
		for _, e := range p.Staged {
			var prev *journal.Entry
			if n := len(b.entries); n > 0 {
				prev = &b.entries[n-1]
			}
			e.Changeset = b.meta.Head + 1
			sealed := journal.Seal(prev, e)
			b.entries = append(b.entries, sealed)
			b.meta.Head, b.meta.HeadHash = sealed.Seq, sealed.Hash
		}
		b.staged = nil
		f.emitLocked(&engine.JournalEvent{Header: engine.Header{Message: "committed"}, Branch: p.Branch, Head: b.meta.Head})
		if !keepLock {
			b.lock = nil
			f.emitLocked(&engine.LockEvent{Header: engine.Header{Message: "unlocked " + p.Branch}, Branch: p.Branch, State: "unlocked"})
		}
	}
	p.Approved = true
	return clonePlan(p), nil
}

// Push implements Backend: host by host, entry by entry, with events.
func (f *Fake) Push(ctx context.Context, id string, opts engine.PushOptions) (*engine.PushResult, error) {
	f.mu.Lock()
	if err := f.record("Push", "%s, reboot=%v", id, opts.AllowReboot); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	p := f.plans[id]
	if p == nil || !p.Approved {
		f.mu.Unlock()
		return nil, fmt.Errorf("plan %q is not approved: %w", id, engine.ErrUsage)
	}
	p.Pushed = true
	gate := f.PushGate
	f.mu.Unlock()

	res := &engine.PushResult{PlanID: id}
	cancelled := false
	for _, hp := range p.Hosts {
		hr := engine.HostPush{HostID: hp.HostID, Name: hp.Name, From: hp.Position, To: hp.Position}
		switch {
		case hp.Err != "":
			hr.Status, hr.Err = engine.PushUnreach, hp.Err
		case hp.Pending() == 0:
			hr.Status = engine.PushNothing
		case cancelled:
			hr.Status, hr.Err = engine.PushNotStarted, "not started: the push was cancelled first"
		default:
			if !waitGate(ctx, gate) {
				cancelled = true
				hr.Status, hr.Err = engine.PushNotStarted, "not started: the push was cancelled first"
				break
			}
			f.pushHost(id, hp, &hr)
		}
		f.Emit(&engine.PushHostEvent{PlanID: id, HostID: hp.HostID, Host: hp.Name, Status: hr.Status, Err: hr.Err, Step: len(hr.Entries), Steps: hp.Pending()})
		res.Hosts = append(res.Hosts, hr)
	}
	f.Emit(&engine.PushDoneEvent{Header: engine.Header{Message: fmt.Sprintf("%d hosts", len(res.Hosts))}, PlanID: id, Hosts: len(res.Hosts)})
	if cancelled {
		return res, engine.ErrCancelled
	}
	if res.Failed() > 0 {
		return res, engine.ErrHostsFail
	}
	return res, nil
}

// waitGate lets a host go when the gate opens (or there is none) and
// reports false when the push was cancelled first.
func waitGate(ctx context.Context, gate chan struct{}) bool {
	if gate == nil {
		return ctx.Err() == nil
	}
	select {
	case <-gate:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *Fake) pushHost(id string, hp engine.HostPlan, hr *engine.HostPush) {
	n := hp.Pending()
	k := 0
	for _, c := range hp.Changes {
		if c.Effect == engine.EffectUnchanged || c.Effect == engine.EffectSkip {
			continue
		}
		k++
		f.Emit(&engine.PushHostEvent{PlanID: id, HostID: hp.HostID, Host: hp.Name, Status: engine.PushApplying, Step: k, Steps: n})
		er := engine.EntryResult{Seq: c.Seq, Kind: c.Kind, Summary: c.Summary(), Result: "ok"}
		if msg, bad := f.FailPush[hp.Name]; bad && k == n {
			er.Result, er.ExitCode, er.Output = "failed", 1, "nginx: [emerg] unknown directive \"gzip_vary_\" in /etc/nginx/nginx.conf:31\nnginx: configuration file /etc/nginx/nginx.conf test failed\n"
			hr.Status, hr.Err = engine.PushFailed, msg
		}
		hr.Entries = append(hr.Entries, er)
		// As the engine does: the summary in Message, the output's tail in Err.
		f.Emit(&engine.PushEntryEvent{Header: engine.Header{Message: er.Summary}, PlanID: id, HostID: hp.HostID, Host: hp.Name, Seq: c.Seq, Step: k, Steps: n, Result: er.Result, Summary: er.Summary, Output: strings.TrimSpace(er.Output)})
		if er.Result != "ok" {
			return
		}
		if c.Repair {
			// The journal's version back; the position stays.
			f.mu.Lock()
			f.repaired(hp.HostID, c)
			f.mu.Unlock()
			continue
		}
		hr.To = c.Seq
	}
	hr.Status = engine.PushDone
	f.mu.Lock()
	for i := range f.hosts {
		if f.hosts[i].ID == hp.HostID {
			f.hosts[i].Position = hr.To
			f.hosts[i].LastResult = "ok"
		}
	}
	f.mu.Unlock()
}

// Up implements Backend.
func (f *Fake) Up(ctx context.Context, req engine.PlanRequest, opts engine.PushOptions) (*engine.Plan, *engine.PushResult, error) {
	p, err := f.Plan(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if p, err = f.Approve(p.ID, false); err != nil {
		return p, nil, err
	}
	r, err := f.Push(ctx, p.ID, opts)
	return p, r, err
}

// Content implements Backend: staged content as given; the generated
// journal's files read as a few lines naming their entry, with a diff
// against the previous entry of the same path.
func (f *Fake) Content(name string, e journal.Entry) (*engine.EntryContent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e.Blob == "" {
		return nil, fmt.Errorf("%w: %s entries have no content", engine.ErrUsage, e.Kind)
	}
	if data, ok := f.blobs[e.Blob]; ok {
		return &engine.EntryContent{Content: slices.Clone(data), Size: len(data)}, nil
	}
	text := fmt.Sprintf("# %s, as of seq %d\nsetting = %d\n", e.Path, e.Seq, e.Seq)
	c := &engine.EntryContent{Content: []byte(text), Size: len(text)}
	if b := f.branches[name]; b != nil {
		for i := len(b.entries) - 1; i >= 0; i-- {
			if p := b.entries[i]; p.Seq < e.Seq && p.Path == e.Path {
				c.PrevSeq = p.Seq
				c.Diff = fmt.Sprintf("--- seq %d\n+++ this entry\n@@ -1,2 +1,2 @@\n-# %s, as of seq %d\n-setting = %d\n+# %s, as of seq %d\n+setting = %d\n",
					p.Seq, e.Path, p.Seq, p.Seq, e.Path, e.Seq, e.Seq)
				break
			}
		}
	}
	return c, nil
}

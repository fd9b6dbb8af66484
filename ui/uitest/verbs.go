package uitest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/machines"
	"github.com/discoterm/discoterm/store"
)

// Staged implements Backend.
func (f *Fake) Staged(name string) ([]journal.Entry, *store.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.branches[name]
	if b == nil {
		return nil, nil, fmt.Errorf("branch %q: %w", name, engine.ErrNotFound)
	}
	var l *store.Lock
	if b.lock != nil {
		c := *b.lock
		l = &c
	}
	return b.stagedSeqs(), l, nil
}

// Audit implements Backend: the locks held now, as records.
func (f *Fake) Audit(name string) ([]store.AuditRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Audit", "%s", name); err != nil {
		return nil, err
	}
	var out []store.AuditRecord
	for n, b := range f.branches {
		if b.lock != nil && (name == "" || name == n) {
			out = append(out, store.AuditRecord{Branch: n, Time: b.lock.Time, Actor: b.lock.Holder, Action: "lock", Message: b.lock.Message})
		}
	}
	slices.SortFunc(out, func(a, b store.AuditRecord) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// SetCatchUp implements Backend.
func (f *Fake) SetCatchUp(name string, p store.CatchUp) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("SetCatchUp", "%s, %v", name, p.Enabled); err != nil {
		return err
	}
	b := f.branches[name]
	if b == nil {
		return fmt.Errorf("branch %q: %w", name, engine.ErrNotFound)
	}
	b.meta.CatchUp = p
	return nil
}

// Discover implements Backend: the fake fleet is already known, so a scan
// finds nothing new; it ends when its rounds are done or ctx ends.
func (f *Fake) Discover(ctx context.Context, opts engine.DiscoverOptions) error {
	f.mu.Lock()
	err := f.record("Discover", "%v", opts.Interfaces)
	f.mu.Unlock()
	if err != nil || opts.Rounds > 0 {
		return err
	}
	<-ctx.Done()
	return nil
}

// UpAll implements Backend: up on each branch that has hosts, in name
// order.
func (f *Fake) UpAll(ctx context.Context, opts engine.PushOptions) ([]engine.UpRun, error) {
	f.mu.Lock()
	var names []string
	for _, h := range f.hosts {
		if h.Branch != "" && !slices.Contains(names, h.Branch) {
			names = append(names, h.Branch)
		}
	}
	f.mu.Unlock()
	slices.Sort(names)
	var runs []engine.UpRun
	var errs []error
	for _, n := range names {
		p, r, err := f.Up(ctx, engine.PlanRequest{Branch: n}, opts)
		runs = append(runs, engine.UpRun{Branch: n, Plan: p, Push: r, Err: err})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return runs, errors.Join(errs...)
}

// PrepareExamples readies the fake for every verb's example line
// (verbs.Verb.Example): main locked by the operator with one staged entry,
// an unapproved plan (for approve) and an approved one (for push), whose
// ids it returns.
func (f *Fake) PrepareExamples() (unapproved, approved string, err error) {
	if err := f.Lock("main", "examples"); err != nil {
		return "", "", err
	}
	if _, err := f.Stage("main", engine.StageRequest{Kind: journal.KindExec, Command: "true"}); err != nil {
		return "", "", err
	}
	p1, err := f.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
	if err != nil {
		return "", "", err
	}
	p2, err := f.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
	if err != nil {
		return "", "", err
	}
	if _, err := f.Approve(p2.ID, true); err != nil {
		return "", "", err
	}
	if _, err := f.Stage("main", engine.StageRequest{Kind: journal.KindExec, Command: "true"}); err != nil {
		return "", "", err // drop 14 has an entry to drop: main has 13 entries now
	}
	return p1.ID, p2.ID, nil
}

// Machines implements verbs.MachineSource: a machines directory of the
// fake's own, made on first use and left to the OS's temp cleaning.
func (f *Fake) Machines() machines.Dir {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "Machines()")
	if f.machinesDir == "" {
		d, err := os.MkdirTemp("", "discoterm-machines-")
		if err != nil {
			d = os.TempDir()
		}
		f.machinesDir = d
	}
	return machines.Dir{Path: f.machinesDir}
}

// Provision implements verbs.Provisioner: it serves nothing and returns
// when ctx ends.
func (f *Fake) Provision(ctx context.Context, o engine.ProvisionOptions) error {
	f.mu.Lock()
	f.record("Provision", "%s", o.Interface)
	f.mu.Unlock()
	<-ctx.Done()
	return nil
}

// MachineViews implements verbs.MachineViewer: the machines of the fake's
// directory, at the stage Stages gives them (registered otherwise).
func (f *Fake) MachineViews(ctx context.Context) ([]engine.MachineView, error) {
	ms, err := f.Machines().Load()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]engine.MachineView, 0, len(ms))
	for _, m := range ms {
		v, ok := f.Stages[m.Name]
		if !ok {
			v = engine.MachineView{Stage: engine.StageRegistered, Text: engine.StageRegistered}
		}
		v.Machine = m
		v.Boots = len(f.Boots[m.Name])
		out = append(out, v)
	}
	return out, nil
}

// BootHistory implements verbs.BootHistorySource: Boots of the machine.
func (f *Fake) BootHistory(machine string) ([]engine.BootEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.BootEvent(nil), f.Boots[machine]...), nil
}

package uitest

import (
	"context"
	"fmt"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// The fake's drift and rollout operations (verbs.DriftBackend,
// verbs.RolloutBackend): its hosts never drift.

// Drift implements verbs.DriftBackend: every host of the branch checked,
// none drifted.
func (f *Fake) Drift(ctx context.Context, req engine.DriftRequest) (*engine.DriftReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Drift", "%s, %v", req.Branch, req.Hosts); err != nil {
		return nil, err
	}
	rep := &engine.DriftReport{Branch: req.Branch, Checked: f.now()}
	for _, h := range f.hosts {
		if len(req.Hosts) > 0 && !contains(req.Hosts, h.Name) || len(req.Hosts) == 0 && req.Branch != "" && h.Branch != req.Branch {
			continue
		}
		rep.Hosts = append(rep.Hosts, engine.HostDrift{HostID: h.ID, Name: h.Name, Position: h.Position})
	}
	return rep, nil
}

// Repair implements verbs.DriftBackend: a plan of the named hosts, as
// Plan makes one (the fake has no drift to put back).
func (f *Fake) Repair(ctx context.Context, req engine.FixRequest) (*engine.Plan, error) {
	f.mu.Lock()
	err := f.record("Repair", "%s, %v, %v", req.Branch, req.Hosts, req.Paths)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	branch := req.Branch
	if branch == "" {
		branch = "main"
	}
	return f.Plan(ctx, engine.PlanRequest{Branch: branch, Hosts: req.Hosts, NoStaged: true})
}

// Adopt implements verbs.DriftBackend: nothing drifted, nothing staged.
func (f *Fake) Adopt(ctx context.Context, host string, req engine.FixRequest) (string, []journal.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return req.Branch, nil, f.record("Adopt", "%s, %v", host, req.Paths)
}

// SetRollout implements verbs.RolloutBackend.
func (f *Fake) SetRollout(name string, r store.Rollout) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("SetRollout", "%s, %s", name, engine.DescribeRollout(r)); err != nil {
		return err
	}
	b := f.branches[name]
	if b == nil {
		return fmt.Errorf("branch %q: %w", name, engine.ErrNotFound)
	}
	b.meta.Rollout = r
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// Revert implements verbs.RevertBackend: one staged file entry (the fake
// has no saved copies to read) and a plan of the named hosts.
func (f *Fake) Revert(ctx context.Context, req engine.RevertRequest) (*engine.RevertResult, error) {
	f.mu.Lock()
	err := f.record("Revert", "%s, %v, %d", req.Branch, req.Hosts, req.To)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	branch := req.Branch
	if branch == "" {
		branch = "main"
	}
	p, err := f.Plan(ctx, engine.PlanRequest{Branch: branch, Hosts: req.Hosts})
	if err != nil {
		return nil, err
	}
	en := journal.Entry{Seq: p.Head + 1, Kind: journal.KindFile, Path: "/etc/motd"}
	return &engine.RevertResult{Branch: branch, To: req.To, Staged: []journal.Entry{en}, Plan: p}, nil
}

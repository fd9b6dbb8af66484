package uitest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// The fake's drift and rollout operations (verbs.DriftBackend,
// verbs.RolloutBackend). Without Options.Drift its hosts never drift;
// with it, a few hosts have hand edits (seedDrift) that Drift reports,
// Repair plans back and Adopt stages.

// seedDrift gives every 11th host (from the 4th) a hand-edited /etc/motd
// and every 22nd one also a chmod of sshd_config; three in four hosts were
// checked ten minutes ago, the rest (every 4th from the 3rd) never.
func (f *Fake) seedDrift() {
	f.drifted = map[string][]engine.PathDrift{}
	checked := f.now().Add(-10 * time.Minute)
	for i := range f.hosts {
		h := &f.hosts[i]
		if i%11 == 3 {
			f.drifted[h.ID] = append(f.drifted[h.ID], engine.PathDrift{Path: "/etc/motd", Seq: 1, Kind: journal.KindFile, What: []string{engine.DriftContent},
				WantHash: fmt.Sprintf("%064x", 1), HostHash: fmt.Sprintf("%064x", 0xbad0+i), WantMode: "644", HostMode: "644", WantOwner: "root:root", HostOwner: "root:root",
				Diff: "--- journal/etc/motd\n+++ host/etc/motd\n@@ -1,2 +1,2 @@\n-Welcome to the fleet — spring release\n+Welcome to " + h.Name + " — DO NOT EDIT (bob was here)\n Report problems to ops@example.org\n"})
		}
		if i%22 == 3 {
			f.drifted[h.ID] = append(f.drifted[h.ID], engine.PathDrift{Path: "/etc/ssh/sshd_config", Seq: 4, Kind: journal.KindFile, What: []string{engine.DriftMode},
				WantHash: fmt.Sprintf("%064x", 4), HostHash: fmt.Sprintf("%064x", 4), WantMode: "600", HostMode: "644", WantOwner: "root:root", HostOwner: "root:root"})
		}
		if i%4 != 2 {
			h.Drift = &store.DriftSummary{Checked: checked, Position: h.Position}
			for _, d := range f.drifted[h.ID] {
				h.Drift.Paths = append(h.Drift.Paths, d.Path)
			}
		}
	}
}

// selectHosts picks the hosts of a drift request: those named, else every
// host of the branch.
func (f *Fake) selectHosts(branch string, names []string) []int {
	var out []int
	for i, h := range f.hosts {
		if len(names) > 0 && !contains(names, h.Name) || len(names) == 0 && branch != "" && h.Branch != branch {
			continue
		}
		out = append(out, i)
	}
	return out
}

// Drift implements verbs.DriftBackend: every selected host checked, its
// summary stored and announced, as the engine does.
func (f *Fake) Drift(ctx context.Context, req engine.DriftRequest) (*engine.DriftReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Drift", "%s, %v", req.Branch, req.Hosts); err != nil {
		return nil, err
	}
	branch := req.Branch
	if branch == "" {
		branch = "main"
	}
	rep := &engine.DriftReport{Branch: branch, Head: f.branches[branch].meta.Head, Checked: f.now()}
	for _, i := range f.selectHosts(req.Branch, req.Hosts) {
		h := &f.hosts[i]
		hd := engine.HostDrift{HostID: h.ID, Name: h.Name, Position: h.Position, Checked: 9, Paths: slices.Clone(f.drifted[h.ID])}
		sum := &store.DriftSummary{Checked: rep.Checked, Position: h.Position}
		if h.Liveness == "lost" {
			hd.Checked, hd.Paths, hd.Err = 0, nil, "unreachable: dial tcp ["+h.Addr+"]:22: connect: no route to host"
			sum.Err = hd.Err
		}
		for _, d := range hd.Paths {
			sum.Paths = append(sum.Paths, d.Path)
		}
		h.Drift = sum
		rep.Hosts = append(rep.Hosts, hd)
		f.emitLocked(&engine.HostEvent{Header: engine.Header{Message: h.Name + " checked"}, Change: engine.HostUpdated, Host: *h})
	}
	return rep, nil
}

// Repair implements verbs.DriftBackend: a plan putting the journal's
// version back on the drifted paths of the selected hosts; without
// drift, a plan as Plan makes one.
func (f *Fake) Repair(ctx context.Context, req engine.FixRequest) (*engine.Plan, error) {
	f.mu.Lock()
	err := f.record("Repair", "%s, %v, %v", req.Branch, req.Hosts, req.Paths)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	branch := req.Branch
	if branch == "" {
		branch = "main"
	}
	if f.drifted == nil {
		f.mu.Unlock()
		return f.Plan(ctx, engine.PlanRequest{Branch: branch, Hosts: req.Hosts, NoStaged: true})
	}
	defer f.mu.Unlock()
	b := f.branches[branch]
	f.planSeq++
	p := &engine.Plan{ID: fmt.Sprintf("p%08x", 0x1a2b3c00+f.planSeq), Branch: branch, Created: f.now(), Author: f.opts.Operator, Head: b.meta.Head, HeadHash: b.meta.HeadHash}
	for _, i := range f.selectHosts(req.Branch, req.Hosts) {
		h := f.hosts[i]
		hp := engine.HostPlan{HostID: h.ID, Name: h.Name, Addr: h.Addr, Position: h.Position, Fingerprint: engine.Fingerprint{Branch: branch, Position: h.Position}}
		for _, d := range f.drifted[h.ID] {
			if len(req.Paths) > 0 && !contains(req.Paths, d.Path) {
				continue
			}
			c := engine.Change{Seq: d.Seq, Kind: d.Kind, Path: d.Path, Repair: true, Effect: engine.EffectModify,
				OldHash: d.HostHash, OldMode: d.HostMode, OldOwner: d.HostOwner, NewHash: d.WantHash, NewMode: d.WantMode, NewOwner: d.WantOwner}
			if d.Diff != "" {
				c.Diff = "--- a" + d.Path + "\n+++ b" + d.Path + "\n@@ -1,2 +1,2 @@\n-Welcome to " + h.Name + " — DO NOT EDIT (bob was here)\n+Welcome to the fleet — spring release\n Report problems to ops@example.org\n"
			}
			hp.Changes = append(hp.Changes, c)
		}
		if len(hp.Changes) > 0 {
			p.Hosts = append(p.Hosts, hp)
		}
	}
	if len(p.Hosts) == 0 {
		return nil, fmt.Errorf("%w: no drift to repair on %s", engine.ErrUsage, branch)
	}
	f.plans[p.ID] = p
	return clonePlan(p), nil
}

// repaired drops from a host's drift what a pushed repair put back.
func (f *Fake) repaired(hostID string, c engine.Change) {
	f.drifted[hostID] = slices.DeleteFunc(f.drifted[hostID], func(d engine.PathDrift) bool { return d.Path == c.Path })
	for i := range f.hosts {
		if h := &f.hosts[i]; h.ID == hostID && h.Drift != nil {
			h.Drift.Paths = slices.DeleteFunc(slices.Clone(h.Drift.Paths), func(p string) bool { return p == c.Path })
		}
	}
}

// Adopt implements verbs.DriftBackend: the host's drifted paths staged as
// file entries under the operator's lock; a host without drift stages
// nothing.
func (f *Fake) Adopt(ctx context.Context, host string, req engine.FixRequest) (string, []journal.Entry, error) {
	f.mu.Lock()
	branch := req.Branch
	if branch == "" {
		branch = "main"
	}
	if err := f.record("Adopt", "%s, %v", host, req.Paths); err != nil {
		f.mu.Unlock()
		return branch, nil, err
	}
	var picked []engine.PathDrift
	for _, i := range f.selectHosts("", []string{host}) {
		for _, d := range f.drifted[f.hosts[i].ID] {
			if len(req.Paths) == 0 || contains(req.Paths, d.Path) {
				picked = append(picked, d)
			}
		}
	}
	f.mu.Unlock()
	var staged []journal.Entry
	for _, d := range picked {
		en, err := f.Stage(branch, engine.StageRequest{Kind: journal.KindFile, Path: d.Path, Content: []byte("adopted from " + host + "\n"), Mode: 0o644, Owner: "root", Group: "root", Source: host + ":" + d.Path})
		if err != nil {
			return branch, staged, err
		}
		staged = append(staged, en)
	}
	return branch, staged, nil
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

package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/discoterm/discoterm/engine/diff"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/store"
)

// What an operator does about drift, per path: repair (the host gets the
// journal's version back) or adopt (the host's version becomes the
// journal's, for every host of the branch, as a new entry).

// FixRequest selects drift to repair or adopt: the hosts (every host of
// the branch when empty) and the paths (every drifted one when empty).
type FixRequest struct {
	Branch string
	Hosts  []string
	Paths  []string
}

func (r FixRequest) wants(path string) bool {
	return len(r.Paths) == 0 || slices.Contains(r.Paths, path)
}

// Repair checks drift afresh and makes a plan that installs the
// journal's version of each drifted path again, on the hosts that
// drifted: the owning entries re-applied, with the host's position
// unchanged. Review, approve and push it like any plan; a host whose
// paths changed again since is refused as stale.
func (e *Engine) Repair(ctx context.Context, req FixRequest) (*Plan, error) {
	rep, err := e.Drift(ctx, DriftRequest{Branch: req.Branch, Hosts: req.Hosts})
	if err != nil {
		return nil, err
	}
	p := &Plan{ID: newPlanID(), Branch: rep.Branch, Created: e.now(), Author: e.opts.Operator}
	blobs := map[string][]byte{}
	for _, hd := range rep.Hosts {
		if hd.Err != "" && len(hd.Paths) == 0 {
			continue
		}
		hp := HostPlan{HostID: hd.HostID, Name: hd.Name, Position: hd.Position, Fingerprint: hd.fp, Rendered: map[uint64]string{}}
		for _, d := range hd.Paths {
			if !req.wants(d.Path) || d.Kind == "" {
				continue
			}
			c := Change{Seq: d.Seq, Kind: d.Kind, Path: d.Path, Repair: true, Effect: EffectModify,
				OldHash: d.HostHash, OldMode: d.HostMode, OldOwner: d.HostOwner, NewHash: d.WantHash, NewMode: d.WantMode, NewOwner: d.WantOwner}
			switch {
			case d.Kind == journal.KindRemove:
				c.Effect, c.NewHash, c.NewMode, c.NewOwner = EffectDelete, "", "", ""
			case slices.Contains(d.What, DriftType):
				c.Effect, c.Err = EffectError, d.Path+" is no longer a regular file on this host; look at it there"
			case slices.Contains(d.What, DriftMissing):
				c.Effect = EffectCreate
				c.Diff = diffOrBinary(&c, "/dev/null", "", d.want, true)
			case slices.Contains(d.What, DriftContent):
				c.Diff = diffOrBinary(&c, "a"+d.Path, string(d.hostBytes), d.want, d.hostKnown)
			}
			if d.Secret {
				kinds.MaskSecret(&c)
			}
			if d.Kind == journal.KindTemplate {
				hp.Rendered[d.Seq] = d.WantHash
				if d.Secret {
					hp.Facts = hd.facts // rendered again at push, not stored
				} else {
					blobs[d.WantHash] = d.want
				}
			}
			hp.Changes = append(hp.Changes, c)
			hp.Fingerprint.Paths = append(hp.Fingerprint.Paths, d.ps)
		}
		if len(hp.Changes) > 0 {
			p.Hosts = append(p.Hosts, hp)
		}
	}
	if len(p.Hosts) == 0 {
		return nil, fmt.Errorf("%w: no drift to repair on %s%s", ErrUsage, rep.Branch, pathsNote(req.Paths))
	}
	if err := e.opts.Store.View(func(tx store.Tx) error {
		b, err := tx.Branch(p.Branch)
		p.Head, p.HeadHash = b.Head, b.HeadHash
		return err
	}); err != nil {
		return nil, err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	err = e.opts.Store.Update(func(tx store.Tx) error {
		for _, c := range blobs {
			if _, err := tx.PutBlob(c); err != nil {
				return err
			}
		}
		return tx.PutPlan(store.PlanRecord{ID: p.ID, Branch: p.Branch, Created: p.Created, Author: p.Author, Data: data})
	})
	if err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("repair plan %s: %s, %s back to the journal's version", p.ID, Plural(len(p.Hosts), "host"), Plural(countChanges(p), "path"))
	e.emit(&PlanDoneEvent{Header: Header{Message: msg}, PlanID: p.ID, Branch: p.Branch, Hosts: len(p.Hosts), Entries: p.Entries()})
	return p, nil
}

// diffOrBinary is the repair's diff host → journal, or marks the change
// binary when either side is not text (or the host's was not fetched).
func diffOrBinary(c *Change, labelA, host string, want []byte, known bool) string {
	if !known || diff.IsBinary(want) || diff.IsBinary([]byte(host)) {
		c.Binary = true
		return ""
	}
	return diff.Unified(labelA, "b"+c.Path, host, string(want))
}

func countChanges(p *Plan) int {
	n := 0
	for _, h := range p.Hosts {
		n += len(h.Changes)
	}
	return n
}

func pathsNote(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	return " at " + strings.Join(paths, ", ")
}

// clearRepaired drops from a host's drift summary the paths a pushed
// repair put back.
func clearRepaired(h *store.Host, p *Plan, hostID string) {
	if h.Drift == nil {
		return
	}
	var hp HostPlan
	for _, x := range p.Hosts {
		if x.HostID == hostID {
			hp = x
		}
	}
	var keep []string
	for _, path := range h.Drift.Paths {
		repaired := false
		for _, c := range hp.Changes {
			if c.Repair && c.Path == path {
				repaired = true
			}
		}
		if !repaired {
			keep = append(keep, path)
		}
	}
	h.Drift.Paths = keep
}

// Adopt checks one host's drift afresh and stages, under the operator's
// lock, the host's current version of each drifted path as a new entry:
// a file entry with its content, mode and owner, or a remove entry for a
// path it deleted. Approved and pushed, it becomes every host's version.
func (e *Engine) Adopt(ctx context.Context, host string, req FixRequest) (branch string, staged []journal.Entry, err error) {
	branch = req.Branch
	staged, err = e.adopt(ctx, host, &branch, req)
	return branch, staged, err
}

func (e *Engine) adopt(ctx context.Context, host string, branch *string, req FixRequest) ([]journal.Entry, error) {
	req.Hosts = []string{host}
	rep, err := e.Drift(ctx, DriftRequest{Branch: req.Branch, Hosts: req.Hosts})
	if err != nil {
		return nil, err
	}
	if len(rep.Hosts) != 1 {
		return nil, fmt.Errorf("%w: adopt takes the drift of one host", ErrUsage)
	}
	hd := rep.Hosts[0]
	*branch = rep.Branch
	if hd.Err != "" && len(hd.Paths) == 0 {
		return nil, fmt.Errorf("%s: %s", hd.Name, hd.Err)
	}
	var picked []PathDrift
	for _, d := range hd.Paths {
		if req.wants(d.Path) {
			picked = append(picked, d)
		}
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("%w: %s has no drift to adopt%s", ErrUsage, hd.Name, pathsNote(req.Paths))
	}
	// Check the lock before reading anything big from the host.
	if err := e.opts.Store.Update(func(tx store.Tx) error { _, err := e.requireLock(tx, rep.Branch); return err }); err != nil {
		return nil, err
	}
	var fetch []string
	for _, d := range picked {
		if slices.Contains(d.What, DriftType) {
			return nil, fmt.Errorf("%w: %s on %s is no longer a regular file; adopt takes files only (stage what you want by hand)", ErrUsage, d.Path, hd.Name)
		}
		if d.host.Exists && !d.hostKnown {
			fetch = append(fetch, d.Path)
		}
	}
	got := map[string][]byte{}
	if len(fetch) > 0 {
		var h store.Host
		if err := e.opts.Store.View(func(tx store.Tx) error { h, err = tx.Host(hd.HostID); return err }); err != nil {
			return nil, err
		}
		hctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout)
		defer cancel()
		if got, err = e.opts.Remote.Fetch(hctx, target(h), fetch); err != nil {
			return nil, fmt.Errorf("fetching what %s has: %s", hd.Name, hostErr(err))
		}
	}
	var staged []journal.Entry
	for _, d := range picked {
		req := StageRequest{Kind: journal.KindRemove, Path: d.Path, Source: hd.Name}
		if d.host.Exists {
			content, ok := d.hostBytes, d.hostKnown
			if !ok {
				content, ok = got[d.Path]
			}
			if !ok {
				return staged, fmt.Errorf("%s on %s could not be read (larger than the fetch limit, or it changed); stage it by hand with snap", d.Path, hd.Name)
			}
			if sha(content) != d.HostHash {
				return staged, fmt.Errorf("%s on %s changed while adopting it; run adopt again", d.Path, hd.Name)
			}
			req = StageRequest{Kind: journal.KindFile, Path: d.Path, Content: content, Mode: d.host.Mode, Owner: d.host.Owner, Group: d.host.Group,
				Source: hd.Name + ":" + d.Path, Secret: d.Secret, AllowUserDir: d.AllowUserDir}
		}
		en, err := e.Stage(rep.Branch, req)
		if err != nil {
			return staged, err
		}
		staged = append(staged, en)
	}
	return staged, nil
}

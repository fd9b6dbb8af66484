package engine

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// Undo, ISconf style: the journal stays append-only. revert HOST… --to
// SEQ stages, under the operator's lock, new entries that put back what
// each path touched after SEQ held at SEQ — the journal's own entry for
// it where there is one at or before SEQ, else what the host had before
// the journal first touched it (the copy a push that must come back kept
// on the host, STATEDIR/saved/SEQ). They are reviewed in a plan and
// pushed like any other entries: the hosts' positions only move forward.

// RevertRequest selects the hosts to revert and the position to go back to.
type RevertRequest struct {
	Branch string   // "": the hosts' branch
	Hosts  []string // at least one
	To     uint64
}

// RevertResult is what revert staged, the plan that shows it, and what it
// could not undo.
type RevertResult struct {
	Branch string          `json:"branch"`
	To     uint64          `json:"to"`
	Staged []journal.Entry `json:"staged"`
	Plan   *Plan           `json:"plan,omitempty"`
	// Notes: entries whose effects a revert cannot undo (exec), and that
	// the staged entries reach every host of the branch.
	Notes []string `json:"notes,omitempty"`
}

// revertTarget is what one path should hold again.
type revertTarget struct {
	path   string
	req    StageRequest
	source string // for messages: "seq 3", "node1's copy from before seq 5"
}

// Revert stages what restores each path that entries after req.To touched,
// then plans the hosts with it.
func (e *Engine) Revert(ctx context.Context, req RevertRequest) (*RevertResult, error) {
	if len(req.Hosts) == 0 {
		return nil, fmt.Errorf("%w: revert needs the hosts to revert: revert HOST… --to SEQ", ErrUsage)
	}
	hosts, branch, err := e.revertHosts(req)
	if err != nil {
		return nil, err
	}
	var entries []journal.Entry
	blobs := map[string][]byte{}
	err = e.opts.Store.Update(func(tx store.Tx) error {
		if _, err := e.requireLock(tx, branch); err != nil {
			return err
		}
		staged, err := tx.Staged(branch)
		if err != nil {
			return err
		}
		if len(staged) > 0 {
			return fmt.Errorf("%w: %s staged on %s already; approve or drop them first, so the revert's plan shows only the revert", ErrUsage, Plural(len(staged), "entry"), branch)
		}
		if _, entries, err = e.loadJournal(tx, branch); err != nil {
			return err
		}
		for _, en := range entries {
			if owns(en) && en.Blob != "" && blobs[en.Blob] == nil {
				if blobs[en.Blob], err = tx.Blob(en.Blob); err != nil {
					return fmt.Errorf("content of seq %d: %w", en.Seq, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	head := uint64(len(entries))
	if req.To >= head {
		return nil, fmt.Errorf("%w: --to %d: %s has %s; give a SEQ below %d (see: log %s)", ErrUsage, req.To, branch, Plural(int(head), "entry"), head, branch)
	}
	res := &RevertResult{Branch: branch, To: req.To}
	// Every path an entry after SEQ touched, in the order first touched.
	var paths []string
	first := map[string]journal.Entry{} // the first entry after SEQ touching it
	for _, en := range entries[req.To:] {
		switch {
		case owns(en):
			if _, ok := first[en.Path]; !ok {
				first[en.Path] = en
				paths = append(paths, en.Path)
			}
		case en.Kind == journal.KindExec:
			res.Notes = append(res.Notes, fmt.Sprintf("seq %d (exec %s) is not undone: what it did stays", en.Seq, trimErr(en.Command, 60)))
		}
	}
	var targets []revertTarget
	var fromHosts []string // paths only the hosts' saved copies can tell
	for _, p := range paths {
		if at := stateAt(entries[:req.To], p); at != nil {
			if same := stateAt(entries, p); same != nil && sameEffect(*same, *at) {
				continue // put back by a later entry already
			}
			targets = append(targets, revertTarget{path: p, req: requestOf(*at, blobs[at.Blob]), source: fmt.Sprintf("seq %d", at.Seq)})
			continue
		}
		fromHosts = append(fromHosts, p)
	}
	// Every host is read, for its position (SEQ must be applied there)
	// and what it holds at the paths only it can tell.
	got, err := e.savedCopies(ctx, hosts, req.To, fromHosts, first)
	if err != nil {
		return nil, err
	}
	targets = append(targets, got...)
	// Stage in the order the paths were first touched.
	order := map[string]int{}
	for i, p := range paths {
		order[p] = i
	}
	sort.SliceStable(targets, func(i, j int) bool { return order[targets[i].path] < order[targets[j].path] })
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: nothing to revert: every path touched after seq %d holds what it held at %d already (in the journal)", ErrUsage, req.To, req.To)
	}
	for _, t := range targets {
		t.req.Source = fmt.Sprintf("revert to %d (%s)", req.To, t.source)
		en, err := e.Stage(branch, t.req)
		if err != nil {
			return res, fmt.Errorf("staging %s: %w", t.path, err)
		}
		res.Staged = append(res.Staged, en)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("the staged entries reach every host of %s once pushed, not only %s", branch, strings.Join(req.Hosts, ", ")))
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.ID
	}
	if res.Plan, err = e.Plan(ctx, PlanRequest{Branch: branch, Hosts: names}); err != nil {
		return res, err
	}
	e.logf(LevelInfo, "revert of %s to seq %d on %s: staged %s; review plan %s, then approve and push it", strings.Join(req.Hosts, ", "), req.To, branch, Plural(len(res.Staged), "entry"), res.Plan.ID)
	return res, nil
}

// revertHosts finds the hosts, all on one branch.
func (e *Engine) revertHosts(req RevertRequest) ([]store.Host, string, error) {
	cls, err := e.classification()
	if err != nil {
		return nil, "", err
	}
	var hosts []store.Host
	branches := map[string][]string{}
	err = e.opts.Store.View(func(tx store.Tx) error {
		for _, ref := range req.Hosts {
			h, err := findHost(tx, ref)
			if err != nil {
				return err
			}
			hosts = append(hosts, h)
			b := e.view(h, cls, nil).Branch
			branches[b] = append(branches[b], displayName(h))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if len(branches) > 1 {
		var parts []string
		for b, hs := range branches {
			if b == "" {
				b = "(none)"
			}
			parts = append(parts, b+": "+strings.Join(hs, ", "))
		}
		sort.Strings(parts)
		return nil, "", fmt.Errorf("%w: the hosts are on different branches (%s); revert the hosts of one branch at a time", ErrUsage, strings.Join(parts, "; "))
	}
	var branch string
	for b := range branches {
		branch = b
	}
	if req.Branch != "" && req.Branch != branch {
		return nil, "", fmt.Errorf("%w: %s follow branch %q, not %s", ErrUsage, strings.Join(req.Hosts, ", "), branch, req.Branch)
	}
	if branch == "" {
		return nil, "", fmt.Errorf("%w: %s follow no branch; assign them first", ErrUsage, strings.Join(req.Hosts, ", "))
	}
	return hosts, branch, nil
}

// stateAt is the last entry of entries that decides what p holds, or nil.
func stateAt(entries []journal.Entry, p string) *journal.Entry {
	for i := len(entries) - 1; i >= 0; i-- {
		if owns(entries[i]) && entries[i].Path == p {
			return &entries[i]
		}
	}
	return nil
}

// sameEffect reports whether two entries leave their path the same.
func sameEffect(a, b journal.Entry) bool {
	return a.Kind == b.Kind && a.Blob == b.Blob && a.Mode == b.Mode && a.Owner == b.Owner && a.Group == b.Group && a.Secret == b.Secret
}

// requestOf stages again what entry en did.
func requestOf(en journal.Entry, content []byte) StageRequest {
	return StageRequest{Kind: en.Kind, Path: en.Path, Content: content, Mode: en.Mode, Owner: en.Owner, Group: en.Group, Secret: en.Secret}
}

// savedCopies reads, from each host, what the first entry after SEQ
// overwrote at each path — the copy a push that must come back kept, or,
// on a host that has not applied that entry yet, what is there now — and
// requires the hosts to agree.
func (e *Engine) savedCopies(ctx context.Context, hosts []store.Host, to uint64, paths []string, first map[string]journal.Entry) ([]revertTarget, error) {
	sd := strings.TrimRight(e.opts.StateDir, "/")
	var out []revertTarget
	agreed := map[string]revertTarget{}
	for _, h := range hosts {
		t := target(h)
		hctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout)
		pr, err := e.opts.Remote.Probe(hctx, t, remote.ProbeRequest{StateDir: e.opts.StateDir, Paths: paths})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %s", displayName(h), hostErr(err))
		}
		pos := pr.State.Position
		if pos < to {
			return nil, fmt.Errorf("%w: %s is at position %d: seq %d was never applied there; push it up to %d first, or revert to a SEQ ≤ %d", ErrUsage, displayName(h), pos, to, to, pos)
		}
		if len(paths) == 0 {
			continue
		}
		var want []string
		for _, p := range paths {
			q := strconv.FormatUint(first[p].Seq, 10)
			if first[p].Seq <= pos {
				want = append(want, path.Join(sd, "saved", q, "0.path"), path.Join(sd, "saved", q, "0.meta"), path.Join(sd, "saved", q, "0.data"))
			} else if pr.Paths[p].Exists {
				want = append(want, p)
			}
		}
		hctx, cancel = context.WithTimeout(ctx, e.opts.HostTimeout)
		got, err := e.opts.Remote.Fetch(hctx, t, want)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("reading saved copies on %s: %s", displayName(h), hostErr(err))
		}
		for _, p := range paths {
			f := first[p]
			var rt revertTarget
			if f.Seq <= pos {
				rt, err = fromSaved(h, p, f, got, path.Join(sd, "saved", strconv.FormatUint(f.Seq, 10)))
			} else {
				rt, err = fromLive(h, p, f, pr.Paths[p], got)
			}
			if err != nil {
				return nil, err
			}
			if prev, ok := agreed[p]; ok {
				if !sameRequest(prev.req, rt.req) {
					return nil, fmt.Errorf("%w: the hosts had different %s before seq %d (%s and %s); revert them one at a time, or stage what %s should be with snap", ErrUsage, p, f.Seq, prev.source, rt.source, p)
				}
				continue
			}
			agreed[p] = rt
			out = append(out, rt)
		}
	}
	return out, nil
}

// fromSaved is what a host's saved copy says p held before entry f.
func fromSaved(h store.Host, p string, f journal.Entry, got map[string][]byte, dir string) (revertTarget, error) {
	rt := revertTarget{path: p, source: fmt.Sprintf("%s's copy from before seq %d", displayName(h), f.Seq)}
	name, okp := got[dir+"/0.path"]
	meta, okm := got[dir+"/0.meta"]
	if !okp || !okm {
		return rt, fmt.Errorf("%w: %s has no saved copy of what seq %d overwrote at %s (it was pushed without --must-come-back, which keeps them): stage what %s should hold with snap (or remove), or revert to a SEQ at or after one that set it", ErrUsage, displayName(h), f.Seq, p, p)
	}
	if string(name) != p {
		return rt, fmt.Errorf("the saved copy of seq %d on %s is of another path (%q, not %s); stage %s by hand with snap", f.Seq, displayName(h), trimErr(string(name), 80), p, p)
	}
	fields := strings.Fields(string(meta))
	switch {
	case len(fields) == 1 && fields[0] == "absent":
		rt.req = StageRequest{Kind: journal.KindRemove, Path: p}
	case len(fields) == 6 && fields[0] == "file":
		mode, err := strconv.ParseUint(fields[1], 8, 32)
		data, ok := got[dir+"/0.data"]
		if err != nil || !ok {
			return rt, fmt.Errorf("the saved copy of %s on %s (before seq %d) is unreadable or larger than the fetch limit; stage %s by hand with snap", p, displayName(h), f.Seq, p)
		}
		rt.req = StageRequest{Kind: journal.KindFile, Path: p, Content: data, Mode: uint32(mode), Owner: fields[4], Group: fields[5], Secret: f.Secret}
	default:
		return rt, fmt.Errorf("%w: %s held %s on %s before seq %d, not a file; revert stages files and removals only: put it back by hand", ErrUsage, p, fields[0], displayName(h), f.Seq)
	}
	return rt, nil
}

// fromLive is what p holds on a host that has not applied f yet (nothing
// after SEQ touched it there): what f will overwrite.
func fromLive(h store.Host, p string, f journal.Entry, pi remote.PathInfo, got map[string][]byte) (revertTarget, error) {
	rt := revertTarget{path: p, source: fmt.Sprintf("%s's %s, which seq %d has not reached", displayName(h), p, f.Seq)}
	switch {
	case !pi.Exists:
		rt.req = StageRequest{Kind: journal.KindRemove, Path: p}
	case pi.Type == "file":
		data, ok := got[p]
		if !ok {
			return rt, fmt.Errorf("%s on %s could not be read (larger than the fetch limit, or it changed); stage it by hand with snap", p, displayName(h))
		}
		rt.req = StageRequest{Kind: journal.KindFile, Path: p, Content: data, Mode: pi.Mode, Owner: pi.Owner, Group: pi.Group, Secret: f.Secret}
	default:
		return rt, fmt.Errorf("%w: %s is a %s on %s, not a file; revert stages files and removals only", ErrUsage, p, pi.Type, displayName(h))
	}
	return rt, nil
}

func sameRequest(a, b StageRequest) bool {
	return a.Kind == b.Kind && a.Path == b.Path && string(a.Content) == string(b.Content) && a.Mode == b.Mode && a.Owner == b.Owner && a.Group == b.Group
}

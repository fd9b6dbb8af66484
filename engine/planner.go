package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/discoterm/discoterm/engine/classify"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// MaxDiff is the largest file whose old content is fetched to show a diff;
// larger files are shown as a hash change.
const MaxDiff = kinds.MaxDiff

// planInput is everything planning needs from the store, read in one
// transaction so every host is planned against the same journal.
type planInput struct {
	branch  store.Branch
	entries []journal.Entry // committed, verified
	staged  []journal.Entry // the operator's staged entries, with provisional seqs
	hosts   []store.Host
	skipped []SkippedHost                // lost hosts of the branch left out
	vars    map[string]map[string]string // host ID → classification variables (secret values too)
	secrets map[string]hostSecrets       // host ID → its secret variables
	blobs   map[string][]byte
	refs    map[string]templateRefs // template blob → the variables it names
}

func (e *Engine) loadPlanInput(req PlanRequest) (*planInput, error) {
	cls, err := e.classification()
	if err != nil {
		return nil, err
	}
	in := &planInput{vars: map[string]map[string]string{}, secrets: map[string]hostSecrets{}, blobs: map[string][]byte{}, refs: map[string]templateRefs{}}
	err = e.opts.Store.View(func(tx store.Tx) error {
		all, err := tx.Hosts()
		if err != nil {
			return err
		}
		branch := req.Branch
		var picked []store.Host
		if len(req.Hosts) > 0 {
			for _, ref := range req.Hosts {
				h, err := findHost(tx, ref)
				if err != nil {
					return err
				}
				picked = append(picked, h)
			}
		}
		if branch == "" {
			if branch, err = e.guessBranch(tx, picked, cls); err != nil {
				return err
			}
		}
		if in.branch, in.entries, err = e.loadJournal(tx, branch); err != nil {
			return err
		}
		heads := map[string]uint64{branch: in.branch.Head}
		if len(picked) == 0 {
			for _, h := range all {
				if e.view(h, cls, heads).Branch != branch {
					continue
				}
				// A host the scanner lost would only make everyone wait for
				// its connect timeout; named hosts are always planned.
				if h.Liveness == "lost" || h.Liveness == "gone" {
					in.skipped = append(in.skipped, SkippedHost{HostID: h.ID, Name: displayName(h), Liveness: h.Liveness, LastSeen: h.LastSeen})
					continue
				}
				picked = append(picked, h)
			}
		}
		for _, h := range picked {
			v := e.view(h, cls, heads)
			if v.Branch != branch {
				return fmt.Errorf("%w: %s follows branch %q, not %s; assign it first", ErrUsage, displayName(h), v.Branch, branch)
			}
			in.vars[h.ID], in.secrets[h.ID] = e.hostVars(h, cls)
		}
		in.hosts = dedupeHosts(picked)
		// Staged entries belong in a plan only for the lock holder: they
		// are that operator's work in progress, not yet anyone else's.
		if l, err := tx.Lock(branch); err == nil && l.Holder == e.opts.Operator && !req.NoStaged {
			staged, err := tx.Staged(branch)
			if err != nil {
				return err
			}
			prev := in.head()
			for _, s := range staged {
				sealed := journal.Seal(prev, s) // provisional: approve seals again with its own time
				in.staged = append(in.staged, sealed)
				prev = &in.staged[len(in.staged)-1]
			}
		}
		for _, en := range append(append([]journal.Entry{}, in.entries...), in.staged...) {
			if en.Blob == "" || in.blobs[en.Blob] != nil {
				continue
			}
			b, err := tx.Blob(en.Blob)
			if err != nil {
				return fmt.Errorf("content of seq %d (%s): %w", en.Seq, en.Summary(), err)
			}
			in.blobs[en.Blob] = b
			if k, ok := kinds.Lookup(en.Kind); ok && k.Content() == kinds.ContentPerHost {
				in.refs[en.Blob] = refsOf(en, b)
			}
		}
		return nil
	})
	return in, err
}

func (in *planInput) head() *journal.Entry {
	if len(in.entries) == 0 {
		return nil
	}
	return &in.entries[len(in.entries)-1]
}

func dedupeHosts(hs []store.Host) []store.Host {
	seen := map[string]bool{}
	var out []store.Host
	for _, h := range hs {
		if !seen[h.ID] {
			seen[h.ID] = true
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b store.Host) int { return NaturalCompare(displayName(a), displayName(b)) })
	return out
}

// guessBranch picks the branch when none was named: the one the given hosts
// share, else the only branch there is.
func (e *Engine) guessBranch(tx store.Tx, picked []store.Host, cls *classify.Config) (string, error) {
	if len(picked) > 0 {
		b := e.view(picked[0], cls, nil).Branch
		for _, h := range picked[1:] {
			if e.view(h, cls, nil).Branch != b {
				return "", fmt.Errorf("%w: the hosts follow different branches; plan one branch at a time with --branch", ErrUsage)
			}
		}
		if b == "" {
			return "", fmt.Errorf("%w: %s is not assigned to a branch; assign it or set BRANCH in the classification file", ErrUsage, displayName(picked[0]))
		}
		return b, nil
	}
	bs, err := tx.Branches()
	if err != nil {
		return "", err
	}
	switch len(bs) {
	case 0:
		return "", fmt.Errorf("%w: there are no branches yet; start one with: lock main MESSAGE", ErrUsage)
	case 1:
		return bs[0].Name, nil
	}
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.Name
	}
	return "", fmt.Errorf("%w: which branch? there are %s; use --branch", ErrUsage, strings.Join(names, ", "))
}

func newPlanID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "p" + hex.EncodeToString(b[:])
}

// Plan dry-runs every pending entry (committed and not yet applied on a
// host, then the operator's staged entries) on the selected hosts of a
// branch, and saves the result for review, approval and push.
func (e *Engine) Plan(ctx context.Context, req PlanRequest) (*Plan, error) {
	start := time.Now()
	in, err := e.loadPlanInput(req)
	if err != nil {
		return nil, err
	}
	p := &Plan{ID: newPlanID(), Branch: in.branch.Name, Created: e.now(), Author: e.opts.Operator,
		Head: in.branch.Head, HeadHash: in.branch.HeadHash, Staged: in.staged, Hosts: make([]HostPlan, len(in.hosts)), Skipped: in.skipped}
	job := e.startJob("plan "+p.ID, fmt.Sprintf("planning %s of %s", Plural(len(in.hosts), "host"), p.Branch))
	for _, s := range in.skipped {
		ev := &LogEvent{PlanID: p.ID, Branch: p.Branch, HostID: s.HostID, Host: s.Name}
		ev.Level, ev.Message = LevelWarn, fmt.Sprintf("%s skipped: the scanner marked it %s; plan it by name to include it", s.Name, s.Liveness)
		e.emit(ev)
	}
	rendered := map[string][]byte{} // blob sum → rendered template content to store
	var mu sync.Mutex
	e.forEachHost(ctx, len(in.hosts), e.opts.Parallel, func(i int) {
		h := in.hosts[i]
		hp, blobs := e.planHost(ctx, in, h)
		p.Hosts[i] = hp
		mu.Lock()
		for k, v := range blobs {
			rendered[k] = v
		}
		mu.Unlock()
		ev := &PlanHostEvent{Header: Header{Message: fmt.Sprintf("%s: %s pending", hp.Name, plural(hp.Pending(), "entry", "entries"))},
			PlanID: p.ID, Branch: p.Branch, Host: hp}
		if hp.Err != "" {
			ev.Level, ev.Message = LevelError, hp.Name+": "+hp.Err
		}
		e.emit(ev)
	})
	if err := ctx.Err(); err != nil {
		e.finishJob(job, "plan cancelled")
		return nil, fmt.Errorf("%w: plan: %v", ErrCancelled, err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	err = e.opts.Store.Update(func(tx store.Tx) error {
		for _, c := range rendered {
			if _, err := tx.PutBlob(c); err != nil {
				return err
			}
		}
		for _, hp := range p.Hosts {
			h, err := tx.Host(hp.HostID)
			if err != nil {
				continue
			}
			// Mirror what this plan saw, unless the host could not be
			// planned (its fingerprint is empty) or the mirror was
			// refreshed after this plan started.
			if hp.Err == "" && !h.StateSeen.After(p.Created) {
				h.StateBranch, h.Position, h.PositionHash, h.StateSeen = hp.Fingerprint.Branch, hp.Position, hp.Fingerprint.Hash, p.Created
				if err := tx.PutHost(h); err != nil {
					return err
				}
			}
		}
		return tx.PutPlan(store.PlanRecord{ID: p.ID, Branch: p.Branch, Created: p.Created, Author: p.Author, Data: data})
	})
	if err != nil {
		return nil, err
	}
	failed := 0
	for _, hp := range p.Hosts {
		if hp.Err != "" {
			failed++
		}
	}
	msg := fmt.Sprintf("plan %s: %s, %s", p.ID, Plural(len(p.Hosts), "host"), Plural(p.Entries(), "entry"))
	if failed > 0 {
		msg += fmt.Sprintf(", %s could not be planned", Plural(failed, "host"))
	}
	e.emit(&PlanDoneEvent{Header: Header{Message: msg}, PlanID: p.ID, Branch: p.Branch, Hosts: len(p.Hosts), Entries: p.Entries(), Failed: failed, Duration: time.Since(start)})
	e.finishJob(job, msg)
	return p, nil
}

// forEachHost runs fn for 0..n-1 with at most parallel at once.
func (e *Engine) forEachHost(ctx context.Context, n, parallel int, fn func(i int)) {
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		if ctx.Err() != nil { // both were ready: do not start another host
			wg.Wait()
			return
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}(i)
	}
	wg.Wait()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// planHost is one connection and at most two round trips: probe (state,
// stat and hash of every path, guards), then fetch of the contents that
// differ, for diffs.
func (e *Engine) planHost(ctx context.Context, in *planInput, h store.Host) (HostPlan, map[string][]byte) {
	start := time.Now()
	hp := HostPlan{HostID: h.ID, Name: displayName(h), Addr: h.Addr, Rendered: map[uint64]string{}}
	defer func() { hp.Duration = time.Since(start) }()
	all := append(append([]journal.Entry{}, in.entries...), in.staged...)
	// Every path and guard the pending entries might touch, from where the
	// store last saw the host; the probe tells the truth. A host found
	// behind that (rebuilt, restored from backup) is probed again from its
	// real position: the only case of a third round trip.
	env := hostEnv(in.vars[h.ID])
	request := func(from uint64) remote.ProbeRequest {
		req := remote.ProbeRequest{StateDir: e.opts.StateDir}
		seen := map[string]bool{}
		for _, en := range all[min(from, uint64(len(all))):] {
			k, ok := kinds.Lookup(en.Kind)
			if !ok {
				continue
			}
			n := k.Needs(en)
			for _, p := range n.Paths {
				if !seen[p] {
					seen[p] = true
					req.Paths = append(req.Paths, p)
				}
			}
		}
		return req
	}
	hctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout)
	defer cancel()
	// Results a prepared host recorded at its window are collected first
	// (prepare.go), so the plan starts from where the host really is.
	if e.collectAtContact(hctx, h, target(h), false) {
		if fresh, err := e.hostRecord(h.ID); err == nil {
			h = fresh
		}
	}
	from := h.Position
	if h.StateBranch != "" && h.StateBranch != in.branch.Name {
		from = 0
	}
	req := request(from)
	asked := time.Now()
	var res *remote.ProbeResult
	var err error
	var pre *prefetched
	if sreq := e.speculate(in, h, all, from, env); sreq != nil {
		// One round trip: the sandbox runs in the probe's session, for
		// the entries pending where the store last saw the host.
		pctx, pcancel := context.WithTimeout(ctx, e.sandboxBudget(execCount(sreq)))
		pre = &prefetched{req: sreq}
		res, pre.res, pre.err, err = e.opts.Remote.(probeSandboxer).ProbeSandbox(pctx, target(h), req, *sreq)
		pcancel()
	} else {
		res, err = e.opts.Remote.Probe(hctx, target(h), req)
	}
	answered := time.Now()
	if err == nil && !res.Answered.IsZero() {
		answered = res.Answered // the probe's part, not the sandbox after it
	}
	if err == nil && res.StateErr == "" && res.State.Position < from {
		req = request(res.State.Position)
		asked = time.Now()
		res, err = e.opts.Remote.Probe(hctx, target(h), req)
		answered = time.Now()
	}
	paths := req.Paths
	if err != nil {
		hp.Err = hostErr(err)
		return hp, nil
	}
	if res.StateErr != "" {
		hp.Err = fmt.Sprintf("state file %s/%s is corrupt: %s; inspect it on the host (remove it only if the host should replay the whole journal)", e.opts.StateDir, remote.StateFileName, res.StateErr)
		return hp, nil
	}
	if !res.Facts.Time.IsZero() {
		// The host's clock has whole seconds and answered at some moment
		// of the round trip: compare it with the middle, allow a second.
		mid := asked.Add(answered.Sub(asked) / 2)
		if skew := res.Facts.Time.Sub(mid); skew > MaxClockSkew+time.Second || skew < -MaxClockSkew-time.Second {
			hp.ClockSkew = skew.Round(time.Second)
		}
	}
	if res.Facts.RevertArmed {
		hp.Revert = "a push with --must-come-back is armed on this host: it reverts unless confirmed (an unconfirmed one is reverted by the next push, which is then stale); plan again once it has come back or rolled back"
	}
	st := res.State
	hp.Position = st.Position
	hp.Fingerprint = Fingerprint{Branch: st.Branch, Position: st.Position, Hash: st.Hash}
	branch := in.branch.Name
	switch {
	case st.Branch != "" && st.Branch != branch:
		hp.Err = fmt.Sprintf("host's state file says branch %s, but it is assigned to %s; move it with: migrate %s %s", st.Branch, branch, hp.Name, branch)
		return hp, nil
	case st.Position > uint64(len(all)):
		hp.Err = fmt.Sprintf("host is at position %d but branch %s has only %d entries: it followed another journal or store", st.Position, branch, len(all))
		return hp, nil
	case st.Position > 0 && all[st.Position-1].Hash != st.Hash:
		hp.Err = fmt.Sprintf("host's last applied entry (seq %d) has a different hash than the journal's: it followed another journal", st.Position)
		return hp, nil
	}
	pending := all[st.Position:]
	for _, p := range paths {
		info := res.Paths[p]
		ps := PathState{Path: p, Exists: info.Exists}
		if info.Exists {
			ps.Hash, ps.Mode, ps.Owner = info.Hash, fmt.Sprintf("%04o", info.Mode), info.Owner+":"+info.Group
		}
		hp.Fingerprint.Paths = append(hp.Fingerprint.Paths, ps)
	}
	// Content each entry installs (templates rendered for this host);
	// which old contents are worth fetching for diffs.
	facts := hostFacts(h, res, branch)
	vars := withFacts(in.vars[h.ID], facts)
	hs := in.secrets[h.ID]
	sec := secretSim{entry: map[uint64]bool{}, paths: hs.secretPaths(all[:st.Position], in.refs), host: hs}
	content := map[uint64][]byte{}
	renderErr := map[uint64]string{}
	newBlobs := map[string][]byte{}
	for _, en := range pending {
		k, ok := kinds.Lookup(en.Kind)
		if !ok || k.Content() == kinds.ContentNone {
			continue
		}
		secret := hs.contentSecret(en, in.refs)
		sec.entry[en.Seq] = secret
		src := in.blobs[en.Blob]
		if k.Content() == kinds.ContentStaged {
			content[en.Seq] = src
			continue
		}
		out, err := k.Render(en, src, vars)
		if err != nil {
			renderErr[en.Seq] = hs.redact(err.Error())
			continue
		}
		content[en.Seq] = out
		sum := sha(out)
		hp.Rendered[en.Seq] = sum
		if secret {
			hp.Facts = facts // rendered again at push; not stored
		} else {
			newBlobs[sum] = out
		}
	}
	var fetch []string
	firstTouch := map[string]bool{}
	for _, en := range pending {
		k, ok := kinds.Lookup(en.Kind)
		if !ok || en.Path == "" || firstTouch[en.Path] {
			continue
		}
		if _, bad := renderErr[en.Seq]; bad {
			continue
		}
		firstTouch[en.Path] = true
		if sec.entry[en.Seq] || sec.paths[en.Path] {
			continue // secret before or after: the diff shows hashes only
		}
		if k.Fetch(en, content[en.Seq], res.Paths[en.Path]) {
			fetch = append(fetch, en.Path)
		}
	}
	old := map[string][]byte{}
	if len(fetch) > 0 {
		if old, err = e.opts.Remote.Fetch(hctx, target(h), fetch); err != nil {
			hp.Err = hs.redact(hostErr(err))
			return hp, nil
		}
		// The host said these were small; it may send anything. Content
		// over MaxDiff is not diffed (shown by hash, as a large file).
		for p, c := range old {
			if len(c) > MaxDiff {
				delete(old, p)
			}
		}
	}
	sb := e.sandboxHost(ctx, h, pending, content, renderErr, env, pre)
	hp.Sandbox = hs.redact(sb.reason)
	hp.Changes = simulate(pending, res, content, renderErr, old, len(in.entries), sb, &hp.Fingerprint, sec)
	if len(env) > 0 {
		// What the push exports, as the guards saw it; secret values
		// are not kept (push reads them again).
		hp.Env, hp.SecretEnv, hp.SecretsSum = hs.splitEnv(env)
		if len(hp.Env) == 0 {
			hp.Env = nil
		}
	}
	return hp, newBlobs
}

// hostErr turns a transport error into one line for the plan.
func hostErr(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out: " + err.Error()
	}
	return err.Error()
}

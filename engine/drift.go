package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/discoterm/discoterm/engine/diff"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// Drift is a path that the branch's applied entries own whose content,
// mode or owner on the host no longer matches the journal: the "rogue
// sysadmin"'s hand edit. A path is owned by the last file, template or
// remove entry for it up to the host's position; exec entries own
// nothing (what they change is theirs to change).

// DriftRequest selects the hosts to check: one branch, every host of it
// (the scanner's lost ones left out, as a plan does) or those named.
type DriftRequest struct {
	Branch string
	Hosts  []string
}

// What drifted at a path.
const (
	DriftContent = "content" // the file's bytes differ
	DriftMode    = "mode"
	DriftOwner   = "owner"   // owner or group
	DriftMissing = "missing" // the journal installed it; it is gone
	DriftType    = "type"    // not a regular file any more (a directory, a symlink…)
	DriftPresent = "present" // the journal removed it; it is back
)

// PathDrift is one drifted path on one host: what the journal says it
// should be against what the host has.
type PathDrift struct {
	Path      string       `json:"path"`
	Seq       uint64       `json:"seq"` // the entry that owns the path on this host
	Kind      journal.Kind `json:"kind"`
	What      []string     `json:"what"` // content mode owner missing type present
	WantHash  string       `json:"want_hash,omitempty"`
	HostHash  string       `json:"host_hash,omitempty"`
	WantMode  string       `json:"want_mode,omitempty"`
	HostMode  string       `json:"host_mode,omitempty"`
	WantOwner string       `json:"want_owner,omitempty"`
	HostOwner string       `json:"host_owner,omitempty"`
	// Diff is journal → host, for text both sides, each up to MaxDiff.
	Diff   string `json:"diff,omitempty"`
	Binary bool   `json:"binary,omitempty"` // content differs but is not shown as text
	// Secret: the journal's content here is secret; Diff names hashes.
	Secret bool `json:"secret,omitempty"`
	// AllowUserDir: the owning entry was staged with --allow-user-dir (an
	// adopt or repair writes there as that entry would).
	AllowUserDir bool `json:"allow_user_dir,omitempty"`

	want []byte          // the journal's content for this host (file, template)
	host remote.PathInfo // what the probe saw
	ps   PathState       // the fingerprint part, for a repair
	// The host's content, when fetched for the diff.
	hostBytes []byte
	hostKnown bool
}

// HostDrift is one host's drift check.
type HostDrift struct {
	HostID   string        `json:"host_id"`
	Name     string        `json:"name"`
	Position uint64        `json:"position"`
	Checked  int           `json:"checked"` // owned paths compared
	Paths    []PathDrift   `json:"paths,omitempty"`
	Err      string        `json:"error,omitempty"` // could not be checked
	Duration time.Duration `json:"duration"`

	fp    Fingerprint
	vars  map[string]string
	facts map[string]string // what templates were rendered with, for a repair
}

// DriftReport is a drift check of a branch's hosts.
type DriftReport struct {
	Branch  string      `json:"branch"`
	Head    uint64      `json:"head"`
	Checked time.Time   `json:"checked"`
	Hosts   []HostDrift `json:"hosts"`
}

// Drifted counts the hosts with drift.
func (r *DriftReport) Drifted() int {
	n := 0
	for _, h := range r.Hosts {
		if len(h.Paths) > 0 {
			n++
		}
	}
	return n
}

// Failed counts the hosts that could not be checked.
func (r *DriftReport) Failed() int {
	n := 0
	for _, h := range r.Hosts {
		if h.Err != "" {
			n++
		}
	}
	return n
}

// Drift compares, on each selected host, every path the branch's applied
// entries own with what the journal says: one probe round trip per host
// (state, stat and hash of every owned path), plus one fetch where a
// text file drifted, for its diff. Each host's summary is stored on its
// record (HostView.Drifted).
func (e *Engine) Drift(ctx context.Context, req DriftRequest) (*DriftReport, error) {
	in, err := e.loadPlanInput(PlanRequest{Branch: req.Branch, Hosts: req.Hosts, NoStaged: true})
	if err != nil {
		return nil, err
	}
	rep := &DriftReport{Branch: in.branch.Name, Head: in.branch.Head, Checked: e.now(), Hosts: make([]HostDrift, len(in.hosts))}
	job := e.startJob("drift "+rep.Branch, fmt.Sprintf("checking drift on %s of %s", Plural(len(in.hosts), "host"), rep.Branch))
	// Every path any entry of the journal owns: the probe asks for all of
	// them, so the host's real position (which the probe reads) decides
	// without a second round trip.
	var paths []string
	seen := map[string]bool{}
	for _, en := range in.entries {
		if owns(en) && !seen[en.Path] {
			seen[en.Path] = true
			paths = append(paths, en.Path)
		}
	}
	e.forEachHost(ctx, len(in.hosts), e.opts.Parallel, func(i int) {
		rep.Hosts[i] = e.driftHost(ctx, in, in.hosts[i], paths)
	})
	if err := ctx.Err(); err != nil {
		e.finishJob(job, "drift check cancelled")
		return nil, fmt.Errorf("%w: drift: %v", ErrCancelled, err)
	}
	e.recordDrift(rep)
	msg := fmt.Sprintf("drift on %s: %d of %d hosts drifted", rep.Branch, rep.Drifted(), len(rep.Hosts))
	if f := rep.Failed(); f > 0 {
		msg += fmt.Sprintf(", %d could not be checked", f)
	}
	e.finishJob(job, msg)
	return rep, nil
}

// owns reports whether an entry decides what its path holds.
func owns(en journal.Entry) bool {
	switch en.Kind {
	case journal.KindFile, journal.KindTemplate, journal.KindRemove:
		return en.Path != ""
	}
	return false
}

func (e *Engine) driftHost(ctx context.Context, in *planInput, h store.Host, paths []string) HostDrift {
	start := time.Now()
	hd := HostDrift{HostID: h.ID, Name: displayName(h), vars: in.vars[h.ID]}
	defer func() { hd.Duration = time.Since(start) }()
	hctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout)
	defer cancel()
	res, err := e.opts.Remote.Probe(hctx, target(h), remote.ProbeRequest{StateDir: e.opts.StateDir, Paths: paths, NoClock: true})
	if err != nil {
		hd.Err = hostErr(err)
		return hd
	}
	st := res.State
	switch {
	case res.StateErr != "":
		hd.Err = fmt.Sprintf("state file %s/%s is corrupt: %s", e.opts.StateDir, remote.StateFileName, res.StateErr)
		return hd
	case st.Branch != "" && st.Branch != in.branch.Name:
		hd.Err = fmt.Sprintf("host's state file says branch %s, not %s; migrate it first", st.Branch, in.branch.Name)
		return hd
	case st.Position > uint64(len(in.entries)):
		hd.Err = fmt.Sprintf("host is at position %d but branch %s has only %d entries", st.Position, in.branch.Name, len(in.entries))
		return hd
	case st.Position > 0 && in.entries[st.Position-1].Hash != st.Hash:
		hd.Err = fmt.Sprintf("host's last applied entry (seq %d) has a different hash than the journal's: it followed another journal", st.Position)
		return hd
	}
	hd.Position = st.Position
	hd.fp = Fingerprint{Branch: st.Branch, Position: st.Position, Hash: st.Hash}
	owner := map[string]journal.Entry{}
	var order []string
	for _, en := range in.entries[:st.Position] {
		if !owns(en) {
			continue
		}
		if _, ok := owner[en.Path]; !ok {
			order = append(order, en.Path)
		}
		owner[en.Path] = en
	}
	hd.facts = hostFacts(h, res, in.branch.Name)
	vars := withFacts(in.vars[h.ID], hd.facts)
	hs := in.secrets[h.ID]
	var fetch []string
	for _, p := range order {
		en := owner[p]
		hd.Checked++
		d, ok := compareOwned(en, in.blobs[en.Blob], vars, res.Paths[p])
		if !ok {
			continue
		}
		if en.Kind != journal.KindRemove && hs.contentSecret(en, in.refs) {
			// Neither side is fetched or shown: the hashes say it.
			d.Secret = true
			if slices.Contains(d.What, DriftContent) || slices.Contains(d.What, DriftMissing) {
				d.Diff = kinds.SecretDiff(d.WantHash, d.HostHash)
			}
			hd.Paths = append(hd.Paths, d)
			continue
		}
		if slices.Contains(d.What, DriftContent) && d.host.Type == "file" && d.host.Size <= MaxDiff && !diff.IsBinary(d.want) {
			fetch = append(fetch, p)
		}
		hd.Paths = append(hd.Paths, d)
	}
	if len(fetch) > 0 {
		got, err := e.opts.Remote.Fetch(hctx, target(h), fetch)
		if err != nil {
			hd.Err = "drift found, but fetching it for the diff failed: " + hostErr(err)
		}
		for i := range hd.Paths {
			d := &hd.Paths[i]
			c, ok := got[d.Path]
			switch {
			case !slices.Contains(d.What, DriftContent) || d.Secret:
			case !ok || len(c) > MaxDiff || diff.IsBinary(c) || diff.IsBinary(d.want):
				d.Binary = true
			default:
				d.hostBytes, d.hostKnown = c, true
				d.Diff = diff.Unified("journal"+d.Path, "host"+d.Path, string(d.want), string(c))
			}
		}
	} else {
		for i := range hd.Paths {
			if slices.Contains(hd.Paths[i].What, DriftContent) && !hd.Paths[i].Secret {
				hd.Paths[i].Binary = true
			}
		}
	}
	return hd
}

// compareOwned compares one owned path with its entry; ok is false when
// the host matches the journal.
func compareOwned(en journal.Entry, src []byte, vars map[string]string, cur remote.PathInfo) (PathDrift, bool) {
	d := PathDrift{Path: en.Path, Seq: en.Seq, Kind: en.Kind, host: cur, AllowUserDir: en.AllowUserDir}
	d.ps = PathState{Path: en.Path, Exists: cur.Exists}
	if cur.Exists {
		d.HostHash, d.HostMode, d.HostOwner = cur.Hash, fmt.Sprintf("%o", cur.Mode), cur.Owner+":"+cur.Group
		d.ps.Hash, d.ps.Mode, d.ps.Owner = cur.Hash, d.HostMode, d.HostOwner
	}
	if en.Kind == journal.KindRemove {
		if cur.Exists {
			d.What = []string{DriftPresent}
		}
		return d, len(d.What) > 0
	}
	want := src
	if k, ok := kinds.Lookup(en.Kind); ok && k.Content() == kinds.ContentPerHost {
		out, err := k.Render(en, src, vars)
		if err != nil {
			// The classification changed since the push: the journal's
			// version for this host cannot be said, so nothing is claimed.
			return d, false
		}
		want = out
	}
	d.want = want
	d.WantHash, d.WantMode, d.WantOwner = sha(want), fmt.Sprintf("%o", en.Mode), en.Owner+":"+en.Group
	switch {
	case !cur.Exists:
		d.What = []string{DriftMissing}
	case cur.Type != "file":
		d.What = []string{DriftType}
	default:
		if cur.Hash != d.WantHash {
			d.What = append(d.What, DriftContent)
		}
		if cur.Mode != en.Mode {
			d.What = append(d.What, DriftMode)
		}
		if cur.Owner != en.Owner || cur.Group != en.Group {
			d.What = append(d.What, DriftOwner)
		}
	}
	return d, len(d.What) > 0
}

// recordDrift stores each checked host's drift summary on its record.
func (e *Engine) recordDrift(rep *DriftReport) {
	var changed []store.Host
	err := e.opts.Store.Update(func(tx store.Tx) error {
		changed = changed[:0]
		for _, hd := range rep.Hosts {
			h, err := tx.Host(hd.HostID)
			if err != nil {
				continue
			}
			sum := &store.DriftSummary{Checked: rep.Checked, Position: hd.Position, Err: hd.Err}
			for _, p := range hd.Paths {
				sum.Paths = append(sum.Paths, p.Path)
			}
			h.Drift = sum
			if err := tx.PutHost(h); err != nil {
				return err
			}
			changed = append(changed, h)
		}
		return nil
	})
	if err != nil {
		e.logf(LevelError, "recording drift of %s: %v", rep.Branch, err)
		return
	}
	view := e.viewer()
	for _, h := range changed {
		lvl, msg := LevelInfo, displayName(h)+": no drift"
		if n := len(h.Drift.Paths); n > 0 {
			lvl, msg = LevelWarn, fmt.Sprintf("%s: %s drifted from the journal", displayName(h), plural(n, "file", "files"))
		}
		if h.Drift.Err != "" {
			lvl, msg = LevelError, displayName(h)+": drift check failed: "+h.Drift.Err
		}
		e.emit(&HostEvent{Header: Header{Level: lvl, Message: msg}, Change: HostUpdated, Host: view(h)})
	}
}

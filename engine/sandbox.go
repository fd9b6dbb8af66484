package engine

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// sandboxOutcome is what the sandbox said about one host's pending exec
// entries: its result, or why there is none.
type sandboxOutcome struct {
	res     *remote.SandboxResult
	reason  string        // not simulated: why (the host's, or the plan's)
	timeout time.Duration // each entry's limit, for the plan's words
	space   int64         // the upper layers' cap, likewise
	output  int64         // an entry's output cap
	procs   int           // the cap on processes
}

// sandboxRequest is what the sandbox of a host carries out for its
// pending entries, up to the last exec, and how many execs it holds
// (none when the push stops before the first); nil when no exec is
// pending.
func (e *Engine) sandboxRequest(pending []journal.Entry, content map[uint64][]byte, renderErr map[uint64]string, env map[string]string) (*remote.SandboxRequest, int) {
	last := -1
	for i, en := range pending {
		if en.Kind == journal.KindExec {
			last = i
		}
	}
	if last < 0 {
		return nil, 0
	}
	req := &remote.SandboxRequest{Timeout: e.noopTimeout(), UpperCap: e.noopSpace(), OutputCap: e.opts.NoopOutput, MaxProcs: e.opts.NoopProcs, Env: env}
	execs := 0
entries:
	for _, en := range pending[:last+1] {
		if _, bad := renderErr[en.Seq]; bad {
			break // the push stops at this entry; so does the sandbox
		}
		switch en.Kind {
		case journal.KindFile, journal.KindTemplate:
			req.Entries = append(req.Entries, remote.SandboxEntry{Seq: en.Seq, Kind: "file", Path: en.Path,
				Content: content[en.Seq], Mode: en.Mode, Owner: en.Owner, Group: en.Group})
		case journal.KindExec:
			execs++
			req.Entries = append(req.Entries, remote.SandboxEntry{Seq: en.Seq, Kind: "exec", Command: en.Command,
				Creates: en.Guard.Creates, Unless: en.Guard.Unless})
		case journal.KindRemove:
			req.Entries = append(req.Entries, remote.SandboxEntry{Seq: en.Seq, Kind: "remove", Path: en.Path})
		case journal.KindReboot:
			break entries // the push stops there (or the host reboots)
		default:
			// A kind to come that the sandbox cannot carry out: the
			// commands after it are simulated without it.
		}
	}
	return req, execs
}

func (e *Engine) noopTimeout() time.Duration {
	if e.opts.NoopTimeout > 0 {
		return e.opts.NoopTimeout
	}
	return remote.DefaultNoopTimeout
}

func (e *Engine) noopSpace() int64 {
	if e.opts.NoopSpace > 0 {
		return e.opts.NoopSpace
	}
	return remote.DefaultUpperCap
}

// sandboxBudget is how long a host's sandbox may take: each entry has its
// own limit on the host; the connection gets all of them plus the usual
// allowance.
func (e *Engine) sandboxBudget(execs int) time.Duration {
	return e.opts.HostTimeout + time.Duration(execs+1)*(e.noopTimeout()+2*time.Second)
}

func execCount(req *remote.SandboxRequest) int {
	n := 0
	for _, en := range req.Entries {
		if en.Kind == "exec" {
			n++
		}
	}
	return n
}

// prefetched is a sandbox carried out in the probe's session, for the
// request the store's view of the host made.
type prefetched struct {
	req *remote.SandboxRequest
	res *remote.SandboxResult
	err error
}

// sandboxHost carries out a host's pending entries, up to its last exec,
// in a sandbox of the host: nothing when no exec is pending; what the
// probe's session already did when its request is the one the probe's
// answer makes (the usual case: one round trip in all), else one more
// round trip. Nothing runs on the host outside it: when the host cannot
// sandbox, the outcome says why and nothing ran.
func (e *Engine) sandboxHost(ctx context.Context, h store.Host, pending []journal.Entry, content map[uint64][]byte, renderErr map[uint64]string, env map[string]string, pre *prefetched) sandboxOutcome {
	req, execs := e.sandboxRequest(pending, content, renderErr, env)
	if req == nil {
		return sandboxOutcome{}
	}
	if e.opts.NoSandbox {
		return sandboxOutcome{reason: "the plan was made without the sandbox"}
	}
	if execs == 0 {
		return sandboxOutcome{reason: "not reached in the sandbox: an earlier entry stops the push before it"}
	}
	per := req.Timeout
	var res *remote.SandboxResult
	var err error
	if pre != nil && reflect.DeepEqual(pre.req, req) {
		res, err = pre.res, pre.err
	} else {
		sctx, cancel := context.WithTimeout(ctx, e.sandboxBudget(execs))
		defer cancel()
		res, err = e.opts.Remote.Sandbox(sctx, target(h), *req)
	}
	if err != nil {
		return sandboxOutcome{reason: "the sandbox failed: " + hostErr(err), timeout: per}
	}
	if res.Unavailable != "" {
		return sandboxOutcome{reason: "this host cannot sandbox: " + res.Unavailable, timeout: per}
	}
	return sandboxOutcome{res: res, timeout: per, space: req.UpperCap, output: req.OutputCap, procs: req.MaxProcs}
}

// probeSandboxer is a Remote that can run the probe and the sandbox in
// one session (*remote.Steps).
type probeSandboxer interface {
	ProbeSandbox(ctx context.Context, t remote.Target, preq remote.ProbeRequest, req remote.SandboxRequest) (*remote.ProbeResult, *remote.SandboxResult, error, error)
}

// speculate is the sandbox request of a host as the store last saw it
// (its position, its facts), to carry out in the probe's session; nil
// when no exec is pending there, the plan has no sandbox, or the Remote
// cannot.
func (e *Engine) speculate(in *planInput, h store.Host, all []journal.Entry, from uint64, env map[string]string) *remote.SandboxRequest {
	if e.opts.NoSandbox {
		return nil
	}
	if _, ok := e.opts.Remote.(probeSandboxer); !ok || from > uint64(len(all)) {
		return nil
	}
	pending := all[from:]
	hasExec := false
	for _, en := range pending {
		hasExec = hasExec || en.Kind == journal.KindExec
	}
	if !hasExec {
		return nil
	}
	hn := h.HostnameNow
	if hn == "" {
		hn = h.Hostname
	}
	mid := h.MachineIDNow
	if mid == "" {
		mid = h.MachineID
	}
	facts := hostFacts(h, &remote.ProbeResult{Facts: remote.Facts{Hostname: hn, MachineID: mid, OS: h.OS}}, in.branch.Name)
	vars := withFacts(in.vars[h.ID], facts)
	content := map[uint64][]byte{}
	renderErr := map[uint64]string{}
	for _, en := range pending {
		k, ok := kinds.Lookup(en.Kind)
		if !ok || k.Content() == kinds.ContentNone {
			continue
		}
		src := in.blobs[en.Blob]
		if k.Content() == kinds.ContentStaged {
			content[en.Seq] = src
			continue
		}
		out, err := k.Render(en, src, vars)
		if err != nil {
			renderErr[en.Seq] = err.Error()
			continue
		}
		content[en.Seq] = out
	}
	if req, execs := e.sandboxRequest(pending, content, renderErr, env); execs > 0 {
		return req
	}
	return nil
}

// bind adds to the fingerprint the paths the sandbox saw commands change,
// as they were on the host: the binding of a plan to its push.
func bind(h *kinds.Host, fp *Fingerprint) {
	in := map[string]bool{}
	for _, ps := range fp.Paths {
		in[ps.Path] = true
	}
	for _, b := range h.Bound {
		if in[b.Path] {
			continue
		}
		in[b.Path] = true
		ps := PathState{Path: b.Path, Exists: b.State.Exists}
		if b.State.Exists {
			ps.Hash, ps.Mode, ps.Owner = b.State.Hash, fmt.Sprintf("%04o", b.State.Mode), b.State.Owner+":"+b.State.Group
		}
		fp.Paths = append(fp.Paths, ps)
	}
}

package engine

import (
	"context"
	"fmt"
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
}

// sandboxHost carries out a host's pending entries, up to its last exec,
// in a sandbox of the host: one more round trip, only when an exec is
// pending. Nothing runs on the host outside it: when the host cannot
// sandbox, the outcome says why and nothing ran.
func (e *Engine) sandboxHost(ctx context.Context, h store.Host, pending []journal.Entry, content map[uint64][]byte, renderErr map[uint64]string, env map[string]string) sandboxOutcome {
	last := -1
	for i, en := range pending {
		if en.Kind == journal.KindExec {
			last = i
		}
	}
	if last < 0 {
		return sandboxOutcome{}
	}
	if e.opts.NoSandbox {
		return sandboxOutcome{reason: "the plan was made without the sandbox"}
	}
	per := e.opts.NoopTimeout
	if per <= 0 {
		per = remote.DefaultNoopTimeout
	}
	space := e.opts.NoopSpace
	if space <= 0 {
		space = remote.DefaultUpperCap
	}
	req := remote.SandboxRequest{Timeout: per, UpperCap: space, Env: env}
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
	// Each entry has its own limit on the host; the connection gets all of
	// them plus the usual allowance.
	sctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout+time.Duration(execs+1)*(per+2*time.Second))
	defer cancel()
	res, err := e.opts.Remote.Sandbox(sctx, target(h), req)
	if err != nil {
		return sandboxOutcome{reason: "the sandbox failed: " + hostErr(err), timeout: per}
	}
	if res.Unavailable != "" {
		return sandboxOutcome{reason: "this host cannot sandbox: " + res.Unavailable, timeout: per}
	}
	return sandboxOutcome{res: res, timeout: per, space: space}
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

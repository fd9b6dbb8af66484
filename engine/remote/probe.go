package remote

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Steps are the batched remote operations the engine needs, written as POSIX
// sh scripts that use only coreutils, run through a Runner. Each method is
// one round trip.
type Steps struct {
	R Runner
	// HostKey, when set, reports the fingerprint of the key a target
	// presented (the SSH client knows it; a local runner does not).
	HostKey func(Target) (string, bool)
	// CancelWait is how long a cancelled push waits for a host to finish
	// its current entry before giving up on it; default 5 minutes.
	CancelWait time.Duration
}

// probeProgram reads facts, the state file's header and stat + sha256 of
// every path (probe.sh). It runs no guard: a guard is a command, and a plan
// runs commands only in the host's sandbox. It forks only for date (the
// clock, unless NoClock), stat and sha256sum: everything else is shell
// builtins, so a probe costs a few milliseconds on the host.
func probeProgram(req ProbeRequest) (string, error) {
	p := newProgram(probeFiles)
	probeCalls(p, req)
	return p.text()
}

// probeCalls appends the probe's calls to p.
func probeCalls(p *program, req ProbeRequest) {
	p.call("facts")
	if !req.NoClock {
		p.call("clock")
	}
	p.call("state", strings.TrimRight(req.StateDir, "/")+"/"+StateFileName)
	p.call("reverts", strings.TrimRight(req.StateDir, "/"))
	if len(req.Paths) > 0 {
		p.call("paths", req.Paths...)
	}
	p.call("finish")
}

// probeCap is the most a probe's reply may be.
func probeCap(req ProbeRequest) int64 {
	return probeBase + probePerItem*int64(len(req.Paths))
}

// Probe is one round trip: facts, state file and the paths.
func (st *Steps) Probe(ctx context.Context, t Target, req ProbeRequest) (*ProbeResult, error) {
	text, err := probeProgram(req)
	if err != nil {
		return nil, fmt.Errorf("probe of %s: %w", t.display(), err)
	}
	out, err := st.run(ctx, t, "probe", text, probeCap(req))
	if err != nil {
		return nil, err
	}
	res, err := parseProbe(out, req)
	if err != nil {
		return nil, fmt.Errorf("probe of %s: %w", t.display(), err)
	}
	if st.HostKey != nil {
		res.HostKey, _ = st.HostKey(t)
	}
	return res, nil
}

// run runs one step's program and returns its reply, at most limit bytes:
// past that the step is ended and fails.
func (st *Steps) run(ctx context.Context, t Target, step, text string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out, errb bytes.Buffer
	cw := &capWriter{w: &out, limit: limit, over: cancel}
	ew := &capWriter{w: &errb, limit: 4 << 10}
	code, err := st.R.Run(ctx, t, remoteShell, strings.NewReader(text), cw, ew)
	if cw.tooLarge() {
		return nil, fmt.Errorf("%s of %s: %w of %d bytes; the host sent more than a %s can (is something on it huge?)", step, t.display(), errReplyTooLarge, limit, step)
	}
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("%s of %s exited %d: %s", step, t.display(), code, cleanText(trunc(strings.TrimSpace(errb.String()), 300)))
	}
	return out.Bytes(), nil
}

// parseProbe turns a probe's reply into its result.
func parseProbe(out []byte, req ProbeRequest) (*ProbeResult, error) {
	res := &ProbeResult{Paths: map[string]PathInfo{}}
	var state []string
	var present []int // indexes of present paths, in order
	var stats []statLine
	var hashes []string
	ended, inState, stateDone := false, false, false
	rr := newReplyBytes(out, MaxReplyLine, len(req.Paths))
	for {
		l, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if ended {
			return nil, fmt.Errorf("reply goes on after END")
		}
		if inState != (l.Tag == tagState || l.Tag == tagStateEnd) {
			return nil, fmt.Errorf("reply line %d: %s out of place", rr.n, l.Tag)
		}
		switch l.Tag {
		case tagStateBegin, tagStateNot:
			if stateDone {
				return nil, fmt.Errorf("reply line %d: a second state file", rr.n)
			}
			stateDone, res.State.Present = true, true
			inState = l.Tag == tagStateBegin
			if l.Tag == tagStateNot {
				res.StateErr = "the state path exists but is not a regular file"
			}
		case tagState:
			if len(state) >= 64 {
				return nil, fmt.Errorf("state file header longer than 64 lines")
			}
			state = append(state, l.Text)
		case tagStateEnd:
			inState = false
		case tagFact:
			switch l.Key {
			case "revert":
				res.Facts.RevertArmed = l.Text == "armed"
			case "hostname":
				res.Facts.Hostname = l.Text
			case "machine-id":
				res.Facts.MachineID = l.Text
			case "os":
				res.Facts.OS = strings.Trim(l.Text, `"'`)
			case "time":
				// A clock the host cannot tell (no date, garbage) is
				// simply unknown: the skew is a hint, not a fingerprint.
				if sec, err := strconv.ParseInt(l.Text, 10, 64); err == nil && sec > 0 && sec < 1<<40 {
					res.Facts.Time = time.Unix(sec, 0)
				}
			}
		case tagExists:
			if l.Index >= len(req.Paths) {
				return nil, fmt.Errorf("reply line %d: no path %d was asked for", rr.n, l.Index)
			}
			if l.Flag {
				present = append(present, l.Index)
			}
		case tagStat:
			stats = append(stats, l.Stat)
		case tagHash:
			hashes = append(hashes, l.Hash)
		case tagEnd:
			ended = true
		default:
			return nil, fmt.Errorf("reply line %d: %s does not belong in a probe reply", rr.n, l.Tag)
		}
	}
	if !ended {
		return nil, fmt.Errorf("reply ended early (host went away?)")
	}
	if len(stats) != len(present) {
		return nil, fmt.Errorf("stat answered for %d of %d paths", len(stats), len(present))
	}
	hi := 0
	for _, p := range req.Paths {
		res.Paths[p] = PathInfo{Path: p}
	}
	for k, idx := range present {
		p := req.Paths[idx]
		s := stats[k]
		info := PathInfo{Path: p, Exists: true, Type: s.Type, Size: s.Size, Mode: s.Mode, Owner: s.Owner, Group: s.Group}
		if info.Type == "file" {
			if hi >= len(hashes) {
				return nil, fmt.Errorf("sha256sum answered for too few files")
			}
			info.Hash = hashes[hi]
			hi++
		}
		res.Paths[p] = info
	}
	if hi != len(hashes) {
		return nil, fmt.Errorf("sha256sum answered for more files than exist")
	}
	if res.State.Present && res.StateErr == "" {
		parsed, err := ParseState(strings.Join(state, "\n"))
		if err != nil {
			res.StateErr = err.Error()
		} else {
			res.State = parsed
		}
	}
	return res, nil
}

// fetchProgram prints each path's content base64-encoded on its own line.
func fetchProgram(paths []string) (string, error) {
	p := newProgram(fetchFiles)
	for i, path := range paths {
		p.call("fetch", strconv.Itoa(i), path)
	}
	p.call("finish")
	return p.text()
}

// fetchCap is the most a fetch's reply may be.
func fetchCap(paths []string) int64 {
	return int64(len(paths)) * int64(base64.StdEncoding.EncodedLen(MaxFetch)+64)
}

// Fetch is one round trip: the contents of regular files, each at most
// MaxFetch bytes. A path that is not a regular file is left out of the
// result.
func (st *Steps) Fetch(ctx context.Context, t Target, paths []string) (map[string][]byte, error) {
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	text, err := fetchProgram(paths)
	if err != nil {
		return nil, fmt.Errorf("fetch from %s: %w", t.display(), err)
	}
	out, err := st.run(ctx, t, "fetch", text, fetchCap(paths))
	if err != nil {
		return nil, err
	}
	got, err := parseFetch(out, paths)
	if err != nil {
		return nil, fmt.Errorf("fetch from %s: %w", t.display(), err)
	}
	return got, nil
}

// parseFetch turns a fetch's reply into contents by path.
func parseFetch(out []byte, paths []string) (map[string][]byte, error) {
	got := map[string][]byte{}
	ended := false
	rr := newReplyBytes(out, base64.StdEncoding.EncodedLen(MaxFetch)+32, len(paths))
	for {
		l, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case ended:
			return nil, fmt.Errorf("reply goes on after END")
		case l.Tag == tagEnd:
			ended = true
		case l.Tag == tagContent:
			if l.Data != nil {
				got[paths[l.Index]] = l.Data
			}
		default:
			return nil, fmt.Errorf("reply line %d: %s does not belong in a fetch reply", rr.n, l.Tag)
		}
	}
	if !ended {
		return nil, fmt.Errorf("reply ended early (host went away?)")
	}
	return got, nil
}

func (t Target) display() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Addr
}

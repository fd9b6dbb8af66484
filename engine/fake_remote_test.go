package engine_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"golang.org/x/crypto/ssh"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// fakeRemote is an in-memory fleet behind engine.Remote. It follows the
// semantics of the shell steps in engine/remote (probe.go, apply.go): the
// state file is the same text and is parsed with remote.ParseState on
// probe, apply checks the plan's fingerprint (position, hash, branch,
// paths) before changing anything, stops at the first failing entry, honours
// guards and reboot gating, and advances the state after each entry.
type fakeRemote struct {
	mu       sync.Mutex
	hosts    map[string]*fakeHost // by address
	inFlight int                  // applies running now
	maxApply int                  // most applies ever running at once
	// applyHook, when set, runs before each entry of an apply with the
	// lock released; it may block (e.g. until ctx is done). The entry is
	// applied afterwards all the same: a running entry always finishes.
	applyHook func(ctx context.Context, addr string, seq uint64)
	// startHook runs when an apply starts, with the lock released.
	startHook func(ctx context.Context, addr string)
}

// fakeFile is one path on a fake host.
type fakeFile struct {
	content []byte
	mode    uint32
	owner   string
	group   string
	dir     bool
}

// fakeHost is one machine.
type fakeHost struct {
	addr    string
	facts   remote.Facts
	hostKey string
	files   map[string]*fakeFile
	// state is the state file's text, exactly as the apply script writes
	// it; "" when the host has none.
	state  string
	down   bool
	unless map[string]int // guard command → exit status; else fakeExit decides
	// noSandbox, when set, is why the host cannot sandbox.
	noSandbox string
	sandboxes int // sandbox steps run
	// fetchLies replaces what Fetch returns for a path (a host that
	// reports one size in the probe and sends something else).
	fetchLies map[string][]byte
	// What happened to it.
	probes, fetches, applies int
	ran                      []string          // exec commands run, in order
	env                      map[string]string // the variables the last exec (or its guard) saw
	reboots                  int
}

func newFakeRemote() *fakeRemote { return &fakeRemote{hosts: map[string]*fakeHost{}} }

// add creates a host at addr whose hostname and machine-id derive from name.
func (f *fakeRemote) add(addr, name string) *fakeHost {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := &fakeHost{addr: addr, facts: remote.Facts{Hostname: name, MachineID: "mid-" + name, OS: "Fake Linux 1"},
		hostKey: "SHA256:key-" + name, files: map[string]*fakeFile{}, unless: map[string]int{}}
	f.hosts[addr] = h
	return h
}

// host returns the host at addr; tests change it only through the
// fakeRemote's methods, which take the lock.
func (f *fakeRemote) host(addr string) *fakeHost {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[addr]
	if h == nil {
		panic("fake: no host at " + addr)
	}
	return h
}

// with runs fn on the host at addr under the lock.
func (f *fakeRemote) with(addr string, fn func(h *fakeHost)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[addr]
	if h == nil {
		panic("fake: no host at " + addr)
	}
	fn(h)
}

// move makes the host at from answer at to instead.
func (f *fakeRemote) move(from, to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[from]
	delete(f.hosts, from)
	h.addr = to
	f.hosts[to] = h
}

func (f *fakeRemote) setFile(addr, path, content string, mode uint32, owner, group string) {
	f.with(addr, func(h *fakeHost) {
		h.files[path] = &fakeFile{content: []byte(content), mode: mode, owner: owner, group: group}
	})
}

func (f *fakeRemote) setDown(addr string, down bool) {
	f.with(addr, func(h *fakeHost) { h.down = down })
}

// setState writes a well-formed state file.
func (f *fakeRemote) setState(addr, branch string, pos uint64, hash string) {
	f.with(addr, func(h *fakeHost) { h.state = stateText(branch, pos, hash, "") })
}

// setRawState writes any text as the state file.
func (f *fakeRemote) setRawState(addr, text string) {
	f.with(addr, func(h *fakeHost) { h.state = text })
}

// file returns a copy of a path's content and whether it exists.
func (f *fakeRemote) file(addr, path string) (fakeFile, bool) {
	var out fakeFile
	var ok bool
	f.with(addr, func(h *fakeHost) {
		if ff, found := h.files[path]; found {
			out, ok = *ff, true
			out.content = append([]byte(nil), ff.content...)
		}
	})
	return out, ok
}

// stateOf parses the host's state file as a probe would.
func (f *fakeRemote) stateOf(addr string) remote.StateFile {
	var text string
	f.with(addr, func(h *fakeHost) { text = h.state })
	if text == "" {
		return remote.StateFile{}
	}
	st, err := remote.ParseState(text)
	if err != nil {
		panic("fake: state file does not parse: " + err.Error())
	}
	return st
}

type callCounts struct{ probes, fetches, applies int }

func (f *fakeRemote) counts(addr string) callCounts {
	var c callCounts
	f.with(addr, func(h *fakeHost) { c = callCounts{h.probes, h.fetches, h.applies} })
	return c
}

func (f *fakeRemote) resetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hosts {
		h.probes, h.fetches, h.applies = 0, 0, 0
	}
	f.maxApply = 0
}

// snapshot is a host's files and state, to check that nothing changed.
func (f *fakeRemote) snapshot(addr string) string {
	var b strings.Builder
	f.with(addr, func(h *fakeHost) {
		paths := make([]string, 0, len(h.files))
		for p := range h.files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			ff := h.files[p]
			fmt.Fprintf(&b, "%s %o %s:%s dir=%v %s\n", p, ff.mode, ff.owner, ff.group, ff.dir, shaHex(ff.content))
		}
		b.WriteString(h.state)
	})
	return b.String()
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// stateText renders a state file as the apply script's wstate does.
func stateText(branch string, pos uint64, hash, hist string) string {
	return fmt.Sprintf("# discoterm state v1\nbranch %s\nposition %d\nhash %s\n%s", branch, pos, hash, hist)
}

func (f *fakeRemote) reach(t remote.Target) (*fakeHost, error) {
	h := f.hosts[t.Addr]
	if h == nil || h.down {
		return nil, &remote.UnreachableError{Host: t.Addr, Port: 22, Err: errors.New("connection refused")}
	}
	return h, nil
}

// Probe answers as probeScript would: facts, state, stat+hash, guards.
func (f *fakeRemote) Probe(ctx context.Context, t remote.Target, req remote.ProbeRequest) (*remote.ProbeResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: not started: %w", t.Addr, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.reach(t)
	if err != nil {
		return nil, err
	}
	h.probes++
	res := &remote.ProbeResult{Facts: h.facts, HostKey: h.hostKey, Paths: map[string]remote.PathInfo{}}
	if h.state != "" {
		st, err := remote.ParseState(h.state)
		if err != nil {
			res.State.Present, res.StateErr = true, err.Error()
		} else {
			res.State = st
		}
	}
	for _, p := range req.Paths {
		info := remote.PathInfo{Path: p}
		if ff, ok := h.files[p]; ok {
			info.Exists, info.Mode, info.Owner, info.Group = true, ff.mode, ff.owner, ff.group
			if ff.dir {
				info.Type, info.Size = "dir", 4096
			} else {
				info.Type, info.Size, info.Hash = "file", int64(len(ff.content)), shaHex(ff.content)
			}
		}
		res.Paths[p] = info
	}
	return res, nil
}

// Sandbox carries out the entries on a copy of the host's files, with the
// same command semantics as Apply, and reports what each exec changed.
// The host itself is not touched.
func (f *fakeRemote) Sandbox(ctx context.Context, t remote.Target, req remote.SandboxRequest) (*remote.SandboxResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.reach(t)
	if err != nil {
		return nil, err
	}
	h.sandboxes++
	if h.noSandbox != "" {
		return &remote.SandboxResult{Unavailable: h.noSandbox}, nil
	}
	real, realRan := h.files, h.ran
	defer func() { h.files, h.ran = real, realRan }()
	h.files = map[string]*fakeFile{}
	for p, ff := range real {
		c := *ff
		h.files[p] = &c
	}
	state := func(ff *fakeFile) remote.FileState {
		if ff == nil {
			return remote.FileState{}
		}
		st := remote.FileState{Exists: true, Type: "file", Mode: ff.mode, Owner: ff.owner, Group: ff.group, Size: int64(len(ff.content)),
			Content: append([]byte{}, ff.content...), Hash: shaHex(ff.content)}
		if ff.dir {
			st.Type, st.Content, st.Hash = "dir", nil, ""
		}
		return st
	}
	res := &remote.SandboxResult{}
	for _, e := range req.Entries {
		switch e.Kind {
		case "file":
			h.files[e.Path] = &fakeFile{content: e.Content, mode: e.Mode, owner: "root", group: "root"}
			continue
		case "remove":
			delete(h.files, e.Path)
			continue
		}
		r := remote.ExecReport{Seq: e.Seq}
		if _, ok := h.files[e.Creates]; e.Creates != "" && ok {
			r.Guard = "creates"
			res.Execs = append(res.Execs, r)
			continue
		}
		if e.Unless != "" {
			r.Guard, r.UnlessCode = "unless", h.guard(e.Unless)
			if r.UnlessCode == 0 {
				res.Execs = append(res.Execs, r)
				continue
			}
		}
		r.Ran = true
		before := map[string]*fakeFile{}
		for p, ff := range h.files {
			c := *ff
			before[p] = &c
		}
		rc, out := h.exec(e.Command)
		r.ExitCode, r.Output, r.OutputSize = rc, []byte(out), int64(len(out))
		var paths []string
		for p := range h.files {
			paths = append(paths, p)
		}
		for p := range before {
			if h.files[p] == nil {
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		for _, p := range paths {
			b, a := before[p], h.files[p]
			if b != nil && a != nil && string(b.content) == string(a.content) && b.mode == a.mode {
				continue
			}
			fe := remote.FileEffect{Path: p, Before: state(real[p]), After: state(a), Deleted: a == nil, Complete: true}
			if b != nil && real[p] == nil || real[p] != nil && b != nil && string(real[p].content) != string(b.content) {
				fe.Seen = true
			}
			r.Effects = append(r.Effects, fe)
		}
		res.Execs = append(res.Execs, r)
		if rc != 0 {
			break
		}
	}
	return res, nil
}

// Fetch returns the content of regular files; others are left out.
func (f *fakeRemote) Fetch(ctx context.Context, t remote.Target, paths []string) (map[string][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.reach(t)
	if err != nil {
		return nil, err
	}
	h.fetches++
	out := map[string][]byte{}
	for _, p := range paths {
		if lie, ok := h.fetchLies[p]; ok {
			out[p] = lie
		} else if ff, ok := h.files[p]; ok && !ff.dir {
			out[p] = append([]byte(nil), ff.content...)
		}
	}
	return out, nil
}

// looseState reads the state file the way the apply script does: by line
// prefix, without validating.
func looseState(text string) (branch, pos, hash, hist string) {
	pos = "0"
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "branch "):
			branch = strings.TrimPrefix(l, "branch ")
		case strings.HasPrefix(l, "position "):
			pos = strings.TrimPrefix(l, "position ")
		case strings.HasPrefix(l, "hash "):
			hash = strings.TrimPrefix(l, "hash ")
		case strings.HasPrefix(l, "applied "):
			hist += l + "\n"
		}
	}
	return
}

// Apply mirrors applyScript.
func (f *fakeRemote) Apply(ctx context.Context, t remote.Target, b *remote.Bundle, report func(remote.EntryReport)) (*remote.ApplyResult, error) {
	res := &remote.ApplyResult{Position: b.ExpectPosition, Hash: b.ExpectHash}
	if err := ctx.Err(); err != nil {
		// The SSH client refuses to start a session on a done context.
		return res, fmt.Errorf("%s: not started: %w", t.Addr, err)
	}
	f.mu.Lock()
	h, err := f.reach(t)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	h.applies++
	f.inFlight++
	if f.inFlight > f.maxApply {
		f.maxApply = f.inFlight
	}
	start, hook := f.startHook, f.applyHook
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if start != nil {
		start(ctx, t.Addr)
	}

	f.mu.Lock()
	locked := true
	defer func() {
		if locked {
			f.mu.Unlock()
		}
	}()
	br0, pos0, h0, hist := looseState(h.state)
	stale := func(reason string) (*remote.ApplyResult, error) {
		res.Stale = reason
		return res, nil
	}
	if pos0 != strconv.FormatUint(b.ExpectPosition, 10) || h0 != b.ExpectHash {
		return stale(fmt.Sprintf("host is at position %s, the plan expected %d", pos0, b.ExpectPosition))
	}
	if br0 != "" && br0 != b.ExpectBranch {
		return stale(fmt.Sprintf("host is on branch %s, the plan expected %s", br0, b.ExpectBranch))
	}
	for _, p := range b.ExpectPaths {
		ff, ok := h.files[p.Path]
		if !p.Exists {
			if ok {
				return stale(p.Path + " appeared since the plan")
			}
			continue
		}
		if !ok || ff.mode != p.Mode || ff.owner != p.Owner || ff.group != p.Group {
			return stale(p.Path + " changed (mode or owner) since the plan")
		}
		if p.Type == "file" && (ff.dir || shaHex(ff.content) != p.Hash) {
			return stale(p.Path + " changed since the plan")
		}
	}
	pos, hash := pos0, h0
	wstate := func() { h.state = stateText(b.Branch, mustUint(pos), hash, hist) }
	if b.Branch != b.ExpectBranch || (b.ExpectBranch == "" && b.Branch != "") {
		wstate()
	}
	done := func(e remote.BundleEntry) {
		if e.Repair { // a drift repair: position and history stay (apply.sh replace, rremove)
			return
		}
		hist += fmt.Sprintf("applied %d %s %d 1 ok\n", e.Seq, e.Hash, time.Unix(1_700_000_000, 0).Unix())
		pos, hash = strconv.FormatUint(e.Seq, 10), e.Hash
		wstate()
	}
	emit := func(r remote.EntryReport) {
		res.Entries = append(res.Entries, r)
		if report != nil {
			report(r)
		}
	}
	finish := func() (*remote.ApplyResult, error) {
		res.Position, res.Hash = mustUint(pos), hash
		if err := ctx.Err(); err != nil {
			// The transport saw the cancellation; the script still ended
			// cleanly and said where it stopped.
			return res, fmt.Errorf("apply on %s: %w", t.Addr, err)
		}
		return res, nil
	}
	for _, e := range b.Entries {
		if ctx.Err() != nil {
			emit(remote.EntryReport{Seq: e.Seq, Result: "cancelled"})
			return finish()
		}
		if hook != nil {
			f.mu.Unlock()
			locked = false
			hook(ctx, t.Addr, e.Seq)
			f.mu.Lock()
			locked = true
		}
		switch e.Op {
		case remote.OpFile:
			if ff, ok := h.files[e.Path]; ok && ff.dir {
				emit(remote.EntryReport{Seq: e.Seq, Result: "failed", ExitCode: 1, Output: e.Path + " is a directory\n"})
				return finish()
			}
			owner, group := e.Owner, e.Group
			if owner == "" {
				owner = "root"
			}
			if group == "" {
				group = "root"
			}
			h.files[e.Path] = &fakeFile{content: append([]byte(nil), e.Content...), mode: e.Mode, owner: owner, group: group}
			done(e)
			emit(remote.EntryReport{Seq: e.Seq, Result: "ok"})
		case remote.OpRemove:
			if ff, ok := h.files[e.Path]; ok && ff.dir {
				for p := range h.files {
					if strings.HasPrefix(p, e.Path+"/") {
						emit(remote.EntryReport{Seq: e.Seq, Result: "failed", ExitCode: 1, Output: e.Path + " is a directory that is not empty\n"})
						return finish()
					}
				}
			}
			delete(h.files, e.Path)
			done(e)
			emit(remote.EntryReport{Seq: e.Seq, Result: "ok"})
		case remote.OpExec:
			h.env = b.Env
			if e.Creates != "" {
				if _, ok := h.files[e.Creates]; ok {
					done(e)
					emit(remote.EntryReport{Seq: e.Seq, Result: "skipped", Output: e.Creates + " exists\n"})
					continue
				}
			}
			if e.Unless != "" && h.guard(e.Unless) == 0 {
				done(e)
				emit(remote.EntryReport{Seq: e.Seq, Result: "skipped", Output: "unless-guard succeeded\n"})
				continue
			}
			h.ran = append(h.ran, e.Command)
			rc, out := h.exec(e.Command)
			if rc != 0 {
				emit(remote.EntryReport{Seq: e.Seq, Result: "failed", ExitCode: rc, Output: out})
				return finish()
			}
			done(e)
			emit(remote.EntryReport{Seq: e.Seq, Result: "ok", Output: out})
		case remote.OpReboot:
			if !b.AllowReboot {
				emit(remote.EntryReport{Seq: e.Seq, Result: "reboot-pending"})
				return finish()
			}
			done(e)
			h.reboots++
			emit(remote.EntryReport{Seq: e.Seq, Result: "rebooting"})
			return finish()
		default:
			emit(remote.EntryReport{Seq: e.Seq, Result: "failed", ExitCode: 2})
			return finish()
		}
	}
	return finish()
}

func mustUint(s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic("fake: position " + s)
	}
	return n
}

// guard is an unless-guard's exit status: as configured, else as the
// command would run.
func (h *fakeHost) guard(cmd string) int {
	if code, ok := h.unless[cmd]; ok {
		return code
	}
	if p, ok := strings.CutPrefix(cmd, "test -e "); ok {
		if _, exists := h.files[p]; exists {
			return 0
		}
		return 1
	}
	code, _ := fakeExit(cmd)
	return code
}

// exec runs a command with enough semantics for tests: "touch PATH…"
// creates empty files, "rm -f PATH…" removes them, "echo …" prints,
// "false" fails with 1, "exit N" with N; anything else succeeds.
func (h *fakeHost) exec(cmd string) (int, string) {
	f := strings.Fields(cmd)
	switch {
	case len(f) > 1 && f[0] == "touch":
		for _, p := range f[1:] {
			if _, ok := h.files[p]; !ok {
				h.files[p] = &fakeFile{mode: 0o644, owner: "root", group: "root"}
			}
		}
		return 0, ""
	case len(f) > 2 && f[0] == "rm" && f[1] == "-f":
		for _, p := range f[2:] {
			delete(h.files, p)
		}
		return 0, ""
	case len(f) > 0 && f[0] == "echo":
		return 0, strings.Join(f[1:], " ") + "\n"
	}
	return fakeExit(cmd)
}

func fakeExit(cmd string) (int, string) {
	f := strings.Fields(cmd)
	switch {
	case len(f) == 1 && f[0] == "false":
		return 1, ""
	case len(f) == 2 && f[0] == "exit":
		n, err := strconv.Atoi(f[1])
		if err == nil {
			return n, fmt.Sprintf("exiting %d\n", n)
		}
	}
	return 0, ""
}

// ---------------------------------------------------------------------------
// Test environment: a store in a temp dir, the fake fleet, engines.

type testEnv struct {
	t         testing.TB
	dir       string
	st        store.Store
	fr        *fakeRemote
	classFile string
	eng       *engine.Engine // as alice
	// keys are each operator's signing key, all listed in allowed.
	keys    map[string]ssh.Signer
	allowed string
}

const defaultClass = "DEFAULT:\n    BRANCH = main\n"

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "discoterm.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	v := &testEnv{t: t, dir: dir, st: st, fr: newFakeRemote(), classFile: filepath.Join(dir, "main.cf"),
		keys: map[string]ssh.Signer{}, allowed: filepath.Join(dir, "allowed_signers")}
	v.writeClass(defaultClass)
	v.eng = v.engine("alice")
	return v
}

// engine returns an engine on the same store and fleet acting as op.
func (v *testEnv) engine(op string, mods ...func(*engine.Options)) *engine.Engine {
	v.t.Helper()
	o := engine.Options{Store: v.st, Remote: v.fr, Operator: op, ClassFile: v.classFile, HostTimeout: 10 * time.Second,
		Signer: v.key(op), AllowedSigners: v.allowed}
	for _, m := range mods {
		m(&o)
	}
	e, err := engine.New(o)
	if err != nil {
		v.t.Fatal(err)
	}
	return e
}

// key returns op's signing key, creating it and listing it in the
// allowed_signers file on first use.
func (v *testEnv) key(op string) ssh.Signer {
	v.t.Helper()
	if k, ok := v.keys[op]; ok {
		return k
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		v.t.Fatal(err)
	}
	k, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		v.t.Fatal(err)
	}
	f, err := os.OpenFile(v.allowed, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		v.t.Fatal(err)
	}
	fmt.Fprintf(f, "%s %s", op, ssh.MarshalAuthorizedKey(k.PublicKey()))
	f.Close()
	v.keys[op] = k
	return k
}

func (v *testEnv) writeClass(text string) {
	v.t.Helper()
	if err := os.WriteFile(v.classFile, []byte(text), 0o644); err != nil {
		v.t.Fatal(err)
	}
}

// addHost creates a fake host and adds it to the engine.
func (v *testEnv) addHost(addr, name string) engine.HostView {
	v.t.Helper()
	v.fr.add(addr, name)
	hv, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: addr})
	if err != nil {
		v.t.Fatalf("AddHost %s: %v", addr, err)
	}
	return hv
}

// addHosts adds n hosts named prefix01… at 10.0.0.1….
func (v *testEnv) addHosts(prefix string, n int) []string {
	v.t.Helper()
	var addrs []string
	for i := 1; i <= n; i++ {
		addr := fmt.Sprintf("10.0.0.%d", i)
		v.addHost(addr, fmt.Sprintf("%s%02d", prefix, i))
		addrs = append(addrs, addr)
	}
	return addrs
}

func (v *testEnv) lock(branch string) {
	v.t.Helper()
	if err := v.eng.Lock(branch, "test change"); err != nil {
		v.t.Fatal(err)
	}
}

func (v *testEnv) stage(branch string, reqs ...engine.StageRequest) {
	v.t.Helper()
	for _, r := range reqs {
		if _, err := v.eng.Stage(branch, r); err != nil {
			v.t.Fatalf("stage %s %s: %v", r.Kind, r.Path+r.Command, err)
		}
	}
}

func (v *testEnv) plan(req engine.PlanRequest) *engine.Plan {
	v.t.Helper()
	p, err := v.eng.Plan(context.Background(), req)
	if err != nil {
		v.t.Fatalf("plan: %v", err)
	}
	return p
}

func (v *testEnv) approve(p *engine.Plan) *engine.Plan {
	v.t.Helper()
	p, err := v.eng.Approve(p.ID, false)
	if err != nil {
		v.t.Fatalf("approve: %v", err)
	}
	return p
}

// commit locks main, stages reqs, plans, approves: the entries are in the
// journal, not yet on any host. It returns the approved plan.
func (v *testEnv) commit(branch string, reqs ...engine.StageRequest) *engine.Plan {
	v.t.Helper()
	v.lock(branch)
	v.stage(branch, reqs...)
	return v.approve(v.plan(engine.PlanRequest{Branch: branch}))
}

// push pushes a plan and fails on error.
func (v *testEnv) push(p *engine.Plan, opts engine.PushOptions) *engine.PushResult {
	v.t.Helper()
	r, err := v.eng.Push(context.Background(), p.ID, opts)
	if err != nil {
		v.t.Fatalf("push: %v\n%+v", err, r)
	}
	return r
}

func (v *testEnv) journal(branch string) []journal.Entry {
	v.t.Helper()
	jv, err := v.eng.Log(branch)
	if err != nil {
		v.t.Fatal(err)
	}
	return jv.Entries
}

func (v *testEnv) hostView(name string) engine.HostView {
	v.t.Helper()
	hs, err := v.eng.Hosts(context.Background())
	if err != nil {
		v.t.Fatal(err)
	}
	for _, h := range hs {
		if h.Name == name {
			return h
		}
	}
	v.t.Fatalf("no host %s in %+v", name, hs)
	return engine.HostView{}
}

func fileReq(path, content string) engine.StageRequest {
	return engine.StageRequest{Kind: journal.KindFile, Path: path, Content: []byte(content)}
}

func tmplReq(path, content string) engine.StageRequest {
	return engine.StageRequest{Kind: journal.KindTemplate, Path: path, Content: []byte(content)}
}

func execReq(cmd string, g journal.Guard) engine.StageRequest {
	return engine.StageRequest{Kind: journal.KindExec, Command: cmd, Guard: g}
}

func rebootReq() engine.StageRequest { return engine.StageRequest{Kind: journal.KindReboot} }

// hostPlan finds a host's plan by name.
func hostPlan(t testing.TB, p *engine.Plan, name string) engine.HostPlan {
	t.Helper()
	for _, hp := range p.Hosts {
		if hp.Name == name {
			return hp
		}
	}
	t.Fatalf("plan has no host %s", name)
	return engine.HostPlan{}
}

func hostPush(t testing.TB, r *engine.PushResult, name string) engine.HostPush {
	t.Helper()
	for _, hp := range r.Hosts {
		if hp.Name == name {
			return hp
		}
	}
	t.Fatalf("push has no host %s", name)
	return engine.HostPush{}
}

func wantContains(t testing.TB, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(got, s) {
			t.Errorf("%s = %q\nwant it to contain %q", what, got, s)
		}
	}
}

// TestFakeRemoteFollowsApplyScript pins the fake to the shell semantics the
// engine relies on, so a test passing against the fake means something.
func TestFakeRemoteFollowsApplyScript(t *testing.T) {
	fr := newFakeRemote()
	fr.add("h", "h")
	tg := remote.Target{Addr: "h"}
	ctx := context.Background()
	h1, h2, h3 := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)
	b := &remote.Bundle{Branch: "main", Entries: []remote.BundleEntry{
		{Seq: 1, Hash: h1, Op: remote.OpFile, Path: "/etc/a", Content: []byte("a\n"), Mode: 0o600},
		{Seq: 2, Hash: h2, Op: remote.OpExec, Command: "exit 4"},
		{Seq: 3, Hash: h3, Op: remote.OpFile, Path: "/etc/b", Content: []byte("b\n"), Mode: 0o644},
	}}
	res, err := fr.Apply(ctx, tg, b, nil)
	if err != nil || res.Stale != "" {
		t.Fatalf("apply: %v %+v", err, res)
	}
	if res.Position != 1 || res.Hash != h1 || len(res.Entries) != 2 || res.Entries[1].ExitCode != 4 {
		t.Errorf("stops at the failing entry with the previous position: %+v", res)
	}
	if _, ok := fr.file("h", "/etc/b"); ok {
		t.Error("entry after a failure was applied")
	}
	if st := fr.stateOf("h"); st.Branch != "main" || st.Position != 1 || st.Hash != h1 || len(st.Applied) != 1 {
		t.Errorf("state = %+v", st)
	}
	// The same bundle again is stale: the host moved.
	before := fr.snapshot("h")
	res, _ = fr.Apply(ctx, tg, b, nil)
	wantContains(t, "stale", res.Stale, "position 1, the plan expected 0")
	if fr.snapshot("h") != before {
		t.Error("a stale apply changed the host")
	}
	// A path that appeared is stale too.
	b2 := &remote.Bundle{Branch: "main", ExpectBranch: "main", ExpectPosition: 1, ExpectHash: h1,
		ExpectPaths: []remote.PathInfo{{Path: "/etc/a", Exists: true, Type: "file", Hash: shaHex([]byte("a\n")), Mode: 0o600, Owner: "root", Group: "root"}, {Path: "/etc/new"}}}
	fr.setFile("h", "/etc/new", "x", 0o644, "root", "root")
	res, _ = fr.Apply(ctx, tg, b2, nil)
	wantContains(t, "stale", res.Stale, "/etc/new appeared")
	fr.with("h", func(h *fakeHost) { delete(h.files, "/etc/new") })
	res, _ = fr.Apply(ctx, tg, b2, nil)
	if res.Stale != "" {
		t.Errorf("matching fingerprint refused: %s", res.Stale)
	}
	// Probe sees the same state text through remote.ParseState.
	pr, err := fr.Probe(ctx, tg, remote.ProbeRequest{Paths: []string{"/etc/a", "/etc/none"}})
	if err != nil || pr.StateErr != "" || pr.State.Position != 1 || !pr.Paths["/etc/a"].Exists || pr.Paths["/etc/none"].Exists {
		t.Errorf("probe = %+v, %v", pr, err)
	}
}

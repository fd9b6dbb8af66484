package kinds_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/engine/remote"
)

// shRunner runs host programs with the machine's sh: the programs only
// touch the absolute paths they are given, so the test aims them at a
// temporary directory.
type shRunner struct{}

func (shRunner) Run(ctx context.Context, _ remote.Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// roundTrip is one kind's case: a staging verb's input, and what the
// entry must have done on a host once applied.
type roundTrip struct {
	args   func(dir string) []string
	flags  func(dir string) map[string]string
	before func(t *testing.T, dir string) // the host before the plan
	effect kinds.Effect                   // what the plan predicts
	after  func(t *testing.T, dir string) // the host after the push
	result string                         // the entry's result on the host
}

// cases must name every registered kind: adding a kind without its round
// trip fails TestEveryKindIsComplete.
var cases = map[journal.Kind]roundTrip{
	journal.KindFile: {
		args:   func(dir string) []string { return []string{filepath.Join(dir, "src", "motd")} },
		flags:  func(dir string) map[string]string { return map[string]string{"to": filepath.Join(dir, "etc", "motd")} },
		before: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "etc", "motd"), "old\n", 0o644) },
		effect: kinds.EffectModify,
		after: func(t *testing.T, dir string) {
			wantFile(t, filepath.Join(dir, "etc", "motd"), "hello {{.NTP}}\n", 0o750)
		},
		result: "ok",
	},
	journal.KindTemplate: {
		args: func(dir string) []string { return []string{filepath.Join(dir, "src", "motd")} },
		flags: func(dir string) map[string]string {
			return map[string]string{"to": filepath.Join(dir, "etc", "ntp"), "mode": "600"}
		},
		effect: kinds.EffectCreate,
		after:  func(t *testing.T, dir string) { wantFile(t, filepath.Join(dir, "etc", "ntp"), "hello ntp1\n", 0o600) },
		result: "ok",
	},
	journal.KindExec: {
		args: func(dir string) []string { return []string{"printf", "%s", `"$NTP"`, ">", filepath.Join(dir, "ran")} },
		flags: func(dir string) map[string]string {
			return map[string]string{"creates": filepath.Join(dir, "ran"), "unless": `[ "$NTP" = other ]`}
		},
		effect: kinds.EffectRun,
		after:  func(t *testing.T, dir string) { wantFile(t, filepath.Join(dir, "ran"), "ntp1", 0o644) },
		result: "ok",
	},
	journal.KindRemove: {
		args:   func(dir string) []string { return []string{filepath.Join(dir, "old.conf")} },
		before: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "old.conf"), "bye\n", 0o644) },
		effect: kinds.EffectDelete,
		after: func(t *testing.T, dir string) {
			if _, err := os.Lstat(filepath.Join(dir, "old.conf")); err == nil {
				t.Error("old.conf is still there")
			}
		},
		result: "ok",
	},
	journal.KindReboot: {
		effect: kinds.EffectReboot,
		after:  func(*testing.T, string) {},
		result: "reboot-pending",
	},
}

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func wantFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != content || fi.Mode().Perm() != mode {
		t.Errorf("%s = %q %o, want %q %o", p, b, fi.Mode().Perm(), content, mode)
	}
}

// TestEveryKindIsComplete goes once around the loop for every registered
// kind: its verb parses input into a request, staging checks it, the
// journal accepts the sealed entry, the probe reads what it needs from a
// real sh host, the simulation predicts the effect, the host program
// applies it, and it prints.
func TestEveryKindIsComplete(t *testing.T) {
	all := kinds.All()
	if len(all) < 5 {
		t.Fatalf("only %d kinds registered", len(all))
	}
	verbs := map[string]bool{}
	for _, k := range all {
		t.Run(string(k.Name()), func(t *testing.T) {
			tc, ok := cases[k.Name()]
			if !ok {
				t.Fatalf("kind %s has no round-trip case in this test: add one", k.Name())
			}
			if !k.Name().Valid() {
				t.Error("the journal does not know the kind")
			}
			sp := k.Spec()
			if sp.Verb == "" || sp.Help == "" || verbs[sp.Verb] {
				t.Errorf("spec %+v: a verb (unique) and help are needed", sp)
			}
			verbs[sp.Verb] = true
			if got, ok := kinds.ForVerb(sp.Verb); !ok || got.Name() != k.Name() {
				t.Errorf("ForVerb(%s) = %v", sp.Verb, got)
			}
			for _, f := range sp.Flags {
				if f.Name == "" || f.Help == "" || !f.Bool && f.Value == "" {
					t.Errorf("flag %+v incomplete", f)
				}
			}
			dir := t.TempDir()
			write(t, filepath.Join(dir, "src", "motd"), "hello {{.NTP}}\n", 0o750)
			if tc.before != nil {
				tc.before(t, dir)
			}
			in := kinds.Input{Flags: map[string]string{}, ReadFile: func(p string) ([]byte, uint32, error) {
				fi, err := os.Stat(p)
				if err != nil {
					return nil, 0, err
				}
				b, err := os.ReadFile(p)
				return b, uint32(fi.Mode().Perm()), err
			}}
			if tc.args != nil {
				in.Args = tc.args(dir)
			}
			if tc.flags != nil {
				in.Flags = tc.flags(dir)
			}
			if len(in.Args) < sp.MinArgs || sp.MaxArgs >= 0 && len(in.Args) > sp.MaxArgs {
				t.Fatalf("case args %q do not fit the spec %d..%d", in.Args, sp.MinArgs, sp.MaxArgs)
			}
			req, err := k.Request(in)
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if req.Kind != k.Name() {
				t.Errorf("Request kind %q", req.Kind)
			}
			me, _ := user.Current()
			grp, _ := user.LookupGroupId(me.Gid)
			if k.Content() != kinds.ContentNone {
				req.Owner, req.Group = me.Username, grp.Name
			}
			staged, err := k.Stage(req)
			if err != nil {
				t.Fatalf("Stage: %v", err)
			}
			if k.Content() != kinds.ContentNone {
				staged.Blob = kinds.Sum(req.Content)
			}
			staged.Author, staged.Message = "t", "round trip"
			en := journal.Seal(nil, staged)
			if err := en.Validate(); err != nil {
				t.Fatalf("the journal refuses the staged entry: %v", err)
			}
			if err := journal.Verify("main", []journal.Entry{en}, en.Hash); err != nil {
				t.Fatal(err)
			}
			if en.Summary() == "" || en.Summary() != k.Summary(en) {
				t.Errorf("summary %q", en.Summary())
			}
			_ = kinds.Details(en)

			// Plan: probe what it needs on the (local) host, render, fetch, simulate.
			env := map[string]string{"NTP": "ntp1"}
			steps := &remote.Steps{R: shRunner{}}
			need := k.Needs(en)
			sd := filepath.Join(dir, "var", "lib", "discoterm")
			res, err := steps.Probe(context.Background(), remote.Target{}, remote.ProbeRequest{StateDir: sd, Paths: need.Paths})
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			var want []byte
			if k.Content() != kinds.ContentNone {
				if want, err = k.Render(en, req.Content, env); err != nil {
					t.Fatalf("Render: %v", err)
				}
			}
			old := map[string][]byte{}
			if en.Path != "" && k.Fetch(en, want, res.Paths[en.Path]) {
				if old, err = steps.Fetch(context.Background(), remote.Target{}, []string{en.Path}); err != nil {
					t.Fatal(err)
				}
			}
			c := k.Simulate(en, want, kinds.NewHost(res, old))
			if c.Effect != tc.effect {
				t.Errorf("plan effect %q (%+v), want %q", c.Effect, c, tc.effect)
			}
			if (c.Effect == kinds.EffectModify || c.Effect == kinds.EffectDelete) && c.Diff == "" {
				t.Errorf("a %s change without its diff: %+v", c.Effect, c)
			}

			// Push: the host program applies the operation.
			be := k.Op(en, want)
			be.Seq, be.Hash = en.Seq, en.Hash
			ar, err := steps.Apply(context.Background(), remote.Target{}, &remote.Bundle{StateDir: sd, Branch: "main", Env: env, Entries: []remote.BundleEntry{be}}, nil)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if len(ar.Entries) != 1 || ar.Entries[0].Result != tc.result {
				t.Fatalf("apply result %+v, want %s", ar.Entries, tc.result)
			}
			tc.after(t, dir)
			if tc.result == "ok" && ar.Position != 1 {
				t.Errorf("position %d after the entry", ar.Position)
			}
		})
	}
}

func TestStageRefusesWhatCannotBeData(t *testing.T) {
	file, _ := kinds.Lookup(journal.KindFile)
	ex, _ := kinds.Lookup(journal.KindExec)
	rm, _ := kinds.Lookup(journal.KindRemove)
	for _, c := range []struct {
		k    kinds.Kind
		req  kinds.Request
		want string
	}{
		{file, kinds.Request{Kind: journal.KindFile, Path: "/etc/a\nb"}, "NUL or newline"},
		{file, kinds.Request{Kind: journal.KindFile, Path: "/etc/a", Owner: "$(id)"}, "not a user or group name"},
		{file, kinds.Request{Kind: journal.KindFile, Path: "/etc/a", Owner: "-R"}, "not starting with '-'"},
		{file, kinds.Request{Kind: journal.KindFile, Path: "/etc/a", Group: "a b"}, "not a user or group name"},
		{file, kinds.Request{Kind: journal.KindFile, Path: "relative"}, "relative"},
		{ex, kinds.Request{Kind: journal.KindExec, Command: "a\x00b"}, "NUL"},
		{ex, kinds.Request{Kind: journal.KindExec, Command: "x", Guard: journal.Guard{Unless: "a\x00"}}, "NUL"},
		{ex, kinds.Request{Kind: journal.KindExec, Command: "x", Guard: journal.Guard{Creates: "tmp/x"}}, "--creates"},
		{ex, kinds.Request{Kind: journal.KindExec, Command: "  "}, "needs a command"},
		{rm, kinds.Request{Kind: journal.KindRemove, Path: "/proc/x"}, "kernel filesystem"},
		{rm, kinds.Request{Kind: journal.KindRemove, Path: "/"}, "not a clean"},
	} {
		if _, err := c.k.Stage(c.req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v, want %q", c.k.Name(), c.req, err, c.want)
		}
	}
	for _, ok := range []string{"www-data", "1000", "_apt", "svc.app"} {
		if _, err := file.Stage(kinds.Request{Kind: journal.KindFile, Path: "/etc/a", Owner: ok}); err != nil {
			t.Errorf("owner %q refused: %v", ok, err)
		}
	}
}

func TestSnapKeepsTheLocalMode(t *testing.T) {
	file, _ := kinds.Lookup(journal.KindFile)
	read := func(string) ([]byte, uint32, error) { return []byte("#!/bin/sh\n"), 0o755, nil }
	req, err := file.Request(kinds.Input{Args: []string{"x.sh"}, Flags: map[string]string{"to": "/usr/local/bin/x"}, ReadFile: read})
	if err != nil || req.Mode != 0o755 {
		t.Errorf("snap without --mode: mode %o, %v", req.Mode, err)
	}
	req, err = file.Request(kinds.Input{Args: []string{"x.sh"}, Flags: map[string]string{"to": "/x", "mode": "0640", "owner": "www-data:adm"}, ReadFile: read})
	if err != nil || req.Mode != 0o640 || req.Owner != "www-data" || req.Group != "adm" {
		t.Errorf("snap --mode 0640 --owner www-data:adm: %+v, %v", req, err)
	}
	if _, err := file.Request(kinds.Input{Args: []string{"x"}, Flags: map[string]string{"to": "/x", "mode": "999"}, ReadFile: read}); err == nil {
		t.Error("bad --mode accepted")
	}
}

func TestRemovePlansAbsentAndDirectories(t *testing.T) {
	rm, _ := kinds.Lookup(journal.KindRemove)
	en := journal.Entry{Kind: journal.KindRemove, Path: "/etc/x"}
	h := kinds.NewHost(&remote.ProbeResult{Paths: map[string]remote.PathInfo{"/etc/x": {Path: "/etc/x"}}}, nil)
	if c := rm.Simulate(en, nil, h); c.Effect != kinds.EffectUnchanged || c.Note != "absent already" {
		t.Errorf("absent: %+v", c)
	}
	h = kinds.NewHost(&remote.ProbeResult{Paths: map[string]remote.PathInfo{"/etc/x": {Path: "/etc/x", Exists: true, Type: "dir", Mode: 0o755}}}, nil)
	c := rm.Simulate(en, nil, h)
	if c.Effect != kinds.EffectDelete || !strings.Contains(c.Note, "only if it is empty") {
		t.Errorf("dir: %+v", c)
	}
	// A second remove of the same path in one replay finds it gone.
	if c := rm.Simulate(en, nil, h); c.Effect != kinds.EffectUnchanged {
		t.Errorf("after removal: %+v", c)
	}
}

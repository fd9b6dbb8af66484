package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// localRunner runs step scripts with the machine's own sh: the scripts only
// touch the absolute paths they are given, so tests aim them at a temp dir.
type localRunner struct {
	started chan *os.Process // optional: receives the shell's process
}

func (l localRunner) Run(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c := exec.Command("sh", "-c", cmd)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	if err := c.Start(); err != nil {
		return -1, err
	}
	if l.started != nil {
		l.started <- c.Process
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return exitCode(err)
	case <-ctx.Done():
		_ = c.Process.Signal(syscall.SIGTERM)
		err := <-done
		code, _ := exitCode(err)
		return code, ctx.Err()
	}
}

func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), nil
	}
	return -1, err
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func me(t *testing.T) (string, string) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return u.Username, g.Name
}

func TestProbeReportsPathsStateAndGuards(t *testing.T) {
	dir := t.TempDir()
	sd := filepath.Join(dir, "state")
	f1 := filepath.Join(dir, "a file with 'quotes'")
	must(t, os.WriteFile(f1, []byte("hello\n"), 0o640))
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	must(t, os.Symlink("/nonexistent", filepath.Join(dir, "link")))
	st := &Steps{R: localRunner{}}
	req := ProbeRequest{StateDir: sd, Paths: []string{f1, filepath.Join(dir, "missing"), filepath.Join(dir, "d"), filepath.Join(dir, "link")}}
	res, err := st.Probe(context.Background(), Target{Addr: "local"}, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.State.Present {
		t.Errorf("state should be absent, got %+v", res.State)
	}
	owner, group := me(t)
	got := res.Paths[f1]
	if !got.Exists || got.Type != "file" || got.Hash != sum([]byte("hello\n")) || got.Mode != 0o640 || got.Owner != owner || got.Group != group || got.Size != 6 {
		t.Errorf("file info = %+v", got)
	}
	if res.Paths[filepath.Join(dir, "missing")].Exists {
		t.Error("missing path reported as existing")
	}
	if res.Paths[filepath.Join(dir, "d")].Type != "dir" || res.Paths[filepath.Join(dir, "link")].Type != "symlink" {
		t.Errorf("types: %+v", res.Paths)
	}
	if text, _ := probeProgram(req); strings.Contains(text, "\nguard ") || strings.Contains(text, "\nrunenv ") {
		t.Error("the probe runs something: guards run only in the sandbox")
	}
	if res.Facts.Hostname == "" {
		t.Error("no hostname fact")
	}
	data, err := st.Fetch(context.Background(), Target{Addr: "local"}, []string{f1, filepath.Join(dir, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if string(data[f1]) != "hello\n" || len(data) != 1 {
		t.Errorf("fetch = %q", data)
	}
}

func TestProbeCorruptStateFile(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "state"), []byte("# discoterm state v1\nbranch main\nposition banana\n"), 0o600))
	res, err := (&Steps{R: localRunner{}}).Probe(context.Background(), Target{}, ProbeRequest{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.StateErr, `line 3: position "banana" is not a number`) {
		t.Errorf("StateErr = %q", res.StateErr)
	}
}

type fixture struct {
	dir, sd string
	st      *Steps
	owner   string
	group   string
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	o, g := me(t)
	return &fixture{dir: dir, sd: filepath.Join(dir, "var", "lib", "discoterm"), st: &Steps{R: localRunner{}}, owner: o, group: g}
}

func (f *fixture) file(seq uint64, name, content string) BundleEntry {
	return BundleEntry{Seq: seq, Hash: sum([]byte(name + content)), Op: OpFile, Path: filepath.Join(f.dir, name),
		Content: []byte(content), Mode: 0o644, Owner: f.owner, Group: f.group}
}

func (f *fixture) apply(t *testing.T, b *Bundle) *ApplyResult {
	t.Helper()
	b.StateDir = f.sd
	if b.Branch == "" {
		b.Branch = "main"
	}
	res, err := f.st.Apply(context.Background(), Target{Addr: "local"}, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) state(t *testing.T) StateFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.sd, StateFileName))
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseState(string(b))
	if err != nil {
		t.Fatalf("state file does not parse: %v\n%s", err, b)
	}
	return st
}

func TestApplyWritesFilesAndAdvancesState(t *testing.T) {
	f := newFixture(t)
	e1 := f.file(1, "etc/motd", "welcome\n")
	e2 := BundleEntry{Seq: 2, Hash: sum([]byte("2")), Op: OpExec, Command: "echo ran > " + filepath.Join(f.dir, "ran") + "; echo out"}
	e3 := BundleEntry{Seq: 3, Hash: sum([]byte("3")), Op: OpExec, Command: "echo never > " + filepath.Join(f.dir, "never"), Creates: filepath.Join(f.dir, "ran")}
	e4 := BundleEntry{Seq: 4, Hash: sum([]byte("4")), Op: OpExec, Command: "false", Unless: "true"}
	e5 := f.file(5, "bin/bin", "\x00\x01\xff")
	res := f.apply(t, &Bundle{Entries: []BundleEntry{e1, e2, e3, e4, e5}})
	if res.Stale != "" || res.Position != 5 || res.Hash != e5.Hash {
		t.Fatalf("result = %+v", res)
	}
	want := []string{"ok", "ok", "skipped", "skipped", "ok"}
	for i, r := range res.Entries {
		if r.Result != want[i] || r.Seq != uint64(i+1) {
			t.Errorf("entry %d = %+v, want %s", i+1, r, want[i])
		}
	}
	if res.Entries[1].Output != "out\n" {
		t.Errorf("exec output = %q", res.Entries[1].Output)
	}
	b, _ := os.ReadFile(e1.Path)
	if string(b) != "welcome\n" {
		t.Errorf("motd = %q", b)
	}
	if b, _ := os.ReadFile(e5.Path); string(b) != "\x00\x01\xff" {
		t.Errorf("binary = %q", b)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "never")); err == nil {
		t.Error("guarded command ran")
	}
	st := f.state(t)
	if st.Branch != "main" || st.Position != 5 || st.Hash != e5.Hash || len(st.Applied) != 5 {
		t.Errorf("state = %+v", st)
	}
	// No temporary files left behind anywhere.
	_ = filepath.Walk(f.dir, func(p string, info os.FileInfo, err error) error {
		if strings.Contains(filepath.Base(p), ".discoterm.") || strings.HasPrefix(filepath.Base(p), ".state.") || strings.HasPrefix(filepath.Base(p), ".out.") || filepath.Base(p) == ".lock" {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

func TestApplyStopsAtFirstFailure(t *testing.T) {
	f := newFixture(t)
	e1 := f.file(1, "a", "a\n")
	e2 := BundleEntry{Seq: 2, Hash: sum([]byte("2")), Op: OpExec, Command: "echo broken >&2; exit 4"}
	e3 := f.file(3, "c", "c\n")
	res := f.apply(t, &Bundle{Entries: []BundleEntry{e1, e2, e3}})
	if res.Position != 1 || len(res.Entries) != 2 || res.Entries[1].Result != "failed" || res.Entries[1].ExitCode != 4 || res.Entries[1].Output != "broken\n" {
		t.Fatalf("result = %+v", res)
	}
	if _, err := os.Stat(e3.Path); err == nil {
		t.Error("entry after the failure was applied")
	}
	if st := f.state(t); st.Position != 1 || st.Hash != e1.Hash {
		t.Errorf("state = %+v", st)
	}
}

func TestApplyRefusesStaleHost(t *testing.T) {
	f := newFixture(t)
	e1 := f.file(1, "a", "a\n")
	f.apply(t, &Bundle{Entries: []BundleEntry{e1}})
	// A plan computed at position 0 is stale now.
	e2 := f.file(2, "b", "b\n")
	res := f.apply(t, &Bundle{Entries: []BundleEntry{e2}})
	if !strings.Contains(res.Stale, "position 1") {
		t.Fatalf("stale = %q", res.Stale)
	}
	if _, err := os.Stat(e2.Path); err == nil {
		t.Error("stale push changed the host")
	}
	// A path that changed since the plan.
	must(t, os.WriteFile(filepath.Join(f.dir, "b"), []byte("local edit\n"), 0o644))
	res = f.apply(t, &Bundle{ExpectBranch: "main", ExpectPosition: 1, ExpectHash: e1.Hash,
		ExpectPaths: []PathInfo{{Path: filepath.Join(f.dir, "b"), Exists: false}}, Entries: []BundleEntry{e2}})
	if !strings.Contains(res.Stale, "appeared") {
		t.Fatalf("stale = %q", res.Stale)
	}
	res = f.apply(t, &Bundle{ExpectBranch: "main", ExpectPosition: 1, ExpectHash: e1.Hash,
		ExpectPaths: []PathInfo{{Path: filepath.Join(f.dir, "b"), Exists: true, Type: "file", Hash: sum([]byte("other\n")), Mode: 0o644, Owner: f.owner, Group: f.group}}, Entries: []BundleEntry{e2}})
	if !strings.Contains(res.Stale, "changed since") {
		t.Fatalf("stale = %q", res.Stale)
	}
	// Another branch.
	res = f.apply(t, &Bundle{Branch: "web", ExpectBranch: "web", ExpectPosition: 1, ExpectHash: e1.Hash, Entries: []BundleEntry{e2}})
	if !strings.Contains(res.Stale, "branch main") {
		t.Fatalf("stale = %q", res.Stale)
	}
}

func TestApplyRebootGating(t *testing.T) {
	f := newFixture(t)
	marker := filepath.Join(f.dir, "rebooted")
	e1 := f.file(1, "a", "a\n")
	e2 := BundleEntry{Seq: 2, Hash: sum([]byte("r")), Op: OpReboot}
	e3 := f.file(3, "c", "c\n")
	res := f.apply(t, &Bundle{Entries: []BundleEntry{e1, e2, e3}, RebootCommand: "touch " + marker})
	if res.Position != 1 || res.Entries[1].Result != "reboot-pending" {
		t.Fatalf("without allow: %+v", res)
	}
	res = f.apply(t, &Bundle{ExpectBranch: "main", ExpectPosition: 1, ExpectHash: e1.Hash, Entries: []BundleEntry{e2, e3}, AllowReboot: true, RebootCommand: "touch " + marker})
	if res.Position != 2 || res.Entries[0].Result != "rebooting" || len(res.Entries) != 1 {
		t.Fatalf("with allow: %+v", res)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reboot command never ran")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestApplyCancelFinishesCurrentEntry(t *testing.T) {
	f := newFixture(t)
	started := make(chan *os.Process, 1)
	f.st = &Steps{R: localRunner{started: started}}
	flag := filepath.Join(f.dir, "slow-started")
	e1 := BundleEntry{Seq: 1, Hash: sum([]byte("1")), Op: OpExec, Command: "touch " + flag + "; sleep 1; echo finished"}
	e2 := f.file(2, "b", "b\n")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(flag); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	res, err := f.st.Apply(ctx, Target{}, &Bundle{StateDir: f.sd, Branch: "main", Entries: []BundleEntry{e1, e2}}, nil)
	if err == nil {
		t.Fatal("want a cancellation error")
	}
	if len(res.Entries) != 2 || res.Entries[0].Result != "ok" || res.Entries[1].Result != "cancelled" {
		t.Fatalf("entries = %+v", res.Entries)
	}
	if st := f.state(t); st.Position != 1 {
		t.Errorf("position = %d, want 1 (the entry in progress finished)", st.Position)
	}
	if _, err := os.Stat(e2.Path); err == nil {
		t.Error("entry after cancellation was applied")
	}
}

func TestParseStateErrors(t *testing.T) {
	h := strings.Repeat("a", 64)
	cases := []struct{ in, want string }{
		{"garbage", "line 1: expected"},
		{"# discoterm state v1\nbranch main\n", "missing branch or position"},
		{"# discoterm state v1\nbranch main\nposition 2\n", "without the hash"},
		{"# discoterm state v1\nbranch main\nposition 1\nhash xyz\n", `line 4: hash "xyz"`},
		{"# discoterm state v1\nbranch main\nbranch x\nposition 0\n", "line 3: branch given twice"},
		{"# discoterm state v1\nbranch main\nposition 1\nhash " + h + "\napplied 1\n", "line 5: applied line needs"},
		{"# discoterm state v1\nbranch main\nposition 0\nwat 1\n", `line 4: unknown key "wat"`},
	}
	for _, c := range cases {
		_, err := ParseState(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseState(%q) = %v, want %q", c.in, err, c.want)
		}
	}
	st, err := ParseState("# discoterm state v1\nbranch main\nposition 1\nhash " + h + "\napplied 1 " + h + " 1700000000 12 ok\n")
	if err != nil || st.Position != 1 || len(st.Applied) != 1 || st.Applied[0].Duration != 120*time.Millisecond {
		t.Errorf("good state: %+v %v", st, err)
	}
}

func FuzzParseState(f *testing.F) {
	f.Add("# discoterm state v1\nbranch main\nposition 0\n")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseState(s) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestApplyModesAndOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to other users needs root")
	}
	f := newFixture(t)
	cases := []struct {
		mode         uint32
		owner, group string
	}{
		{0o644, "root", "root"}, {0o600, "root", "root"}, {0o755, "root", "root"}, {0o4750, "root", "root"},
		{0o640, "nobody", "nogroup"}, {0o000, "root", "root"},
	}
	var entries []BundleEntry
	for i, c := range cases {
		e := f.file(uint64(i+1), fmt.Sprintf("m%d", i), "x\n")
		e.Mode, e.Owner, e.Group = c.mode, c.owner, c.group
		entries = append(entries, e)
	}
	res := f.apply(t, &Bundle{Entries: entries})
	if res.Position != uint64(len(cases)) {
		t.Fatalf("result = %+v", res)
	}
	for i, c := range cases {
		out, err := exec.Command("stat", "-c", "%a %U %G", entries[i].Path).Output()
		want := fmt.Sprintf("%o %s %s", c.mode, c.owner, c.group)
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("%s: stat = %q %v, want %q", entries[i].Path, out, err, want)
		}
	}
}

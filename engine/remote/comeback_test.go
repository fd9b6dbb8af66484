package remote

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freshLocal is a localRunner that also "opens a fresh connection" (it
// runs the command the same way): the host side is what is tested here.
type freshLocal struct{ localRunner }

func (l freshLocal) RunFresh(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return l.Run(ctx, t, cmd, stdin, stdout, stderr)
}

// comebackFixture is a host with three files the push will change: one
// it overwrites (0640), one it removes (0600) and one it creates.
type comebackFixture struct {
	*fixture
	old, gone, made string
	state0          []byte
}

func newComeback(t *testing.T) *comebackFixture {
	f := newFixture(t)
	f.st = &Steps{R: freshLocal{}}
	c := &comebackFixture{fixture: f, old: filepath.Join(f.dir, "etc/app.conf"), gone: filepath.Join(f.dir, "etc/old.conf"), made: filepath.Join(f.dir, "etc/new.conf")}
	// Position 1 first, without --must-come-back.
	res := f.apply(t, &Bundle{Entries: []BundleEntry{f.file(1, "etc/base", "base\n")}})
	if res.Position != 1 {
		t.Fatalf("base push: %+v", res)
	}
	must(t, os.WriteFile(c.old, []byte("port 22\n\x00binary tail"), 0o640))
	must(t, os.Chmod(c.old, 0o640))
	must(t, os.WriteFile(c.gone, []byte("old\n"), 0o600))
	var err error
	c.state0, err = os.ReadFile(filepath.Join(f.sd, StateFileName))
	must(t, err)
	return c
}

func (c *comebackFixture) bundle(d time.Duration) *Bundle {
	st := c.state(nil)
	e2 := c.file(2, "etc/app.conf", "port 2222\n")
	e3 := BundleEntry{Seq: 3, Hash: sum([]byte("3")), Op: OpRemove, Path: c.gone}
	e4 := c.file(4, "etc/new.conf", "new\n")
	return &Bundle{Entries: []BundleEntry{e2, e3, e4}, ComeBack: d, ExpectBranch: "main", ExpectPosition: 1, ExpectHash: st.Hash}
}

func (c *comebackFixture) state(t *testing.T) StateFile {
	b, _ := os.ReadFile(filepath.Join(c.sd, StateFileName))
	st, _ := ParseState(string(b))
	return st
}

// reverted waits until the host has put everything back, or fails.
func (c *comebackFixture) reverted(t *testing.T, within time.Duration) {
	t.Helper()
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		if st := c.state(t); st.Position == 1 {
			if _, err := os.Stat(filepath.Join(c.sd, "comeback")); err == nil {
				if left, _ := filepath.Glob(filepath.Join(c.sd, "comeback", "*.rev")); len(left) == 0 {
					break
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.checkOld(t)
}

// checkOld: every path is as it was before the push, byte for byte with
// its mode, and the state file is the old one.
func (c *comebackFixture) checkOld(t *testing.T) {
	t.Helper()
	for _, w := range []struct {
		path, content string
		mode          os.FileMode
	}{{c.old, "port 22\n\x00binary tail", 0o640}, {c.gone, "old\n", 0o600}} {
		b, err := os.ReadFile(w.path)
		fi, _ := os.Stat(w.path)
		if err != nil || string(b) != w.content || fi.Mode().Perm() != w.mode {
			t.Errorf("%s = %q (%v), want %q %v", w.path, b, fi, w.content, w.mode)
		}
	}
	if _, err := os.Lstat(c.made); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", c.made, err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.sd, StateFileName)); string(b) != string(c.state0) {
		t.Errorf("state file = %q, want the old one %q", b, c.state0)
	}
}

func reverterPid(t *testing.T, c *comebackFixture, token string) int {
	b, err := os.ReadFile(filepath.Join(c.sd, "comeback", token, "pid"))
	if err != nil {
		t.Fatalf("no reverter pid: %v", err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
	return pid
}

// killReverter kills it as a crash would; right after arming it may not
// lead its own group yet.
func killReverter(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestComeBackRevertsByItself(t *testing.T) {
	c := newComeback(t)
	res := c.apply(t, c.bundle(time.Second))
	if !res.Armed || res.Token == "" || res.Position != 4 {
		t.Fatalf("apply: %+v", res)
	}
	if b, _ := os.ReadFile(c.old); string(b) != "port 2222\n" {
		t.Fatalf("the push did not apply: %q", b)
	}
	// What it overwrote is kept, root only, after the push too.
	for _, d := range []string{"saved", "saved/2", "comeback"} {
		if fi, err := os.Stat(filepath.Join(c.sd, d)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want a 0700 directory", d, fi, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(c.sd, "saved/2/0.data")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("saved copy: %v %v, want unreadable to others", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.sd, "saved/3/0.meta")); !strings.HasPrefix(string(b), "file 600 ") {
		t.Errorf("saved meta of the removed file = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(c.sd, "saved/4/0.meta")); string(b) != "absent\n" {
		t.Errorf("saved meta of the created file = %q", b)
	}
	// Nobody confirms: the reverter (alone, after the program ended) puts
	// everything back and the position steps back.
	c.reverted(t, 5*time.Second)
	if _, err := os.Stat(filepath.Join(c.sd, "comeback", res.Token+".reverted")); err != nil {
		t.Errorf("no revert log: %v", err)
	}
	// A late confirm is told so.
	got, err := c.st.Confirm(context.Background(), Target{Addr: "local"}, c.sd, res.Token)
	if err != nil || got != Reverted {
		t.Errorf("late confirm = %q, %v", got, err)
	}
	// The saved copies stay (undo reads them).
	if b, _ := os.ReadFile(filepath.Join(c.sd, "saved/2/0.data")); string(b) != "port 22\n\x00binary tail" {
		t.Errorf("saved copy after the revert = %q", b)
	}
}

func TestComeBackConfirmedStays(t *testing.T) {
	c := newComeback(t)
	res := c.apply(t, c.bundle(time.Second))
	pid := reverterPid(t, c, res.Token)
	// A plan's probe sees the armed revert, and no longer once confirmed.
	probe := func() bool {
		pr, err := c.st.Probe(context.Background(), Target{Addr: "local"}, ProbeRequest{StateDir: c.sd})
		if err != nil {
			t.Fatal(err)
		}
		return pr.Facts.RevertArmed
	}
	if !probe() {
		t.Error("probe does not see the armed revert")
	}
	got, err := c.st.Confirm(context.Background(), Target{Addr: "local"}, c.sd, res.Token)
	if err != nil || got != Confirmed {
		t.Fatalf("confirm = %q, %v", got, err)
	}
	if probe() {
		t.Error("probe sees a revert armed after the confirm")
	}
	// No armed revert is left behind: no record, no reverter process.
	time.Sleep(100 * time.Millisecond)
	if err := syscall.Kill(pid, 0); err == nil {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(b), ") Z") {
			t.Errorf("reverter %d still runs after the confirm", pid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(c.sd, "comeback", "*")); len(left) != 0 {
		t.Errorf("left in comeback/: %v", left)
	}
	time.Sleep(1500 * time.Millisecond)
	if b, _ := os.ReadFile(c.old); string(b) != "port 2222\n" || c.state(t).Position != 4 {
		t.Errorf("after the deadline: %q at %d: a confirmed push was reverted", b, c.state(t).Position)
	}
	if got, _ := c.st.Confirm(context.Background(), Target{Addr: "local"}, c.sd, res.Token); got != NotArmed {
		t.Errorf("second confirm = %q", got)
	}
}

// An armed revert blocks other pushes (its revert would undo theirs);
// one whose reverter died (a crash) is carried out by the next push,
// which is then stale.
func TestComeBackBlocksThenRecovers(t *testing.T) {
	c := newComeback(t)
	res := c.apply(t, c.bundle(30*time.Second))
	next := &Bundle{Entries: []BundleEntry{c.file(5, "etc/other", "x\n")}, ExpectBranch: "main", ExpectPosition: 4, ExpectHash: res.Hash}
	if r := c.apply(t, next); !strings.Contains(r.Stale, "waits for its confirmation") {
		t.Fatalf("push while armed: %+v", r)
	}
	// The reverter dies (the host crashed, say): the record stays armed
	// until its deadline, then the next push reverts it.
	pid := reverterPid(t, c, res.Token)
	killReverter(pid)
	armed := filepath.Join(c.sd, "comeback", res.Token, "armed")
	must(t, os.WriteFile(armed, []byte(strconv.FormatInt(time.Now().Unix()-10, 10)+"\n"), 0o600))
	if r := c.apply(t, next); !strings.Contains(r.Stale, "ran first") {
		t.Fatalf("push after a dead reverter: %+v", r)
	}
	c.checkOld(t)
}

// A revert cut short half way (the host crashed while reverting) is
// finished by the next push: reverting twice is harmless.
func TestComeBackRevertIdempotent(t *testing.T) {
	c := newComeback(t)
	res := c.apply(t, c.bundle(30*time.Second))
	pid := reverterPid(t, c, res.Token)
	killReverter(pid)
	rec := filepath.Join(c.sd, "comeback", res.Token)
	// As the reverter leaves it after its claim and one restore.
	must(t, os.Rename(rec, rec+".rev"))
	must(t, os.WriteFile(c.old, []byte("port 22\n\x00binary tail"), 0o640))
	next := &Bundle{Entries: []BundleEntry{c.file(5, "etc/other", "x\n")}, ExpectBranch: "main", ExpectPosition: 4, ExpectHash: res.Hash}
	if r := c.apply(t, next); !strings.Contains(r.Stale, "ran first") {
		t.Fatalf("push after a cut revert: %+v", r)
	}
	c.checkOld(t)
	// And once more by hand: the reverter finds nothing to do.
	out, err := exec.Command("sh", "-c", "main() {\n"+library([]string{"comeback.sh"})+"sh -c \"$REVERTER\" reverter 0 \"$1\" \"$2\" 0\n}\nmain \"$@\"", "x", c.sd, res.Token).CombinedOutput()
	if err != nil {
		t.Fatalf("reverter again: %v %s", err, out)
	}
	c.checkOld(t)
}

// Nothing changed (every entry already in place, or none applied): no
// revert is armed and no record is left.
func TestComeBackNothingArmed(t *testing.T) {
	c := newComeback(t)
	b := c.bundle(time.Second)
	b.ExpectPosition = 7
	if r := c.apply(t, b); r.Stale == "" || r.Armed {
		t.Fatalf("stale push: %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(c.sd, "comeback", "*")); len(left) != 0 {
		t.Errorf("left in comeback/: %v", left)
	}
}

// An entry that fails: what it and the entries after it would have
// overwrote is the revert's only, not a saved copy undo would read later.
func TestComeBackFailedEntryKeepsNoSavedCopy(t *testing.T) {
	c := newComeback(t)
	b := c.bundle(time.Second)
	fail := BundleEntry{Seq: 3, Hash: sum([]byte("3")), Op: OpExec, Command: "echo half > " + c.made + "; exit 3", SavePaths: []string{c.made}}
	b.Entries = []BundleEntry{b.Entries[0], fail}
	res := c.apply(t, b)
	if !res.Armed || res.Position != 2 {
		t.Fatalf("apply: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(c.sd, "saved/3")); !os.IsNotExist(err) {
		t.Errorf("saved/3 of the failed entry is left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.sd, "saved/2")); err != nil {
		t.Errorf("saved/2 of the applied entry: %v", err)
	}
	// The revert still undoes what the failed command did half way.
	c.reverted(t, 5*time.Second)
}

// A path in a directory another user can change is not read for a saved
// copy: a file entry there is refused before anything changes, and an
// exec's path there is left out of the revert.
func TestComeBackUserDirNotRead(t *testing.T) {
	c := newComeback(t)
	shared := filepath.Join(c.dir, "shared")
	must(t, os.Mkdir(shared, 0o777))
	must(t, os.Chmod(shared, 0o777))
	st := c.state(t)
	b := &Bundle{Entries: []BundleEntry{c.file(2, "shared/x", "x\n")}, ComeBack: time.Second, ExpectBranch: "main", ExpectPosition: 1, ExpectHash: st.Hash}
	res := c.apply(t, b)
	if res.Position != 1 || len(res.Entries) != 1 || res.Entries[0].Result != "failed" || !strings.Contains(res.Entries[0].Output, "can be changed by a user other than root") {
		t.Fatalf("file entry in a user dir: %+v", res)
	}
	if _, err := os.Lstat(filepath.Join(shared, "x")); !os.IsNotExist(err) {
		t.Errorf("x was written: %v", err)
	}
	y := filepath.Join(shared, "y")
	e := BundleEntry{Seq: 2, Hash: sum([]byte("2")), Op: OpExec, Command: "echo y > " + y + "; echo z > " + c.made, SavePaths: []string{y, c.made}}
	res = c.apply(t, &Bundle{Entries: []BundleEntry{e}, ComeBack: time.Second, ExpectBranch: "main", ExpectPosition: 1, ExpectHash: st.Hash})
	if res.Position != 2 || !res.Armed {
		t.Fatalf("exec: %+v", res)
	}
	if m, _ := os.ReadFile(filepath.Join(c.sd, "saved/2/0.path")); string(m) != c.made {
		t.Errorf("saved/2/0.path = %q, want only %s kept", m, c.made)
	}
	end := time.Now().Add(5 * time.Second)
	for c.state(t).Position != 1 && time.Now().Before(end) {
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Lstat(c.made); !os.IsNotExist(err) {
		t.Errorf("%s not reverted: %v", c.made, err)
	}
	if b, _ := os.ReadFile(y); string(b) != "y\n" {
		t.Errorf("%s = %q: the path in a user dir should be left as the command left it", y, b)
	}
}

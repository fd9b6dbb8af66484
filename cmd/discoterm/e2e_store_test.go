package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/store/natstest"
)

// TestBatchLockRace: 100 processes try to lock one branch of one local
// store at once. The store serialises them without "in use" errors:
// exactly one holds the lock, and the other 99 exit 4 naming that holder.
func TestBatchLockRace(t *testing.T) {
	lockRace(t, filepath.Join(t.TempDir(), "store.db"))
}

// TestBatchLockRaceNATS: the same with 100 processes, each its own
// connection, on a NATS store.
func TestBatchLockRaceNATS(t *testing.T) {
	lockRace(t, natstest.Start(t)+"/race")
}

func lockRace(t *testing.T, st string) {
	dir := t.TempDir()
	const n = 100
	type out struct {
		code   int
		stderr string
	}
	res := make([]out, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(binary, "--batch", "--store", st, "--ssh-config", "none",
				"--operator", fmt.Sprintf("op%02d@jump", i), "lock", "main", fmt.Sprintf("change %d", i))
			cmd.Env = append(os.Environ(), "HOME="+dir, "SSH_AUTH_SOCK=")
			var se bytes.Buffer
			cmd.Stderr = &se
			<-start
			err := cmd.Run()
			var ee *exec.ExitError
			switch {
			case err == nil:
			case errors.As(err, &ee):
				res[i].code = ee.ExitCode()
			default:
				res[i].code = -1
			}
			res[i].stderr = se.String()
		}()
	}
	close(start)
	wg.Wait()

	var holders []int
	for i, r := range res {
		if r.code == 0 {
			holders = append(holders, i)
		}
	}
	if len(holders) != 1 {
		t.Fatalf("%d processes got the lock (%v), want exactly 1", len(holders), holders)
	}
	holder := fmt.Sprintf("op%02d@jump", holders[0])
	for i, r := range res {
		if i == holders[0] {
			continue
		}
		if r.code != exitLockHeld || !strings.Contains(r.stderr, "locked by "+holder) {
			t.Errorf("process %d: exit %d, stderr %q; want exit 4 naming %s", i, r.code, r.stderr, holder)
		}
	}
}

// TestBatchNATSUnreachable: a NATS store that is not there is a clear
// error naming the URL, quickly, and nothing is written anywhere (no local
// store is created instead).
func TestBatchNATSUnreachable(t *testing.T) {
	dir := t.TempDir()
	url := "nats://127.0.0.1:1/team"
	cmd := exec.Command(binary, "--batch", "--store", url, "--ssh-config", "none", "lock", "main", "x")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_STATE_HOME="+dir, "SSH_AUTH_SOCK=")
	var se bytes.Buffer
	cmd.Stderr = &se
	start := time.Now()
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Fatalf("exit: %v, want %d; stderr %q", err, exitError, se.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v to give up", took)
	}
	for _, want := range []string{"nats://127.0.0.1:1/team", "cannot connect", "nats-server"} {
		if !strings.Contains(se.String(), want) {
			t.Errorf("stderr %q lacks %q", se.String(), want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written with an unreachable store: %v", ents)
	}
}

// TestBatchStoreMigrate: a local store moved to NATS and back with the
// store verb keeps its lock and audit; a second migrate into the now
// non-empty target is refused; a missing --from is a usage error.
func TestBatchStoreMigrate(t *testing.T) {
	dir := t.TempDir()
	file, back := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	url := natstest.Start(t) + "/team"
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(binary, append([]string{"--batch", "--ssh-config", "none", "--operator", "alice@jump"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_STATE_HOME="+dir, "SSH_AUTH_SOCK=")
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), so.String(), se.String()
		}
		return 0, so.String(), se.String()
	}
	if c, _, se := run("--store", file, "lock", "main", "moving day"); c != 0 {
		t.Fatalf("lock: %d %s", c, se)
	}
	c, so, se := run("store", "migrate", "--from", file, "--to", url)
	if c != 0 || !strings.Contains(so, "every journal verified") {
		t.Fatalf("migrate to NATS: exit %d\n%s%s", c, so, se)
	}
	if c, so, _ := run("--store", url, "--json", "branches"); c != 0 || !strings.Contains(so, "moving day") {
		t.Errorf("the lock on NATS: exit %d %s", c, so)
	}
	if c, so, se := run("store", "migrate", "--from", url, "--to", back); c != 0 {
		t.Fatalf("migrate back: exit %d\n%s%s", c, so, se)
	}
	if c, so, _ := run("--store", back, "audit", "main"); c != 0 || !strings.Contains(so, "moving day") {
		t.Errorf("the audit after the round trip: exit %d %s", c, so)
	}
	if c, _, se := run("store", "migrate", "--from", file, "--to", url); c != exitError || !strings.Contains(se, "is not empty") {
		t.Errorf("migrate into a non-empty store: exit %d %s", c, se)
	}
	if c, _, se := run("store", "migrate", "--from", filepath.Join(dir, "missing.db"), "--to", filepath.Join(dir, "c.db")); c != exitUsage {
		t.Errorf("missing --from: exit %d %s", c, se)
	}
	if _, err := os.Stat(filepath.Join(dir, "discoterm")); err == nil {
		t.Error("the store verb created the default store")
	}
}

// TestTUIFollowsBatchUp: the console is open in tmux on a local store while
// a cron-like `--batch up` commits nothing new but pushes what another
// operator approved: both succeed on the same file at once, and the
// console shows the other process's lock, commit and push as they happen.
func TestTUIFollowsBatchUp(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	s := rg.startTUI(140, 36, "--no-scan", "--theme", "dark")
	s.waitFor("node3")

	// Another operator, another process: lock, stage, plan, approve.
	bob := []string{"--batch", "--operator", "bob@jump2"} // after rg.flags' own --operator
	motd := rg.write("motd", "from bob\n")
	for _, args := range [][]string{{"lock", "main", "motd from bob"}, {"snap", motd, "--to", "/etc/motd"}} {
		if r := rg.run(append(bob, args...)...); r.code != 0 {
			t.Fatalf("%v: %s", args, r)
		}
	}
	s.keys("5")                  // the activity view
	s.waitFor("bob@jump2 (via ") // a local store vouches only for the Unix user
	s.waitFor("locked main: motd from bob")
	s.waitFor("lock bob@jump2") // the status bar names the holder
	r := rg.run(append(bob, "--json", "plan")...)
	if r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	if r := rg.run(append(bob, "approve", planID(t, r))...); r.code != 0 {
		t.Fatalf("approve: %s", r)
	}
	s.waitFor("committed elsewhere")
	// Cron pushes what is committed while the console is open.
	if r := rg.run("--batch", "--operator", "cron@jump", "up", "--yes"); r.code != 0 {
		t.Fatalf("up while the console is open: %s", r)
	}
	s.waitFor("of main pushed")
	s.keys("1")
	sc := s.waitFor("node3")
	for deadline := time.Now().Add(5 * time.Second); strings.Count(sc, " done") < 3; sc = s.screen() {
		if time.Now().After(deadline) {
			t.Fatalf("the hosts view does not show the three hosts done:\n%s", sc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/motd"); got != "from bob\n" {
			t.Errorf("%s /etc/motd = %q", h.Name, got)
		}
	}
	t.Logf("console after the push:\n%s", sc)
	s.keys("q")
}

// TestBatchStoreFromEnv: $DISCOTERM_STORE chooses the store when --store
// is not given, a NATS URL included.
func TestBatchStoreFromEnv(t *testing.T) {
	dir := t.TempDir()
	url := natstest.Start(t) + "/env"
	run := func(env string, args ...string) (int, string) {
		cmd := exec.Command(binary, append([]string{"--batch", "--ssh-config", "none"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_STATE_HOME="+dir, "SSH_AUTH_SOCK=", "DISCOTERM_STORE="+env)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		return 0, string(out)
	}
	if c, out := run(url, "lock", "main", "from the environment"); c != 0 {
		t.Fatalf("lock: %d %s", c, out)
	}
	if c, out := run("", "--store", url, "branches"); c != 0 || !strings.Contains(out, "from the environment") {
		t.Errorf("the lock is not on the NATS store: %d %s", c, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "discoterm", "discoterm.db")); err == nil {
		t.Error("the default file store was created although $DISCOTERM_STORE named NATS")
	}
}

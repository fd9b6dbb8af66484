package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tui is the real binary in a real terminal: a tmux session of fixed size.
type tui struct {
	t       *testing.T
	session string
}

func (rg *rig) startTUI(cols, rows int, extra ...string) *tui {
	rg.t.Helper()
	return rg.startTmux("dt-e2e", "TERM=xterm-256color", "", cols, rows, extra...)
}

// startTmux runs the binary with rg's flags and args in a detached tmux
// session of cols×rows: env is added to its environment and after runs
// when it exits (the pane then stays 30 s for reading).
func (rg *rig) startTmux(prefix, env, after string, cols, rows int, args ...string) *tui {
	rg.t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			rg.t.Fatal("tmux is needed for the terminal tests (apt-get install tmux)")
		}
		rg.t.Skip("tmux not installed")
	}
	var q []string
	for _, a := range append(append([]string{binary}, rg.flags...), args...) {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	s := &tui{t: rg.t, session: fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%100000)}
	cmd := fmt.Sprintf("cd %s && HOME=%s SSH_AUTH_SOCK= %s %s%s; sleep 30", rg.dir, rg.dir, env, strings.Join(q, " "), after)
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", s.session, "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), cmd).CombinedOutput(); err != nil {
		rg.t.Fatalf("tmux: %v %s", err, out)
	}
	rg.t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", s.session).Run() })
	return s
}

func (s *tui) keys(keys ...string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", s.session}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v %s", err, out)
	}
}

// typeText sends literal text (no key-name interpretation).
func (s *tui) typeText(text string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", "send-keys", "-t", s.session, "-l", text).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v %s", err, out)
	}
}

func (s *tui) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", s.session).Output()
	return string(out)
}

func (s *tui) waitFor(text string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sc := s.screen()
		if strings.Contains(sc, text) {
			return sc
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %q; it shows:\n%s", text, sc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTUIWorkflow drives the console with keys through lock → stage →
// plan → approve → push, reading the screen, then checks the hosts' files.
func TestTUIWorkflow(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	motd := rg.write("motd", "typed in the console\n")
	s := rg.startTUI(120, 36, "--no-scan", "--theme", "dark")
	s.waitFor("node3")

	s.keys(":")
	s.typeText("lock main console change")
	s.keys("Enter")
	s.waitFor("console change")

	s.keys(":")
	s.typeText("snap " + motd + " --to /etc/motd")
	s.keys("Enter")
	s.keys("2")
	s.waitFor("/etc/motd")

	s.keys("p")
	sc := s.waitFor("would change")
	if !strings.Contains(sc, "×3") || !strings.Contains(sc, "+typed in the console") {
		t.Fatalf("plan review should show one diff for 3 hosts:\n%s", sc)
	}
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/motd"); got == "typed in the console\n" {
			t.Fatal("the dry-run changed a host")
		}
	}
	s.keys("a")
	s.waitFor("Approve")
	s.keys("y")
	s.waitFor("approved —") // not "not approved" in the plan's title
	s.keys("P")
	s.waitFor("Push")
	s.keys("y")
	s.waitFor("3 done")

	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/motd"); got != "typed in the console\n" {
			t.Errorf("%s /etc/motd = %q", h.Name, got)
		}
		if st := rg.hostState(h); st.Position != 1 {
			t.Errorf("%s position = %d", h.Name, st.Position)
		}
	}
	// The journal now has the entry and every host stands at it.
	s.keys("2")
	sc = s.waitFor("HOSTS HERE")
	if !strings.Contains(sc, "/etc/motd") || !strings.Contains(sc, "node1") {
		t.Errorf("journal view:\n%s", sc)
	}
	s.keys("q")
}

// TestTUIAcceptHostKey: a scanned host whose key is unknown is listed as
// untrusted; T shows its fingerprint, and accepting records it and learns
// the host.
func TestTUIAcceptHostKey(t *testing.T) {
	rg := newRig(t, 1)
	kh := filepath.Join(rg.dir, "known_hosts")
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rg.flags = append(rg.flags, "--known-hosts", kh, "--iface", rg.fleet.Bridge)
	h := rg.fleet.Hosts[0]
	s := rg.startTUI(140, 30)
	s.waitFor("untrusted")
	s.keys("T")
	s.waitFor(h.HostKeyFingerprint())
	s.keys("y")
	s.waitFor(h.Name)
	b, err := os.ReadFile(kh)
	if err != nil || !strings.Contains(string(b), strings.Fields(h.HostKey)[1]) {
		t.Fatalf("known_hosts does not have the accepted key: %q %v", b, err)
	}
	s.keys("q")
	var r result
	for i := 0; i < 50; i++ { // until the console has exited and released the store
		if r = rg.run("--batch", "--json", "hosts"); r.code == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	hs := r.lines(t, "host")
	if len(hs) != 1 || hs[0]["id"] != "mid:"+h.MachineID || hs[0]["trusted"] != true {
		t.Errorf("after accepting: %s", r)
	}
}

// TestTUIExecAsTyped: what is staged is what was typed (issue 13). The
// quoted :exec lines are shown whole at 80×24 before they are staged, and
// `--batch staged` reads back exactly the typed commands.
func TestTUIExecAsTyped(t *testing.T) {
	rg := &rig{t: t, dir: t.TempDir()}
	rg.flags = []string{"--store", filepath.Join(rg.dir, "s.db"), "--operator", "alice@jump"}
	typed := []string{
		`grep -q "Maintenance window" /etc/motd`,
		`printf "a = 0\n" >> '/etc/discoterm/a very long file name that cannot fit on one line.conf'`,
	}
	s := rg.startTUI(80, 24, "--no-scan", "--theme", "dark")
	s.waitFor("discoterm")
	s.keys(":")
	s.typeText("lock main maintenance window")
	s.keys("Enter")
	s.waitFor("locked main")
	for i, cmd := range typed {
		s.keys(":")
		if i == 0 {
			s.typeText("exec " + cmd)
		} else {
			s.typeText("exec -- " + cmd)
		}
		s.keys("Enter")
		sc := s.waitFor("Stage this exec?")
		// Shown whole: every word of the command is on the screen.
		for _, w := range strings.Fields(cmd) {
			if !strings.Contains(sc, w) {
				t.Fatalf("the confirmation does not show %q of %q:\n%s", w, cmd, sc)
			}
		}
		s.keys("y")
		s.waitFor(fmt.Sprintf("staged seq %d on main", i+1))
	}
	s.keys("q")
	var r result
	for i := 0; i < 50; i++ { // until the console has exited and released the store
		if r = rg.run("--batch", "--json", "staged", "main"); r.code == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	st := r.lines(t, "staged")
	if len(st) != len(typed) {
		t.Fatalf("staged: %s", r)
	}
	for i, line := range st {
		if got := line["entry"].(map[string]any)["command"]; got != typed[i] {
			t.Errorf("staged command %d:\n got  %q\n want %q (as typed)", i+1, got, typed[i])
		}
		if line["seq"] != float64(i+1) {
			t.Errorf("staged entry %d is numbered %v, not the seq approve will give it", i+1, line["seq"])
		}
	}
	// One numbering: staged lists seqs, drop takes them and names the
	// staged range when given another number.
	if r := rg.run("--batch", "staged", "main"); r.code != 0 || !strings.Contains(r.stdout, "approve commits them as seq 1–2") || !strings.Contains(r.stdout, "   2 exec ") {
		t.Errorf("staged (text) does not number by seq: %s", r)
	}
	if r := rg.run("--batch", "drop", "7"); r.code != exitUsage || !strings.Contains(r.stderr, "seq 7 is not a staged entry of main: the staged entries are seq 1–2") {
		t.Errorf("drop 7: %s", r)
	}
	rg.must("--batch", "drop", "1")
	r = rg.run("--batch", "--json", "staged", "main")
	if st := r.lines(t, "staged"); len(st) != 1 || st[0]["seq"] != float64(1) || st[0]["entry"].(map[string]any)["command"] != typed[1] {
		t.Errorf("after drop 1: %s", r)
	}
}

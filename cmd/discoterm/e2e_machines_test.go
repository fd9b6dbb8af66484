package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBatchMachines: machine add/list/edit/rm on plain files beside the
// store, refusals with exit 2 and a sentence that says what to do.
func TestBatchMachines(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"--batch", "--ssh-config", "none", "--store", filepath.Join(dir, "s.db")}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "SSH_AUTH_SOCK=")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	mdir := filepath.Join(dir, "machines") // the default: beside the store
	if c, out := run("machine", "add", "52:54:00:00:00:07", "--name", "web7", "--ip", "10.0.0.7", "--branch", "web", "--boot", "debian"); c != 0 || !strings.Contains(out, "added machine web7") {
		t.Fatalf("add: %d %s", c, out)
	}
	data, err := os.ReadFile(filepath.Join(mdir, "web7.machine"))
	if err != nil || !strings.Contains(string(data), "mac 52:54:00:00:00:07\nname web7\nip 10.0.0.7\nbranch web\nboot debian\n") {
		t.Fatalf("machine file: %q %v", data, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"machine", "add", "52:54:00:00:00:07", "--name", "web8"}, "MAC 52:54:00:00:00:07 is in both " + filepath.Join(mdir, "web7.machine") + " and " + filepath.Join(mdir, "web8.machine")},
		{[]string{"machine", "add", "52:54:00:00:00:08", "--name", "web8", "--ip", "10.0.0.7"}, "address 10.0.0.7 is in both"},
		{[]string{"machine", "add", "nope", "--name", "web8"}, `"nope" is not an Ethernet MAC address; write it as 52:54:00:12:34:56`},
		{[]string{"machine", "add", "52:54:00:00:00:08"}, "machine add needs --name NAME"},
		{[]string{"machine", "frob"}, `unknown action "frob"; give add, list, rm, edit, history or key`},
		{[]string{"machine", "rm", "web9"}, `"web9" is no registered machine's MAC or name`},
	} {
		if code, out := run(c.args...); code != exitUsage || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d %q, want exit 2 and %q", c.args, code, out, c.want)
		}
	}
	if c, out := run("machine", "edit", "52-54-00-00-00-07", "--ip", "none", "--name", "db7"); c != 0 || !strings.Contains(out, "changed machine db7") {
		t.Fatalf("edit: %d %s", c, out)
	}
	if c, out := run("--json", "machine", "list"); c != 0 || !strings.Contains(out, `{"type":"machine","v":1,"action":"list","mac":"52:54:00:00:00:07","name":"db7","branch":"web"`) {
		t.Fatalf("list --json: %d %s", c, out)
	}
	// A file edited by hand with a mistake: the line, what, what to do.
	if err := os.WriteFile(filepath.Join(mdir, "db7.machine"), []byte("mac 52:54:00:00:00:07\nname db7\nipaddr 10.0.0.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, out := run("machine", "list"); c != exitUsage || !strings.Contains(out, filepath.Join(mdir, "db7.machine")+`:3: unknown key "ipaddr"; the keys are mac, name, ip, branch, boot`) {
		t.Fatalf("bad file: %d %s", c, out)
	}
	if err := os.WriteFile(filepath.Join(mdir, "db7.machine"), []byte("mac 52:54:00:00:00:07\nname db7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, out := run("machine", "rm", "db7"); c != 0 || !strings.Contains(out, "removed machine db7") {
		t.Fatalf("rm: %d %s", c, out)
	}
	if c, out := run("machine", "list"); c != 0 || !strings.Contains(out, "no machines in "+mdir) {
		t.Fatalf("empty list: %d %s", c, out)
	}
}

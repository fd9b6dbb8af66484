package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// hostMeta is a path's content, mode and owner on a fleet host.
func hostMeta(t *testing.T, h *testfleet.Host, path string) string {
	t.Helper()
	out, err := h.Exec(context.Background(), "sh", "-c", `stat -c '%a %U:%G' -- "$1" && sha256sum -- "$1"`, "sh", path)
	if err != nil {
		return "<" + strings.TrimSpace(string(out)) + ">"
	}
	return strings.TrimSpace(string(out))
}

// waitPosition waits until the host's own state file says pos.
func (rg *rig) waitPosition(h *testfleet.Host, pos uint64, within time.Duration) {
	rg.t.Helper()
	end := time.Now().Add(within)
	for rg.hostState(h).Position != pos {
		if time.Now().After(end) {
			rg.t.Fatalf("%s: still at position %d after %s, want %d", h.Name, rg.hostState(h).Position, within, pos)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// comebackLeft lists what is in the host's comeback directory, but the
// logs of reverts that ran.
func comebackLeft(t *testing.T, h *testfleet.Host) string {
	out, _ := h.Exec(context.Background(), "sh", "-c", "cd /var/lib/discoterm/comeback 2>/dev/null && ls -A | grep -v '[.]reverted$' || true")
	return strings.TrimSpace(string(out))
}

// TestMustComeBackOnFleet: a push that locks the controller out (a new
// authorized_keys: the pooled connection it came by still works, a new
// one is refused) undoes itself on the host within --must-come-back; a
// good change is confirmed over a fresh connection and stays; a push
// whose controller is killed after the apply is reverted by the host
// alone, and the next plan shows the host behind again.
func TestMustComeBackOnFleet(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	n1, n2, n3 := rg.fleet.Hosts[0], rg.fleet.Hosts[1], rg.fleet.Hosts[2]
	rg.must("--batch", "lock", "main", "base")
	rg.must("--batch", "snap", rg.write("base", "base\n"), "--to", "/etc/discoterm-base")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)

	const keys = "/root/.ssh/authorized_keys"
	keys0, meta0 := rg.hostFile(n1, keys), hostMeta(t, n1, keys)
	if !strings.HasPrefix(meta0, "600 root:root\n") {
		t.Fatalf("authorized_keys before: %s", meta0)
	}
	// The bad change: a key rotation that forgets the controller's key,
	// and a new file beside it.
	rg.must("--batch", "lock", "main", "rotate keys")
	rg.must("--batch", "snap", rg.write("keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBadKeyForTheTestOnlyBadKeyForTheTestOnly00 nobody\n"), "--to", keys, "--mode", "0600")
	rg.must("--batch", "snap", rg.write("app", "new\n"), "--to", "/etc/app-new.conf")
	// A command whose file effect the plan's sandbox records: undone too.
	rg.must("--batch", "exec", "--", "sh", "-c", "'echo made > /etc/exec-made'")
	id = planID(t, rg.must("--batch", "--json", "plan", "node1"))
	rg.must("--batch", "approve", id)

	start := time.Now()
	r := rg.run("--batch", "--json", "push", id, "--must-come-back", "3s")
	took := time.Since(start)
	if r.code != exitHostsFail {
		t.Fatalf("push that locks us out: want exit 3: %s", r)
	}
	hs := r.lines(t, "push.host")
	if len(hs) != 1 || hs[0]["status"] != "rolled-back" || !strings.Contains(hs[0]["error"].(string), "rolled back: did not come back within 3s") || hs[0]["to"].(float64) != 1 ||
		strings.Contains(hs[0]["error"].(string), "not reverted") {
		t.Fatalf("push.host = %v", hs)
	}
	if took < 3*time.Second || took > 15*time.Second {
		t.Errorf("push took %s: want the --must-come-back wait and little more", took)
	}
	// The host reverted by itself: the old file byte for byte, mode and
	// owner, the new one gone, the position back at 1.
	rg.waitPosition(n1, 1, 10*time.Second)
	if got := rg.hostFile(n1, keys); got != keys0 {
		t.Errorf("authorized_keys after the revert = %q, want %q", got, keys0)
	}
	if got := hostMeta(t, n1, keys); got != meta0 {
		t.Errorf("authorized_keys meta after the revert = %s, want %s", got, meta0)
	}
	for _, p := range []string{"/etc/app-new.conf", "/etc/exec-made"} {
		if got := rg.hostFile(n1, p); !strings.HasPrefix(got, "<") {
			t.Errorf("%s is still there: %q", p, got)
		}
	}
	if st := rg.hostState(n1); len(st.Applied) != 1 {
		t.Errorf("applied history after the revert: %+v", st.Applied)
	}
	// What the push overwrote stays kept on the host, root only.
	if out, err := n1.Exec(context.Background(), "sh", "-c", "stat -c '%a' /var/lib/discoterm/saved /var/lib/discoterm/saved/2 && cmp /var/lib/discoterm/saved/2/0.data /root/.ssh/authorized_keys && cat /var/lib/discoterm/saved/3/0.meta"); err != nil || string(out) != "700\n700\nabsent\n" {
		t.Errorf("saved copies: %v %q", err, out)
	}
	if left := comebackLeft(t, n1); left != "" {
		t.Errorf("left in comeback/: %s", left)
	}
	// The next plan shows it truthfully: behind again, both entries pending.
	p := rg.must("--batch", "--json", "plan", "node1")
	if ph := p.lines(t, "plan.host"); len(ph) != 1 || ph[0]["position"].(float64) != 1 || ph[0]["pending"].(float64) != 3 {
		t.Errorf("plan after the revert: %v", ph)
	}

	// A good change (the new file only, the keys as they are) comes back:
	// confirmed, and still there after the deadline.
	rg.must("--batch", "lock", "main", "keys back")
	rg.must("--batch", "snap", rg.write("keys-good", keys0), "--to", keys, "--mode", "0600")
	id = planID(t, rg.must("--batch", "--json", "plan", "node2"))
	rg.must("--batch", "approve", id)
	r = rg.must("--batch", "--json", "push", id, "--must-come-back", "3s")
	if hs := r.lines(t, "push.host"); len(hs) != 1 || hs[0]["status"] != "done" || hs[0]["to"].(float64) != 5 {
		t.Fatalf("good push: %v", hs)
	}
	if !strings.Contains(r.stdout, "came back: confirmed over a fresh SSH connection") {
		t.Errorf("no word of the confirmation:\n%s", r.stdout)
	}
	t.Logf("good push: %s", r.lines(t, "push.host")[0]["came_back"])
	if left := comebackLeft(t, n2); left != "" {
		t.Errorf("a confirmed push left an armed revert behind: %s", left)
	}
	time.Sleep(4 * time.Second)
	if st := rg.hostState(n2); st.Position != 5 || rg.hostFile(n2, "/etc/app-new.conf") != "new\n" {
		t.Errorf("confirmed push undone: at %d, %q", st.Position, rg.hostFile(n2, "/etc/app-new.conf"))
	}
	if out, _ := n2.Exec(context.Background(), "sh", "-c", "ps -eo args | grep -c '^sh -c trap' || true"); strings.TrimSpace(string(out)) != "0" {
		t.Errorf("reverter processes left on node2: %s", out)
	}

	// The controller is killed after the apply, before it can confirm:
	// node3 reverts by itself, and the next plan says so.
	rg.must("--batch", "lock", "main", "slow")
	rg.must("--batch", "exec", "--", "sleep", "2")
	id = planID(t, rg.must("--batch", "--json", "plan", "node3"))
	rg.must("--batch", "approve", id)
	cmd := exec.Command(binary, append(append([]string{}, rg.flags...), "--batch", "push", id, "--must-come-back", "2s")...)
	cmd.Env = append(os.Environ(), "HOME="+rg.dir, "SSH_AUTH_SOCK=")
	cmd.Dir = rg.dir
	var so bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &so
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Frozen while the host runs the slow entry, killed once it is done.
	end := time.Now().Add(20 * time.Second)
	for comebackLeft(t, n3) == "" && time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGSTOP)
	rg.waitPosition(n3, 6, 10*time.Second)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if strings.Contains(so.String(), "came back") {
		t.Fatalf("the controller confirmed before it was stopped; the test did not test anything:\n%s", so.String())
	}
	if rg.hostFile(n3, "/etc/app-new.conf") != "new\n" || rg.hostFile(n3, "/etc/exec-made") != "made\n" {
		t.Errorf("node3 did not apply: %q %q", rg.hostFile(n3, "/etc/app-new.conf"), rg.hostFile(n3, "/etc/exec-made"))
	}
	rg.waitPosition(n3, 1, 10*time.Second)
	for _, p := range []string{"/etc/app-new.conf", "/etc/exec-made"} {
		if got := rg.hostFile(n3, p); !strings.HasPrefix(got, "<") {
			t.Errorf("node3 kept %s after the revert: %q", p, got)
		}
	}
	if got := rg.hostFile(n3, keys); got != rg.hostFile(n2, keys) || !strings.Contains(got, "ssh-") {
		t.Errorf("node3 authorized_keys after the revert: %q", got)
	}
	p = rg.must("--batch", "--json", "plan", "node3")
	if ph := p.lines(t, "plan.host"); len(ph) != 1 || ph[0]["position"].(float64) != 1 || ph[0]["pending"].(float64) != 5 {
		t.Errorf("plan after the controller died: %v", ph)
	}
}

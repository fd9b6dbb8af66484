package remote

import (
	"context"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// hostApply pushes entries to h and returns the result; each call starts
// from the host's current state.
type hostApply struct {
	t  *testing.T
	st *Steps
	h  *testfleet.Host
}

func (a *hostApply) push(opts func(*Bundle), entries ...BundleEntry) *ApplyResult {
	a.t.Helper()
	ctx := context.Background()
	pr, err := a.st.Probe(ctx, target(a.h), ProbeRequest{StateDir: "/var/lib/discoterm"})
	if err != nil {
		a.t.Fatal(err)
	}
	b := &Bundle{StateDir: "/var/lib/discoterm", Branch: "main", ExpectBranch: pr.State.Branch,
		ExpectPosition: pr.State.Position, ExpectHash: pr.State.Hash}
	for i := range entries {
		entries[i].Seq = pr.State.Position + uint64(i) + 1
		entries[i].Hash = sum([]byte(entries[i].Path + entries[i].Command))
	}
	b.Entries = entries
	if opts != nil {
		opts(b)
	}
	res, err := a.st.Apply(ctx, target(a.h), b, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return res
}

func (a *hostApply) sh(script string) string {
	a.t.Helper()
	out, err := a.h.Exec(context.Background(), "sh", "-c", script)
	if err != nil {
		a.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

func fileEntry(path, content string, mode uint32, owner string) BundleEntry {
	return BundleEntry{Op: OpFile, Path: path, Content: []byte(content), Mode: mode, Owner: owner, Group: "root"}
}

// TestFleetWritesCannotBeRedirected: an unprivileged user owns a directory
// on the host and plants a symlink to /etc/passwd at the target. The push
// refuses to write there (saying why); with --allow-user-dir it replaces
// the symlink, never writing through it. A directory symlink at a target
// is replaced, not moved into; a setuid mode survives a non-root owner.
func TestFleetWritesCannotBeRedirected(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	a := &hostApply{t: t, st: &Steps{R: fleetClient(t, f, nil)}, h: f.Hosts[0]}
	a.sh(`id mallory >/dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh mallory
mkdir -p /srv/app && chown mallory /srv/app && ln -sfn /etc/passwd /srv/app/conf
mkdir -p /etc/realdir && ln -sfn /etc/realdir /etc/dirlink`)
	passwd := a.sh("sha256sum /etc/passwd")

	res := a.push(nil, fileEntry("/srv/app/conf", "owned\n", 0o644, "root"))
	if len(res.Entries) != 1 || res.Entries[0].Result != "failed" || !strings.Contains(res.Entries[0].Output, "/srv/app can be changed by a user other than root") {
		t.Fatalf("a target in a user's directory: %+v", res.Entries)
	}
	if got := a.sh("sha256sum /etc/passwd"); got != passwd {
		t.Fatal("/etc/passwd changed")
	}
	if got := a.sh("readlink /srv/app/conf"); got != "/etc/passwd" {
		t.Fatalf("a refused write changed the target: %q", got)
	}

	allowed := fileEntry("/srv/app/conf", "owned\n", 0o644, "root")
	allowed.AllowUserDir = true
	res = a.push(nil, allowed,
		fileEntry("/etc/dirlink", "a file\n", 0o644, "root"), fileEntry("/usr/local/bin/suid", "#!/bin/sh\n", 0o4755, "nobody"))
	for _, e := range res.Entries {
		if e.Result != "ok" {
			t.Fatalf("allowed push: %+v", res.Entries)
		}
	}
	if got := a.sh("sha256sum /etc/passwd"); got != passwd {
		t.Fatal("/etc/passwd was written through the planted symlink")
	}
	if got := a.sh("stat -c '%F %s' /srv/app/conf /etc/dirlink; ls -A /etc/realdir | wc -l"); got != "regular file 6\nregular file 7\n0" {
		t.Fatalf("targets after the push (symlinks must be replaced, a linked directory left alone):\n%s", got)
	}
	if got := a.sh("stat -c '%a %U' /usr/local/bin/suid"); got != "4755 nobody" {
		t.Fatalf("setuid file: %s, want 4755 nobody (owner before mode)", got)
	}
}

// TestFleetApplyHostHygiene: commands see default signal dispositions
// (the program's ignored signals are not inherited), their output kept on
// the host during the push is readable by root only, and a stale lock —
// left by a killed apply whose PID now belongs to another process — is
// taken over.
func TestFleetApplyHostHygiene(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	a := &hostApply{t: t, st: &Steps{R: fleetClient(t, f, nil)}, h: f.Hosts[0]}
	// A lock naming PID 1 (alive, but started long before any push).
	a.sh("mkdir -p /var/lib/discoterm && echo '1 12345' > /var/lib/discoterm/.lock")
	res := a.push(nil, BundleEntry{Op: OpExec, Command: `grep SigIgn /proc/self/status; stat -c %a /var/lib/discoterm/.out.*`})
	if res.Stale != "" || len(res.Entries) != 1 || res.Entries[0].Result != "ok" {
		t.Fatalf("push over a stale lock: %+v", res)
	}
	out := res.Entries[0].Output
	// What an ordinary login session of this sshd has ignored (the
	// environment that started sshd may ignore a signal or two): a
	// command run by the program must see exactly that, not the
	// program's own TERM INT HUP PIPE.
	var base strings.Builder
	if _, err := a.st.R.Run(context.Background(), target(a.h), "grep SigIgn /proc/self/status", nil, &base, nil); err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(base.String()); !strings.Contains(out, want+"\n") {
		t.Errorf("a command's ignored signals differ from a login session's (%s):\n%s", want, out)
	}
	if !strings.Contains(out, "\n600") {
		t.Errorf("command output kept on the host is not 0600:\n%s", out)
	}

	// An apply killed mid-push (kill -9: no trap runs) leaves its lock.
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		pr, _ := a.st.Probe(ctx, target(a.h), ProbeRequest{StateDir: "/var/lib/discoterm"})
		b := &Bundle{StateDir: "/var/lib/discoterm", Branch: "main", ExpectBranch: pr.State.Branch, ExpectPosition: pr.State.Position,
			ExpectHash: pr.State.Hash, Entries: []BundleEntry{{Seq: pr.State.Position + 1, Hash: sum([]byte("slow")), Op: OpExec, Command: "sleep 300"}}}
		a.st.Apply(ctx, target(a.h), b, nil)
	}()
	a.sh(`for i in $(seq 600); do pgrep -f '^sleep 300$' >/dev/null && break; sleep 0.1; done
pgrep -f '^sleep 300$' >/dev/null || { echo 'the slow entry never started'; exit 1; }
read -r pid _ < /var/lib/discoterm/.lock; kill -9 "$pid"; pkill -f '^sleep 300$'; true`)
	<-done
	if got := a.sh("cat /var/lib/discoterm/.lock"); got == "" {
		t.Fatal("the killed apply left no lock to test with")
	}
	res = a.push(nil, BundleEntry{Op: OpExec, Command: "echo after"})
	if res.Stale != "" || len(res.Entries) != 1 || res.Entries[0].Result != "ok" {
		t.Fatalf("push after a killed apply: %+v", res)
	}
}

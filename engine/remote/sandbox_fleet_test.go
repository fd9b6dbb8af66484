package remote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// These tests run the sandbox step on real namespace hosts (real sshd,
// overlayfs, namespaces) and check both what it reports and that the
// host is left exactly as it was.

// hostSnapshot is every file under the watched trees with its hash, mode
// and owner, plus the processes and the ICMPv6 echo counter, as the host
// itself sees them.
func hostSnapshot(t *testing.T, h *testfleet.Host) string {
	t.Helper()
	out, err := h.Exec(context.Background(), "sh", "-c",
		`find /etc /srv /tmp -xdev \( -type f -exec sha256sum {} + \) -o -printf '%p %y %m %u %g %l\n' 2>/dev/null | sort`)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func procCount(t *testing.T, h *testfleet.Host) string {
	t.Helper()
	out, err := h.Exec(context.Background(), "sh", "-c", `ps -e -o comm=,args= | grep -c -e '^sleep *sleep 30' -e '^yes' || true`)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func echoCount(t *testing.T, h *testfleet.Host) string {
	out, err := h.Exec(context.Background(), "sh", "-c", `grep -w Icmp6InEchos /proc/net/snmp6`)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func sandboxFleet(t *testing.T) (*testfleet.Fleet, *Steps) {
	f := testfleet.StartT(t, testfleet.Options{N: 2})
	c := fleetClient(t, f, nil)
	return f, &Steps{R: c}
}

func target(h *testfleet.Host) Target { return Target{Addr: h.ULA, Name: h.Name, User: "root"} }

func effect(t *testing.T, r *ExecReport, path string) FileEffect {
	t.Helper()
	for _, e := range r.Effects {
		if e.Path == path {
			return e
		}
	}
	t.Fatalf("seq %d: no effect on %s in %+v", r.Seq, path, r.Effects)
	return FileEffect{}
}

func TestFleetSandboxReportsEffectsAndLeavesHostAlone(t *testing.T) {
	f, st := sandboxFleet(t)
	h, nb := f.Hosts[0], f.Hosts[1]
	ctx := context.Background()
	must(t, h.WriteFile("/etc/sbx.conf", []byte("port 22\nlisten all\n"), 0o644))
	must(t, h.WriteFile("/etc/sbx-old", []byte("bye\n"), 0o644))
	must(t, h.WriteFile("/etc/sbx-mode", []byte("secret\n"), 0o644))
	before, procs, echos := hostSnapshot(t, h), procCount(t, h), echoCount(t, nb)

	req := SandboxRequest{Env: map[string]string{"ROLE": "web"}, Entries: []SandboxEntry{
		{Seq: 1, Kind: "exec", Command: `echo "role=$ROLE" > /etc/sbx-new.conf`},
		{Seq: 2, Kind: "exec", Command: `sed -i 's/port 22/port 2222/' /etc/sbx.conf`},
		{Seq: 3, Kind: "exec", Command: `rm /etc/sbx-old`},
		{Seq: 4, Kind: "exec", Command: `chmod 600 /etc/sbx-mode`},
		{Seq: 5, Kind: "exec", Command: `mkdir -p /srv/app/data && echo x > /srv/app/data/f && ln -s /srv/app/data /srv/app/cur`},
		{Seq: 6, Kind: "file", Path: "/etc/sbx.conf", Content: []byte("from a file entry\n"), Mode: 0o640},
		{Seq: 7, Kind: "exec", Command: `cat /etc/sbx.conf; sleep 300 & setsid sleep 301 & ping -c1 -W1 ` + nb.ULA + `; exit 3`},
	}}
	res, err := st.Sandbox(ctx, target(h), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unavailable != "" {
		t.Fatalf("unavailable: %s", res.Unavailable)
	}
	if len(res.Execs) != 6 {
		t.Fatalf("want 6 exec reports, got %+v", res.Execs)
	}
	r := res.Execs
	e := effect(t, &r[0], "/etc/sbx-new.conf")
	if e.Before.Exists || !e.After.Exists || string(e.After.Content) != "role=web\n" || e.After.Mode != 0o644 || e.After.Owner != "root" {
		t.Errorf("created: %+v", e)
	}
	e = effect(t, &r[1], "/etc/sbx.conf")
	if string(e.Before.Content) != "port 22\nlisten all\n" || string(e.After.Content) != "port 2222\nlisten all\n" || e.Seen {
		t.Errorf("sed -i: %+v", e)
	}
	e = effect(t, &r[2], "/etc/sbx-old")
	if !e.Deleted || string(e.Before.Content) != "bye\n" {
		t.Errorf("rm: %+v", e)
	}
	e = effect(t, &r[3], "/etc/sbx-mode")
	if e.Before.Mode != 0o644 || e.After.Mode != 0o600 || string(e.After.Content) != "secret\n" {
		t.Errorf("chmod: %+v", e)
	}
	for _, p := range []string{"/srv/app", "/srv/app/data", "/srv/app/data/f", "/srv/app/cur"} {
		e = effect(t, &r[4], p)
		if e.Before.Exists || !e.After.Exists {
			t.Errorf("mkdir tree %s: %+v", p, e)
		}
	}
	if e := effect(t, &r[4], "/srv/app/cur"); e.After.Type != "symlink" || e.After.Target != "/srv/app/data" {
		t.Errorf("symlink: %+v", e)
	}
	if e := effect(t, &r[4], "/srv/app/data"); e.After.Type != "dir" {
		t.Errorf("dir: %+v", e)
	}
	last := r[5]
	if !last.Ran || last.ExitCode != 3 || !strings.Contains(string(last.Output), "from a file entry") {
		t.Errorf("exec after a file entry: ran %v exit %d output %q", last.Ran, last.ExitCode, last.Output)
	}
	if !strings.Contains(string(last.Output), "ping") {
		t.Errorf("ping should fail inside: %q", last.Output)
	}

	if after := hostSnapshot(t, h); after != before {
		t.Errorf("the host changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if p := settledProcs(t, h, procs); p != procs {
		t.Errorf("processes left behind: %s before, %s after", procs, p)
	}
	if n := echoCount(t, nb); n != echos {
		t.Errorf("the neighbour saw echo requests: %s → %s", echos, n)
	}
}

func TestFleetSandboxGuardsRunInsideOnly(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	ctx := context.Background()
	must(t, h.WriteFile("/etc/present", []byte("x\n"), 0o644))
	res, err := st.Sandbox(ctx, target(h), SandboxRequest{Entries: []SandboxEntry{
		{Seq: 1, Kind: "exec", Command: "touch /srv/ran1", Unless: "touch /srv/x; false"},
		{Seq: 2, Kind: "exec", Command: "touch /srv/ran2", Unless: "true"},
		{Seq: 3, Kind: "exec", Command: "touch /srv/ran3", Creates: "/etc/present"},
		{Seq: 4, Kind: "exec", Command: "touch /srv/ran4", Creates: "/srv/ran1"}, // made by seq 1, in the sandbox
	}})
	if err != nil || res.Unavailable != "" {
		t.Fatal(err, res)
	}
	want := []struct {
		ran   bool
		guard string
	}{{true, "unless"}, {false, "unless"}, {false, "creates"}, {false, "creates"}}
	for i, w := range want {
		if r := res.Execs[i]; r.Ran != w.ran || r.Guard != w.guard {
			t.Errorf("seq %d: ran %v guard %q, want %v %q", r.Seq, r.Ran, r.Guard, w.ran, w.guard)
		}
	}
	// The guard's own side effect is part of the entry's effects (it ran
	// in the sandbox) and absent from the host.
	effect(t, &res.Execs[0], "/srv/x")
	if _, err := h.ReadFile("/srv/x"); err == nil {
		t.Fatal("/srv/x exists on the host after the plan")
	}
}

func TestFleetSandboxCaps(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	ctx := context.Background()
	before, procs := hostSnapshot(t, h), procCount(t, h)
	for _, c := range []struct {
		cmd  string
		want Cap
	}{
		{"yes > /big", CapSpace},
		{"i=0; while [ $i -lt 400 ]; do sleep 30 & i=$((i+1)); done; wait", CapProcs},
		{"sleep 1000", CapTime},
		{"yes", CapOutput},
	} {
		start := time.Now()
		res, err := st.Sandbox(ctx, target(h), SandboxRequest{
			Timeout: 2 * time.Second, UpperCap: 32 << 20, OutputCap: 256 << 10, MaxProcs: 64,
			Entries: []SandboxEntry{
				{Seq: 1, Kind: "exec", Command: c.cmd},
				{Seq: 2, Kind: "exec", Command: "echo not reached > /etc/after-caps"},
			}})
		if err != nil || res.Unavailable != "" {
			t.Fatal(err, res)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("%s: took %v", c.cmd, el)
		}
		if len(res.Execs) != 1 {
			t.Fatalf("%s: the sandbox should stop at the failing entry, as a push does: %+v", c.cmd, res.Execs)
		}
		r := res.Execs[0]
		if r.Cap != c.want || r.ExitCode == 0 {
			t.Errorf("%s: cap %q exit %d, want cap %q (output %q)", c.cmd, r.Cap, r.ExitCode, c.want, trunc(string(r.Output), 100))
		}
		if c.want == CapSpace {
			if e := effect(t, &r, "/big"); e.After.Size < 16<<20 || e.After.Content != nil || e.After.Hash == "" {
				t.Errorf("/big: size %d, content %d bytes, hash %q", e.After.Size, len(e.After.Content), e.After.Hash)
			}
		}
		if c.want == CapOutput && (len(r.Output) != OutputShown || r.OutputSize < 200<<10) {
			t.Errorf("output: %d bytes shown of %d", len(r.Output), r.OutputSize)
		}
	}
	if after := hostSnapshot(t, h); after != before {
		t.Errorf("the host changed:\n%s\n---\n%s", before, after)
	}
	if p := settledProcs(t, h, procs); p != procs {
		t.Errorf("processes left behind: %s before, %s after", procs, p)
	}
}

// settledProcs waits a moment for the kernel to reap a finished sandbox's
// PID namespace, then counts.
func settledProcs(t *testing.T, h *testfleet.Host, want string) string {
	var got string
	for i := 0; i < 20; i++ {
		if got = procCount(t, h); got == want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

func TestFleetSandboxUnavailableForNonRoot(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	ctx := context.Background()
	// A login user that is not root. Unprivileged user namespaces are not
	// used by the sandbox, so this host cannot sandbox whatever the
	// kernel allows.
	if _, err := h.Exec(ctx, "sh", "-c", `useradd -m -s /bin/sh -p "*" plain && mkdir -p /home/plain/.ssh && cp /root/.ssh/authorized_keys /home/plain/.ssh/ && chown -R plain: /home/plain/.ssh`); err != nil {
		t.Fatal(err)
	}
	res, err := st.Sandbox(ctx, Target{Addr: h.ULA, Name: h.Name, User: "plain"}, SandboxRequest{Entries: []SandboxEntry{
		{Seq: 1, Kind: "exec", Command: "touch /tmp/ran", Unless: "touch /tmp/guard-ran; false"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Unavailable, "root") || len(res.Execs) != 0 {
		t.Fatalf("want a reason naming root, got %+v", res)
	}
	for _, p := range []string{"/tmp/ran", "/tmp/guard-ran"} {
		if _, err := h.ReadFile(p); err == nil {
			t.Errorf("%s exists: something ran outside a sandbox", p)
		}
	}
}

// A remove entry is carried out in the sandbox too: the command after it
// sees the path gone; the host keeps it.
func TestFleetSandboxRemoveThenExec(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	must(t, h.WriteFile("/etc/sbx-rm", []byte("x\n"), 0o644))
	res, err := st.Sandbox(context.Background(), target(h), SandboxRequest{Entries: []SandboxEntry{
		{Seq: 1, Kind: "remove", Path: "/etc/sbx-rm"},
		{Seq: 2, Kind: "remove", Path: "/etc/sbx-never-there"},
		{Seq: 3, Kind: "exec", Command: "if [ -e /etc/sbx-rm ]; then echo present; else echo gone; fi"},
	}})
	if err != nil || res.Unavailable != "" {
		t.Fatal(err, res)
	}
	if r, ok := res.Exec(3); !ok || strings.TrimSpace(string(r.Output)) != "gone" || len(r.Effects) != 0 {
		t.Fatalf("%+v", res)
	}
	if b, err := h.ReadFile("/etc/sbx-rm"); err != nil || string(b) != "x\n" {
		t.Fatalf("the host lost /etc/sbx-rm: %q %v", b, err)
	}
}

// A directory one command replaced whole (rm -r, then mkdir: an opaque
// directory in the upper layer) hides the old one's contents: each old
// path under it is listed as deleted, with its content before; a name the
// command made again is modified, not deleted.
func TestFleetSandboxOpaqueDirListsOldFiles(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	if _, err := h.Exec(context.Background(), "mkdir", "-p", "/srv/d/sub", "/srv/keep"); err != nil {
		t.Fatal(err)
	}
	for p, c := range map[string]string{"/srv/d/a": "old a\n", "/srv/d/b": "old b\n", "/srv/d/sub/c": "old c\n", "/srv/keep/k": "k\n"} {
		must(t, h.WriteFile(p, []byte(c), 0o644))
	}
	before := hostSnapshot(t, h)
	res, err := st.Sandbox(context.Background(), target(h), SandboxRequest{Entries: []SandboxEntry{
		{Seq: 1, Kind: "exec", Command: "rm -rf /srv/d && mkdir /srv/d && echo new > /srv/d/n && echo 'new a' > /srv/d/a"},
		{Seq: 2, Kind: "exec", Command: "rm -rf /srv/d && mkdir /srv/d"},
	}})
	if err != nil || res.Unavailable != "" || len(res.Execs) != 2 {
		t.Fatal(err, res)
	}
	r := &res.Execs[0]
	for p, old := range map[string]string{"/srv/d/b": "old b\n", "/srv/d/sub/c": "old c\n"} {
		if e := effect(t, r, p); !e.Deleted || string(e.Before.Content) != old {
			t.Errorf("%s: %+v", p, e)
		}
	}
	if e := effect(t, r, "/srv/d/sub"); !e.Deleted || e.Before.Type != "dir" {
		t.Errorf("/srv/d/sub: %+v", e)
	}
	if e := effect(t, r, "/srv/d/a"); e.Deleted || string(e.Before.Content) != "old a\n" || string(e.After.Content) != "new a\n" {
		t.Errorf("/srv/d/a: %+v", e)
	}
	if e := effect(t, r, "/srv/d/n"); e.Before.Exists || string(e.After.Content) != "new\n" {
		t.Errorf("/srv/d/n: %+v", e)
	}
	for _, e := range r.Effects {
		if strings.HasPrefix(e.Path, "/srv/keep") {
			t.Errorf("an untouched directory reported: %+v", e)
		}
	}
	// The second command finds what the first left (seen), and deletes it.
	r = &res.Execs[1]
	for p, old := range map[string]string{"/srv/d/a": "new a\n", "/srv/d/n": "new\n"} {
		if e := effect(t, r, p); !e.Deleted || string(e.Before.Content) != old {
			t.Errorf("second %s: %+v", p, e)
		}
	}
	for _, e := range r.Effects {
		if e.Path == "/srv/d/b" || e.Path == "/srv/d/sub/c" {
			t.Errorf("second: %s was already gone: %+v", e.Path, e)
		}
	}
	if after := hostSnapshot(t, h); after != before {
		t.Errorf("the host changed:\n%s\n---\n%s", before, after)
	}
}

// A command's /dev: null, zero, full, random, urandom and tty work, the
// symlinks into /proc too; no other device node of the host opens (no
// disk, kmsg or mem), and writing under /dev stays in the sandbox.
func TestFleetSandboxDev(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	before := hostSnapshot(t, h)
	res, err := st.Sandbox(context.Background(), target(h), SandboxRequest{Entries: []SandboxEntry{{Seq: 1, Kind: "exec", Command: `
echo x > /dev/null && echo null-ok
head -c 5 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c
[ -L /dev/stdout ] && [ -e /dev/fd/1 ] && [ -e /dev/stderr ] && echo fd-ok
for d in /dev/* /dev/*/*; do
  [ ! -L "$d" ] || continue
  if [ -b "$d" ] || [ -c "$d" ]; then
    case $d in /dev/null|/dev/zero|/dev/full|/dev/random|/dev/urandom|/dev/tty) continue ;; esac
    if head -c 1 "$d" > /dev/null 2>&1 < /dev/null; then echo "OPENED $d"; fi
  fi
done
echo shm > /dev/shm/sbx && cat /dev/shm/sbx`}}})
	if err != nil || res.Unavailable != "" || len(res.Execs) != 1 {
		t.Fatal(err, res)
	}
	out := string(res.Execs[0].Output)
	for _, want := range []string{"null-ok", "5\n3\n", "fd-ok", "shm"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "OPENED") {
		t.Errorf("a host device opened in the sandbox:\n%s", out)
	}
	if after := hostSnapshot(t, h); after != before {
		t.Errorf("the host changed:\n%s\n---\n%s", before, after)
	}
	if _, err := h.ReadFile("/dev/shm/sbx"); err == nil {
		t.Error("/dev/shm/sbx reached the host")
	}
}

// A host with a separate writable mount (/srv/sub, a tmpfs): it gets its
// own overlay; file entries and commands there are carried out and
// reported with their paths on the host, and the mount is left as it was.
func TestFleetSandboxSubmount(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	ctx := context.Background()
	if _, err := h.Exec(ctx, "sh", "-c", "mkdir -p /srv/sub && mount -t tmpfs sbx-sub /srv/sub && echo old > /srv/sub/old"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Exec(context.Background(), "umount", "/srv/sub") })
	before := hostSnapshot(t, h)
	res, err := st.Sandbox(ctx, target(h), SandboxRequest{Entries: []SandboxEntry{
		{Seq: 1, Kind: "file", Path: "/srv/sub/new/f", Content: []byte("placed\n"), Mode: 0o644},
		{Seq: 2, Kind: "exec", Command: "cat /srv/sub/new/f > /srv/sub/made; rm /srv/sub/old; echo x > /etc/sbx-root"},
	}})
	if err != nil || res.Unavailable != "" || len(res.Execs) != 1 {
		t.Fatal(err, res)
	}
	r := &res.Execs[0]
	if e := effect(t, r, "/srv/sub/made"); string(e.After.Content) != "placed\n" || e.Before.Exists {
		t.Errorf("made: %+v", e)
	}
	if e := effect(t, r, "/srv/sub/old"); !e.Deleted || string(e.Before.Content) != "old\n" {
		t.Errorf("old: %+v", e)
	}
	effect(t, r, "/etc/sbx-root")
	if after := hostSnapshot(t, h); after != before {
		t.Errorf("the host changed:\n%s\n---\n%s", before, after)
	}
}

// TestFleetSandboxCreatesFirstIsAHostStat: when the only command is the
// first entry, its --creates is decided as the push decides it, by a stat
// of the host before any sandbox is made. /sys/class/net/eth0 is there on
// the host but not in the sandbox's own network namespace: a sandbox
// would run the command (it did before this shortcut), the push would
// not. With a file entry first, the sandbox decides (and runs it).
func TestFleetSandboxCreatesFirstIsAHostStat(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	ctx := context.Background()
	before := hostSnapshot(t, h)
	exec := SandboxEntry{Seq: 2, Kind: "exec", Command: "touch /srv/created-ran", Creates: "/sys/class/net/eth0"}
	res, err := st.Sandbox(ctx, target(h), SandboxRequest{Entries: []SandboxEntry{exec,
		{Seq: 3, Kind: "file", Path: "/etc/after-exec", Content: []byte("x\n"), Mode: 0o644}}})
	if err != nil || res.Unavailable != "" || len(res.Execs) != 1 {
		t.Fatal(err, res)
	}
	if r := res.Execs[0]; r.Ran || r.Guard != "creates" || len(r.Effects) != 0 {
		t.Fatalf("exec first: %+v, want skipped by its creates guard with no effects", r)
	}
	res, err = st.Sandbox(ctx, target(h), SandboxRequest{Entries: []SandboxEntry{
		{Seq: 1, Kind: "file", Path: "/etc/before-exec", Content: []byte("x\n"), Mode: 0o644}, exec}})
	if err != nil || res.Unavailable != "" || len(res.Execs) != 1 {
		t.Fatal(err, res)
	}
	if r := res.Execs[0]; !r.Ran {
		t.Fatalf("after a file entry: %+v, want the sandbox to decide (no eth0 in its network namespace)", r)
	}
	effect(t, &res.Execs[0], "/srv/created-ran")
	if after := hostSnapshot(t, h); after != before {
		t.Fatalf("host changed:\n%s\n---\n%s", before, after)
	}
}

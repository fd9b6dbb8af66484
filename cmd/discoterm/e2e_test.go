package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/remote/testfleet"
	"golang.org/x/crypto/ssh"
)

// The end-to-end tests run the real binary in batch mode against a fleet of
// network namespaces running OpenSSH.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "discoterm-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "discoterm")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building discoterm: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// rig is a fleet plus a store and the flags that point discoterm at both.
type rig struct {
	t     *testing.T
	fleet *testfleet.Fleet
	dir   string
	flags []string
}

func newRig(t *testing.T, n int) *rig {
	return newRigOpts(t, testfleet.Options{N: n})
}

// newRigOpts is newRig on a fleet made with opts.
func newRigOpts(t *testing.T, opts testfleet.Options) *rig {
	f := testfleet.StartT(t, opts)
	dir := t.TempDir()
	r := &rig{t: t, fleet: f, dir: dir}
	// The fleet's client key also signs approvals (--identity is the
	// signing key's fallback); it is the one allowed signer.
	signer, err := f.Signer()
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, append([]byte("alice@jump "), ssh.MarshalAuthorizedKey(signer.PublicKey())...), 0o600); err != nil {
		t.Fatal(err)
	}
	r.flags = []string{"--store", filepath.Join(dir, "store.db"), "--known-hosts", f.KnownHosts,
		"--identity", f.ClientKey, "--ssh-config", "none", "--operator", "alice@jump", "--timeout", "5s",
		"--allowed-signers", allowed}
	return r
}

type result struct {
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// lines decodes JSON lines of the given type.
func (r result) lines(t *testing.T, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %q (%v)", sc.Text(), err)
		}
		if m["type"] == nil {
			t.Fatalf("JSON line without type: %q", sc.Text())
		}
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

func (rg *rig) run(args ...string) result {
	rg.t.Helper()
	return rg.runCtx(context.Background(), args...)
}

func (rg *rig) runCtx(ctx context.Context, args ...string) result {
	rg.t.Helper()
	cmd := exec.CommandContext(ctx, binary, append(append([]string{}, rg.flags...), args...)...)
	cmd.Env = append(os.Environ(), "HOME="+rg.dir, "SSH_AUTH_SOCK=")
	cmd.Dir = rg.dir
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		rg.t.Fatalf("running discoterm: %v", err)
	}
	return result{code: code, stdout: so.String(), stderr: se.String()}
}

func (rg *rig) must(args ...string) result {
	rg.t.Helper()
	r := rg.run(args...)
	if r.code != 0 {
		rg.t.Fatalf("discoterm %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func (rg *rig) write(name, content string) string {
	p := filepath.Join(rg.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		rg.t.Fatal(err)
	}
	return p
}

func (rg *rig) hostFile(h *testfleet.Host, path string) string {
	rg.t.Helper()
	b, err := h.ReadFile(path)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func (rg *rig) hostState(h *testfleet.Host) remote.StateFile {
	rg.t.Helper()
	b, err := h.ReadFile("/var/lib/discoterm/state")
	if err != nil {
		rg.t.Fatalf("%s: state file: %v", h.Name, err)
	}
	st, err := remote.ParseState(string(b))
	if err != nil {
		rg.t.Fatalf("%s: state file does not parse: %v\n%s", h.Name, err, b)
	}
	return st
}

// setup adds every host and classifies them onto main.
func (rg *rig) setup() {
	rg.t.Helper()
	rg.write("main.cf", "DEFAULT\n    BRANCH = main\n    NTP = ntp.example.net\nnode1\n    NTP = ntp1.example.net\n")
	rg.flags = append(rg.flags, "--class", filepath.Join(rg.dir, "main.cf"))
	for _, h := range rg.fleet.Hosts {
		r := rg.must("--batch", "--json", "add-host", h.ULA)
		hs := r.lines(rg.t, "host")
		if len(hs) != 1 || hs[0]["name"] != h.Name || hs[0]["id"] != "mid:"+h.MachineID {
			rg.t.Fatalf("add-host %s: %s", h.Name, r)
		}
	}
}

func planID(t *testing.T, r result) string {
	t.Helper()
	ps := r.lines(t, "plan")
	if len(ps) != 1 {
		t.Fatalf("want one plan line: %s", r)
	}
	return ps[0]["plan"].(string)
}

func TestBatchWorkflow(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	n1, n2, n3 := rg.fleet.Hosts[0], rg.fleet.Hosts[1], rg.fleet.Hosts[2]

	// A lock names its holder; a second operator is refused, naming both.
	rg.must("--batch", "lock", "main", "install", "motd")
	r := rg.run("--operator", "bob@jump2", "--batch", "lock", "main", "mine")
	if r.code != exitLockHeld || !strings.Contains(r.stderr, "alice@jump") || !strings.Contains(r.stderr, "bob@jump2") {
		t.Fatalf("second lock: %s", r)
	}

	rg.must("--batch", "snap", rg.write("motd", "welcome to the fleet\n"), "--to", "/etc/motd")
	rg.must("--batch", "template", rg.write("ntp.tmpl", "server {{.NTP}}\n# {{.HOSTNAME}}\n"), "--to", "/etc/ntp.conf", "--mode", "0600")
	rg.must("--batch", "exec", "--creates", "/etc/discoterm-marker", "--", "sh", "-c", "'echo made > /etc/discoterm-marker'")
	rg.must("--batch", "exec", "--", "true")
	r = rg.must("--batch", "--json", "staged")
	if n := len(r.lines(t, "staged")); n != 4 {
		t.Fatalf("staged: want 4 entries: %s", r)
	}

	// Dry-run: every host, every entry, with diffs and the per-host template.
	r = rg.must("--batch", "--json", "plan")
	id := planID(t, r)
	hosts := r.lines(t, "plan.host")
	if len(hosts) != 3 {
		t.Fatalf("plan hosts: %s", r)
	}
	for _, h := range hosts {
		changes := h["changes"].([]any)
		if len(changes) != 4 {
			t.Fatalf("%s: want 4 changes: %v", h["host"], h)
		}
		motd := changes[0].(map[string]any)
		// /etc/motd exists on Debian: the diff shows the old lines going.
		if motd["effect"] != "modified" || !strings.Contains(motd["diff"].(string), "+welcome to the fleet") || !strings.Contains(motd["diff"].(string), "-The programs included") {
			t.Errorf("%s motd change: %v", h["host"], motd)
		}
		ntp := changes[1].(map[string]any)
		want := "+server ntp.example.net"
		if h["host"] == "node1" {
			want = "+server ntp1.example.net"
		}
		if !strings.Contains(ntp["diff"].(string), want) || !strings.Contains(ntp["diff"].(string), "+# "+h["host"].(string)) {
			t.Errorf("%s template diff: %v", h["host"], ntp["diff"])
		}
		if ex := changes[2].(map[string]any); ex["effect"] != "would run" || !strings.Contains(ex["guard"].(string), "is absent") {
			t.Errorf("%s guarded exec: %v", h["host"], ex)
		}
	}
	if got := rg.hostFile(n1, "/etc/motd"); strings.Contains(got, "welcome to the fleet") {
		t.Fatal("a dry-run changed a host")
	}

	// Push needs approval; approval commits and releases the lock.
	if r = rg.run("--batch", "push", id); r.code != exitUsage || !strings.Contains(r.stderr, "not approved") {
		t.Fatalf("push unapproved: %s", r)
	}
	rg.must("--batch", "approve", id)
	r = rg.must("--batch", "--json", "log", "main")
	if n := len(r.lines(t, "entry")); n != 4 {
		t.Fatalf("log after approve: %s", r)
	}
	r = rg.must("--batch", "--json", "push", id)
	for _, h := range r.lines(t, "push.host") {
		if h["status"] != "done" || h["to"].(float64) != 4 {
			t.Errorf("push %s: %v", h["name"], h)
		}
	}
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/motd"); got != "welcome to the fleet\n" {
			t.Errorf("%s /etc/motd = %q", h.Name, got)
		}
		if got := rg.hostFile(h, "/etc/discoterm-marker"); got != "made\n" {
			t.Errorf("%s marker = %q", h.Name, got)
		}
		out, err := h.Exec(context.Background(), "stat", "-c", "%a %U", "/etc/ntp.conf")
		if err != nil || strings.TrimSpace(string(out)) != "600 root" {
			t.Errorf("%s ntp.conf mode: %q %v", h.Name, out, err)
		}
		if st := rg.hostState(h); st.Position != 4 || st.Branch != "main" || len(st.Applied) != 4 {
			t.Errorf("%s state = %+v", h.Name, st)
		}
	}
	if got := rg.hostFile(n1, "/etc/ntp.conf"); got != "server ntp1.example.net\n# node1\n" {
		t.Errorf("node1 ntp.conf = %q", got)
	}
	if got := rg.hostFile(n2, "/etc/motd"); got != "welcome to the fleet\n" {
		t.Errorf("node2 motd = %q", got)
	}

	// Nothing pending: a second plan is empty.
	r = rg.must("--batch", "--json", "plan")
	for _, h := range r.lines(t, "plan.host") {
		if h["pending"].(float64) != 0 {
			t.Errorf("second plan %s: %v", h["host"], h)
		}
	}

	// A host changed between plan and push is refused as stale; the others proceed.
	rg.must("--batch", "lock", "main", "new motd")
	rg.must("--batch", "snap", rg.write("motd2", "second motd\n"), "--to", "/etc/motd")
	id2 := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id2)
	if err := n2.WriteFile("/etc/motd", []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = rg.run("--batch", "--json", "push", id2)
	if r.code != exitStale {
		t.Fatalf("push with a stale host: %s", r)
	}
	if got := rg.hostFile(n2, "/etc/motd"); got != "edited by hand\n" {
		t.Errorf("stale host was changed: %q", got)
	}
	if got := rg.hostFile(n3, "/etc/motd"); got != "second motd\n" {
		t.Errorf("node3 not pushed: %q", got)
	}
	if st := rg.hostState(n2); st.Position != 4 {
		t.Errorf("stale host position = %d", st.Position)
	}

	// Report: per entry per host, with results.
	r = rg.must("--batch", "--json", "report", "node1")
	if n := len(r.lines(t, "result")); n != 5 {
		t.Errorf("report node1: want 5 results: %s", r)
	}
}

func TestBatchBadHosts(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	n1, n2, n3 := rg.fleet.Hosts[0], rg.fleet.Hosts[1], rg.fleet.Hosts[2]
	rg.must("--batch", "lock", "main", "x")
	rg.must("--batch", "snap", rg.write("f", "x\n"), "--to", "/etc/x")

	// Corrupt state file on one host, another unreachable: both reported,
	// the third planned.
	if _, err := n1.Exec(context.Background(), "mkdir", "-p", "/var/lib/discoterm"); err != nil {
		t.Fatal(err)
	}
	if err := n1.WriteFile("/var/lib/discoterm/state", []byte("# discoterm state v1\nbranch main\nposition lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n2.Down(); err != nil {
		t.Fatal(err)
	}
	r := rg.run("--batch", "--json", "--timeout", "2s", "plan")
	if r.code != exitHostsFail {
		t.Fatalf("plan: %s", r)
	}
	byHost := map[string]map[string]any{}
	for _, h := range r.lines(t, "plan.host") {
		byHost[h["host"].(string)] = h
	}
	if e, _ := byHost["node1"]["error"].(string); !strings.Contains(e, "corrupt") || !strings.Contains(e, "line 3") {
		t.Errorf("node1: %v", byHost["node1"])
	}
	if e, _ := byHost["node2"]["error"].(string); e == "" {
		t.Errorf("node2 unreachable but no error: %v", byHost["node2"])
	}
	if byHost["node3"]["error"] != "" || byHost["node3"]["pending"].(float64) != 1 {
		t.Errorf("node3: %v", byHost["node3"])
	}
	if err := n2.Up(); err != nil {
		t.Fatal(err)
	}

	// A changed host key is refused with both fingerprints.
	bad := filepath.Join(rg.dir, "bad_known_hosts")
	other := rg.fleet.Hosts[2].HostKey
	if err := os.WriteFile(bad, []byte(n3.ULA+" "+other+"\n"+n2.ULA+" "+other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = rg.run("--known-hosts", bad, "--batch", "--json", "plan", "node2")
	if r.code != exitHostsFail || !strings.Contains(r.stdout, "CHANGED") || !strings.Contains(r.stdout, n2.HostKeyFingerprint()) {
		t.Errorf("changed host key: %s", r)
	}
}

func TestBatchInterruptedPush(t *testing.T) {
	rg := newRig(t, 2)
	rg.setup()
	rg.must("--batch", "lock", "main", "slow")
	rg.must("--batch", "exec", "--", "touch /tmp/slow-started; sleep 2")
	rg.must("--batch", "snap", rg.write("after", "after\n"), "--to", "/etc/after")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)

	cmd := exec.Command(binary, append(append([]string{}, rg.flags...), "--batch", "push", id)...)
	cmd.Env = append(os.Environ(), "HOME="+rg.dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the slow entry is running on every host.
	deadline := time.Now().Add(10 * time.Second)
	for _, h := range rg.fleet.Hosts {
		for time.Now().Before(deadline) {
			if _, err := h.ReadFile("/tmp/slow-started"); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitCancelled {
		t.Fatalf("interrupted push: %v\n%s", err, out.String())
	}
	for _, h := range rg.fleet.Hosts {
		st := rg.hostState(h)
		// The entry in progress finished; the next was abandoned.
		if st.Position != 1 {
			t.Errorf("%s position = %d, want 1\n%s", h.Name, st.Position, out.String())
		}
		if got := rg.hostFile(h, "/etc/after"); !strings.HasPrefix(got, "<") {
			t.Errorf("%s: entry after the interruption was applied", h.Name)
		}
		if o, _ := h.Exec(context.Background(), "sh", "-c", "ls -a /etc | grep -c '^.discoterm' || true"); strings.TrimSpace(string(o)) != "0" {
			t.Errorf("%s: temporary files left in /etc", h.Name)
		}
	}
	// Positions stay true: a new plan picks up where each host stopped.
	r := rg.must("--batch", "--json", "plan")
	for _, h := range r.lines(t, "plan.host") {
		if h["position"].(float64) != 1 || h["pending"].(float64) != 1 {
			t.Errorf("replan %s: %v", h["host"], h)
		}
	}
}

func TestBatchIdentitySurvivesAddressChange(t *testing.T) {
	rg := newRig(t, 1)
	rg.setup()
	h := rg.fleet.Hosts[0]
	// The same machine reached at its link-local address is the same host.
	kh := filepath.Join(rg.dir, "kh")
	b, _ := os.ReadFile(rg.fleet.KnownHosts)
	if err := os.WriteFile(kh, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := rg.must("--known-hosts", kh, "--batch", "--json", "add-host", h.LinkLocalZoned())
	hs := r.lines(t, "host")
	if len(hs) != 1 || hs[0]["id"] != "mid:"+h.MachineID || hs[0]["addr"] != h.LinkLocalZoned() {
		t.Fatalf("add-host by link-local: %s", r)
	}
	r = rg.must("--batch", "--json", "hosts")
	if n := len(r.lines(t, "host")); n != 1 {
		t.Fatalf("want one host after re-adding at a new address: %s", r)
	}
	// The forms every SSH tool takes: USER@[V6]:PORT and ssh://USER@HOST:PORT.
	for _, addr := range []string{"root@[" + h.ULA + "]:22", "ssh://root@[" + h.ULA + "]:22"} {
		r = rg.must("--known-hosts", kh, "--batch", "--json", "add-host", addr)
		if hs := r.lines(t, "host"); len(hs) != 1 || hs[0]["id"] != "mid:"+h.MachineID || hs[0]["addr"] != h.ULA {
			t.Fatalf("add-host %s: %s", addr, r)
		}
	}
}

func TestBatchUsageErrors(t *testing.T) {
	rg := &rig{t: t, dir: t.TempDir()}
	rg.flags = []string{"--store", filepath.Join(rg.dir, "s.db"), "--operator", "alice@jump"}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--batch"}, exitUsage, "needs a verb"},
		{[]string{"--batch", "frobnicate"}, exitUsage, "unknown verb"},
		{[]string{"--batch", "lock", "main"}, exitUsage, "lock needs a MESSAGE"},
		{[]string{"--batch", "--json", "hosts", "extra"}, exitUsage, ""},
		{[]string{"--batch", "unlock", "main", "--to", "/x"}, exitUsage, "does not take --to"},
		{[]string{"--batch", "snap", "/nonexistent", "--to", "/etc/x"}, exitUsage, "does not exist"},
		{[]string{"--batch", "snap", "/etc/hostname", "--to", "/etc/x"}, exitUsage, "you hold no lock"},
		{[]string{"--batch", "plan"}, exitUsage, "no branches yet"},
		{[]string{"--batch", "approve", "p123"}, exitUsage, "no plan"},
		{[]string{"--batch", "--iface", "nope0", "scan"}, exitUsage, "nope0"},
	}
	for _, c := range cases {
		r := rg.run(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want exit %d with %q, got %s", c.args, c.code, c.want, r)
		}
	}
	rg.must("--batch", "lock", "main", "paths")
	for _, c := range []struct{ to, want string }{
		{"etc/x", "relative"}, {"/etc/../x", `".."`}, {"/proc/sys/x", "kernel filesystem"}, {"/sys/x", "kernel filesystem"}, {"/dev/sda", "kernel filesystem"},
	} {
		r := rg.run("--batch", "snap", "/etc/hostname", "--to", c.to)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("snap --to %s: %s", c.to, r)
		}
	}
	r := rg.run("--batch", "snap", rg.dir, "--to", "/etc/x")
	if r.code != exitUsage || !strings.Contains(r.stderr, "is a directory") {
		t.Errorf("snap of a directory: %s", r)
	}
	big := filepath.Join(rg.dir, "big")
	f, _ := os.Create(big)
	f.Truncate(17 << 20)
	f.Close()
	r = rg.run("--batch", "snap", big, "--to", "/etc/x")
	if r.code != exitUsage || !strings.Contains(r.stderr, "limit is 16 MiB") {
		t.Errorf("snap too large: %s", r)
	}
	r = rg.run("--batch", "template", rg.write("bad.tmpl", "{{.X"), "--to", "/etc/x")
	if r.code != exitUsage || !strings.Contains(r.stderr, "bad.tmpl:1") {
		t.Errorf("bad template: %s", r)
	}
	r = rg.run("--batch", "template", rg.write("bin.tmpl", "\xff\xfe"), "--to", "/etc/x")
	if r.code != exitUsage || !strings.Contains(r.stderr, "not UTF-8") {
		t.Errorf("binary template: %s", r)
	}
	// JSON errors are JSON too.
	r = rg.run("--batch", "--json", "drop", "9")
	if r.code != exitUsage || len(r.lines(t, "error")) != 1 {
		t.Errorf("json error: %s", r)
	}
}

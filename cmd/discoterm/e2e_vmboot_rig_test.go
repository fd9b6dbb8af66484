package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/cmd/discoterm/internal/vmtest"
)

// The VM's link: its own subnet, so it meets no other test's bridge.
const (
	vmHostCIDR = "10.94.0.1/24"
	vmServer   = "10.94.0.1"
	vmIP       = "10.94.0.10"
	vmMAC      = "52:54:00:94:00:10"
	vmName     = "vm1"
	vmProfile  = "vm"
	vmHTTPPort = "18494"
)

// vmNeeds is what booting a real VM takes, or a skip saying what is
// missing (a failure with CI=true). Where KVM cannot run the VM's
// kernel (no /dev/kvm, or PVM) QEMU emulates it (TCG): slower, and the
// test's time bound is longer.
func vmNeeds(t *testing.T) vmtest.Env {
	t.Helper()
	env, err := vmtest.FindEnv()
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "needs root (a bridge, a tap, DHCP's port 67)"
	case err != nil:
		why = err.Error()
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: this test must run)", why)
		}
		t.Skip(why)
	}
	return env
}

// vmCmdline is the profile's kernel command line: quiet, since every
// character on an emulated serial port costs, and what the initramfs
// reads (dt.name, dt.key).
const vmCmdline = "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off tsc=reliable no_timer_check\n" +
	"dt.name={{.Name}} dt.key={{.KeyURL}}\n"

// vmBoot is one VM netbooted by `discoterm --batch provision`: the link,
// the boot profile, the machine file, the provisioning process and its
// boot events, and the VM. It is the base of the end-to-end tests that
// go on from "sshd up" (the scanner's hand-over, catch-up).
type vmBoot struct {
	t       *testing.T
	env     vmtest.Env
	link    *vmtest.Link
	dir     string
	base    []string // flags every discoterm call gets
	ctlKey  string   // the controller's SSH key (root's authorized key in the VM)
	known   string   // the known_hosts discoterm writes
	prov    *exec.Cmd
	events  *bootEvents
	vm      *vmtest.VM
	stopped chan struct{} // closed when provision exited
	scan    *exec.Cmd     // scan --watch on the link (startScan)
	scanned *bootEvents   // its JSON lines
}

// vmBootOptions: the machine file's branch, and what to do before
// provisioning starts and the VM is powered on (build the journal).
type vmBootOptions struct {
	Branch string
	Before func(*vmBoot)
}

// startVMBoot builds the initramfs and the profile, registers the VM's
// MAC, starts provisioning on a new test bridge and powers the VM on.
func startVMBoot(t *testing.T, ctx context.Context, env vmtest.Env, o vmBootOptions) *vmBoot {
	t.Helper()
	b := &vmBoot{t: t, env: env, dir: t.TempDir()}
	link, err := vmtest.NewLink(vmHostCIDR)
	if err != nil {
		t.Fatal(err)
	}
	b.link = link
	t.Cleanup(link.Close)

	b.ctlKey = filepath.Join(b.dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "controller", "-f", b.ctlKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(b.ctlKey + ".pub")
	prof := filepath.Join(b.dir, "boot", "profiles", vmProfile)
	if err := os.MkdirAll(prof, 0o755); err != nil {
		t.Fatal(err)
	}
	kernel, err := os.ReadFile(b.env.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(prof, "kernel"), kernel, 0o644)
	if err := vmtest.BuildInitramfs(filepath.Join(prof, "initrd"), vmtest.InitramfsOptions{
		Busybox: b.env.Busybox, Sshd: b.env.Sshd, ModDir: b.env.ModDir, AuthorizedKey: string(pub)}); err != nil {
		t.Fatalf("initramfs: %v", err)
	}
	os.WriteFile(filepath.Join(prof, "cmdline"), []byte(vmCmdline), 0o644)

	b.known = filepath.Join(b.dir, "known_hosts")
	// The controller's key also signs approvals: the one allowed signer.
	allowed := filepath.Join(b.dir, "allowed_signers")
	os.WriteFile(allowed, append([]byte("ops@vmboot "), pub...), 0o600)
	b.base = []string{"--batch", "--ssh-config", "none", "--store", filepath.Join(b.dir, "s.db"),
		"--known-hosts", b.known, "--identity", b.ctlKey, "--operator", "ops@vmboot", "--allowed-signers", allowed, "--timeout", "10s"}
	add := []string{"machine", "add", vmMAC, "--name", vmName, "--ip", vmIP, "--boot", vmProfile}
	if o.Branch != "" {
		add = append(add, "--branch", o.Branch)
	}
	b.must(add...)
	if o.Before != nil {
		o.Before(b)
	}

	b.prov = exec.CommandContext(ctx, binary, append(b.base, "--json", "provision", "--iface", link.Bridge,
		"--boot-dir", filepath.Join(b.dir, "boot"), "--http-port", vmHTTPPort)...)
	b.prov.Env = append(os.Environ(), "HOME="+b.dir, "SSH_AUTH_SOCK=")
	out, err := b.prov.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b.prov.Stderr = b.prov.Stdout
	if err := b.prov.Start(); err != nil {
		t.Fatal(err)
	}
	b.events = newBootEvents(out)
	b.stopped = make(chan struct{})
	go func() { b.events.wg.Wait(); b.prov.Wait(); close(b.stopped) }()
	t.Cleanup(b.stopProvision)
	if _, err := b.events.wait(ctx, func(e bootEvent) bool { return strings.Contains(e.Message, "provisioning on "+link.Bridge) }); err != nil {
		t.Fatalf("provision did not start: %v\n%s", err, b.events.dump())
	}

	b.vm, err = vmtest.StartVM(ctx, vmtest.VMOptions{Env: b.env, Tap: link.Tap, MAC: vmMAC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.vm.Stop) // before the link goes (cleanups run last first)
	return b
}

// startScan runs `scan --watch` on the VM's link, as an operator runs it
// beside a batch provision, once the bridge has a usable IPv6 link-local
// address (the scanner refuses a link without one). It is stopped at the
// end of the test.
func (b *vmBoot) startScan(ctx context.Context) {
	b.t.Helper()
	for {
		out, _ := exec.CommandContext(ctx, "ip", "-6", "-o", "addr", "show", "dev", b.link.Bridge, "scope", "link", "-tentative").Output()
		if strings.Contains(string(out), "fe80::") {
			break
		}
		select {
		case <-ctx.Done():
			b.failf("%s has no usable IPv6 link-local address: %v", b.link.Bridge, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	b.scan = exec.CommandContext(ctx, binary, append(append([]string{}, b.base...), "--json", "--iface", b.link.Bridge, "scan", "--watch", "--interval", "1s")...)
	b.scan.Env = append(os.Environ(), "HOME="+b.dir, "SSH_AUTH_SOCK=")
	out, err := b.scan.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	b.scan.Stderr = b.scan.Stdout
	if err := b.scan.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.scanned = newBootEvents(out)
	done := make(chan struct{})
	go func() { b.scanned.wg.Wait(); b.scan.Wait(); close(done) }()
	b.t.Cleanup(func() {
		b.scan.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.scan.Process.Kill()
			<-done
		}
	})
}

// must runs discoterm to its end (at most 30 s) and fails on an error.
func (b *vmBoot) must(args ...string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(append([]string{}, b.base...), args...)...)
	cmd.Env = append(os.Environ(), "HOME="+b.dir, "SSH_AUTH_SOCK=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.t.Fatalf("discoterm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// stopProvision interrupts provision and waits for it, at most 10 s.
func (b *vmBoot) stopProvision() {
	select {
	case <-b.stopped:
		return
	default:
	}
	b.prov.Process.Signal(os.Interrupt)
	select {
	case <-b.stopped:
	case <-time.After(10 * time.Second):
		b.prov.Process.Kill()
		<-b.stopped
	}
}

// sshArgs are OpenSSH's options for the VM: the controller's key, and
// only the known_hosts discoterm wrote, strictly (no trust on first use).
func (b *vmBoot) sshArgs(knownHosts string) []string {
	return []string{"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=2", "-o", "LogLevel=ERROR",
		"-F", "none", "-i", b.ctlKey, "root@" + vmIP}
}

// ssh runs a command in the VM over SSH, at most 10 s.
func (b *vmBoot) ssh(ctx context.Context, knownHosts, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh", append(b.sshArgs(knownHosts), command)...).CombinedOutput()
	return string(out), err
}

// failf fails with the boot's events and the VM's console.
func (b *vmBoot) failf(format string, args ...any) {
	b.t.Helper()
	scan := ""
	if b.scanned != nil {
		scan = "--- scan --watch:\n" + b.scanned.dump()
	}
	b.t.Fatalf("%s\n--- provision:\n%s%s--- VM console:\n%s", fmt.Sprintf(format, args...), b.events.dump(), scan, b.vm.Console())
}

// bootEvent is one JSON line of provision, with when it was read.
type bootEvent struct {
	At      time.Time `json:"-"`
	Raw     string    `json:"-"`
	Type    string    `json:"type"`
	Message string    `json:"message"`
	Service string    `json:"service"`
	MAC     string    `json:"mac"`
	Machine string    `json:"machine"`
	Request string    `json:"request"`
	Answer  string    `json:"answer"`
	Addr    string    `json:"addr"`
	Client  string    `json:"client"`
}

// bootEvents collects provision's output lines as they come.
type bootEvents struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	list    []bootEvent
	changed chan struct{}
	closed  bool
}

func newBootEvents(r io.Reader) *bootEvents {
	be := &bootEvents{changed: make(chan struct{})}
	be.wg.Add(1)
	go func() {
		defer be.wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			ev := bootEvent{At: time.Now(), Raw: sc.Text()}
			json.Unmarshal(sc.Bytes(), &ev) // a line that is no JSON keeps only Raw
			be.mu.Lock()
			be.list = append(be.list, ev)
			close(be.changed)
			be.changed = make(chan struct{})
			be.mu.Unlock()
		}
		be.mu.Lock()
		be.closed = true
		close(be.changed)
		be.mu.Unlock()
	}()
	return be
}

// wait returns the first event (from the start) that ok accepts.
func (be *bootEvents) wait(ctx context.Context, ok func(bootEvent) bool) (bootEvent, error) {
	seen := 0
	for {
		be.mu.Lock()
		for ; seen < len(be.list); seen++ {
			if ok(be.list[seen]) {
				ev := be.list[seen]
				be.mu.Unlock()
				return ev, nil
			}
		}
		ch, closed := be.changed, be.closed
		be.mu.Unlock()
		if closed {
			return bootEvent{}, fmt.Errorf("provision exited")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return bootEvent{}, ctx.Err()
		}
	}
}

// all is every event ok accepts so far.
func (be *bootEvents) all(ok func(bootEvent) bool) []bootEvent {
	be.mu.Lock()
	defer be.mu.Unlock()
	var out []bootEvent
	for _, e := range be.list {
		if ok(e) {
			out = append(out, e)
		}
	}
	return out
}

func (be *bootEvents) dump() string {
	var b strings.Builder
	for _, e := range be.all(func(bootEvent) bool { return true }) {
		b.WriteString(e.Raw + "\n")
	}
	return b.String()
}

package testfleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ssh runs the system OpenSSH client against target with the fleet's key
// and known_hosts (strict checking).
func sshRun(t testing.TB, f *Fleet, target string, remote ...string) (string, error) {
	t.Helper()
	args := []string{"-F", "/dev/null", "-i", f.ClientKey,
		"-o", "UserKnownHostsFile=" + f.KnownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=2", target}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh", append(args, remote...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestFleet(t *testing.T) {
	f := StartT(t, Options{N: 3, StablePrivacy: []int{3}})
	ctx := context.Background()
	h1, h2, h3 := f.Hosts[0], f.Hosts[1], f.Hosts[2]

	t.Run("names", func(t *testing.T) {
		if !strings.HasPrefix(f.Bridge, "dtb") || len(f.ID) != 4 {
			t.Errorf("bridge %q id %q", f.Bridge, f.ID)
		}
		for i, h := range f.Hosts {
			if want := fmt.Sprintf("node%d", i+1); h.Name != want {
				t.Errorf("name %q, want %q", h.Name, want)
			}
			if len(h.Veth) > 15 || len(h.Netns) == 0 {
				t.Errorf("veth %q netns %q", h.Veth, h.Netns)
			}
			if !netip.MustParsePrefix(f.Prefix).Contains(netip.MustParseAddr(h.ULA)) {
				t.Errorf("%s ULA %s outside %s", h.Name, h.ULA, f.Prefix)
			}
		}
	})

	t.Run("ssh-ula", func(t *testing.T) {
		for _, h := range f.Hosts {
			out, err := sshRun(t, f, "root@"+h.ULA, "hostname")
			if err != nil || out != h.Name {
				t.Errorf("ssh root@%s hostname = %q, %v; want %q", h.ULA, out, err, h.Name)
			}
		}
	})

	t.Run("ssh-link-local", func(t *testing.T) {
		for _, h := range f.Hosts {
			out, err := sshRun(t, f, "root@"+h.LinkLocalZoned(), "hostname")
			if err != nil || out != h.Name {
				t.Errorf("ssh root@%s hostname = %q, %v; want %q", h.LinkLocalZoned(), out, err, h.Name)
			}
		}
	})

	t.Run("ssh-config", func(t *testing.T) {
		out, err := exec.Command("ssh", "-F", f.SSHConfig, h2.Name, "hostname").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != h2.Name {
			t.Errorf("ssh -F ssh_config %s: %q %v", h2.Name, out, err)
		}
	})

	t.Run("link-local", func(t *testing.T) {
		for _, h := range []*Host{h1, h2} {
			mac, _ := netip.ParseAddr(h.LinkLocal)
			if !mac.Is6() || !strings.HasPrefix(h.LinkLocal, "fe80::d7:") {
				t.Errorf("%s link-local %s is not the EUI-64 of %s", h.Name, h.LinkLocal, h.MAC)
			}
		}
		if strings.HasPrefix(h3.LinkLocal, "fe80::d7:") || !strings.HasPrefix(h3.LinkLocal, "fe80::") {
			t.Errorf("stable-privacy host link-local %s looks like EUI-64", h3.LinkLocal)
		}
		out, err := h3.Exec(ctx, "ip", "-6", "addr", "show", "dev", "eth0", "scope", "link")
		if err != nil || !strings.Contains(string(out), h3.LinkLocal+"/64") {
			t.Errorf("eth0 of %s: %s %v", h3.Name, out, err)
		}
	})

	t.Run("identity", func(t *testing.T) {
		own, _ := os.ReadFile("/etc/machine-id")
		seen := map[string]bool{strings.TrimSpace(string(own)): true}
		for _, h := range f.Hosts {
			b, err := h.ReadFile("/etc/machine-id")
			id := strings.TrimSpace(string(b))
			if err != nil || id != h.MachineID || len(id) != 32 {
				t.Errorf("%s machine-id %q %v (want %q)", h.Name, id, err, h.MachineID)
			}
			if seen[id] {
				t.Errorf("%s machine-id %s not unique", h.Name, id)
			}
			seen[id] = true
			out, err := h.Exec(ctx, "hostname")
			if err != nil || strings.TrimSpace(string(out)) != h.Name {
				t.Errorf("Exec hostname on %s = %q %v", h.Name, out, err)
			}
			out, err = h.Exec(ctx, "ssh-keygen", "-lf", hostKeyPath+".pub")
			if err != nil || !strings.Contains(string(out), h.HostKeyFingerprint()) {
				t.Errorf("%s host key fingerprint %s, ssh-keygen says %q %v", h.Name, h.HostKeyFingerprint(), out, err)
			}
		}
		if host, _ := os.Hostname(); host == h1.Name {
			t.Errorf("the machine's hostname changed to %s", host)
		}
	})

	t.Run("isolation", func(t *testing.T) {
		const probe = "/etc/discoterm-probe"
		if out, err := sshRun(t, f, "root@"+h1.ULA, "echo hello > "+probe); err != nil {
			t.Fatalf("write over ssh: %s %v", out, err)
		}
		if b, err := h1.ReadFile(probe); err != nil || string(b) != "hello\n" {
			t.Errorf("host1 reads %q %v", b, err)
		}
		if _, err := h2.ReadFile(probe); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("host2 sees host1's probe: %v", err)
		}
		if _, err := h2.Exec(ctx, "test", "!", "-e", probe); err != nil {
			t.Errorf("host2 sees host1's probe: %v", err)
		}
		if _, err := os.Stat(probe); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the machine sees the probe: %v", err)
		}
		// Writes through the API, a deletion, and the machine's /root/.ssh.
		if err := h2.WriteFile("/etc/discoterm-w", []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
		out, err := h2.Exec(ctx, "stat", "-c", "%a %s", "/etc/discoterm-w")
		if err != nil || strings.TrimSpace(string(out)) != "640 1" {
			t.Errorf("stat on host2: %q %v", out, err)
		}
		if _, err := h2.Exec(ctx, "rm", "/etc/hostname"); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat("/etc/hostname"); err != nil {
			t.Errorf("deleting on a host removed the machine's file: %v", err)
		}
		out, err = h1.Exec(ctx, "ls", "-A", "/root/.ssh")
		if err != nil || strings.TrimSpace(string(out)) != "authorized_keys" {
			t.Errorf("/root/.ssh on host1: %q %v", out, err)
		}
	})

	t.Run("login-environment", func(t *testing.T) {
		out, err := sshRun(t, f, "root@"+h1.ULA, `echo "$HOME|$(wc -c < ~/.bashrc)|$(wc -c < ~/.profile)|$PYENV_ROOT"`)
		if err != nil || out != "/root|0|0|" {
			t.Errorf("login environment: %q %v", out, err)
		}
	})

	t.Run("sysctl", func(t *testing.T) {
		const name = "net.ipv6.icmp.echo_ignore_multicast"
		if v, err := h2.GetSysctl(name); err != nil || v != "0" {
			t.Errorf("default %s = %q %v", name, v, err)
		}
		root, _ := readSysctl(name)
		if err := h2.Sysctl(name, "1"); err != nil {
			t.Fatal(err)
		}
		out, err := h2.Exec(ctx, "cat", "/proc/sys/net/ipv6/icmp/echo_ignore_multicast")
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Errorf("host2 sees %q %v", out, err)
		}
		if v, _ := h1.GetSysctl(name); v != "0" {
			t.Errorf("host1 %s = %q", name, v)
		}
		if v, _ := readSysctl(name); v != root {
			t.Errorf("the machine's %s changed to %q", name, v)
		}
		if err := h2.Sysctl("kernel.hostname", "x"); err == nil {
			t.Error("a non-net sysctl was accepted")
		}
		h2.Sysctl(name, "0")
	})

	t.Run("down-up", func(t *testing.T) {
		if err := h2.Down(); err != nil {
			t.Fatal(err)
		}
		if out, err := sshRun(t, f, "root@"+h2.ULA, "true"); err == nil {
			t.Errorf("ssh to a downed host worked: %s", out)
		}
		if out, err := sshRun(t, f, "root@"+h1.ULA, "hostname"); err != nil || out != h1.Name {
			t.Errorf("other host affected: %q %v", out, err)
		}
		if err := h2.Up(); err != nil {
			t.Fatal(err)
		}
		for _, target := range []string{h2.ULA, h2.LinkLocalZoned()} {
			if out, err := sshRun(t, f, "root@"+target, "hostname"); err != nil || out != h2.Name {
				t.Errorf("after Up, ssh %s: %q %v", target, out, err)
			}
		}
	})

	t.Run("stop-start-sshd", func(t *testing.T) {
		if err := h3.StopSSHD(); err != nil {
			t.Fatal(err)
		}
		if out, err := sshRun(t, f, "root@"+h3.ULA, "true"); err == nil {
			t.Errorf("ssh with sshd stopped worked: %s", out)
		}
		if out, err := h3.Exec(ctx, "hostname"); err != nil || strings.TrimSpace(string(out)) != h3.Name {
			t.Errorf("Exec with sshd stopped: %q %v", out, err)
		}
		if err := h3.StartSSHD(); err != nil {
			t.Fatal(err)
		}
		if out, err := sshRun(t, f, "root@"+h3.ULA, "hostname"); err != nil || out != h3.Name {
			t.Errorf("after StartSSHD: %q %v", out, err)
		}
	})

	t.Run("command-stdin", func(t *testing.T) {
		cmd := h1.Command(ctx, "sh", "-c", "cat > /tmp/in && wc -c < /tmp/in && ls -A /tmp")
		cmd.Stdin = strings.NewReader("abc")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Fields(string(out))[0] != "3" || strings.TrimSpace(strings.Fields(string(out))[1]) != "in" {
			t.Errorf("Command with stdin: %q %v (want 3 and a private /tmp holding only \"in\")", out, err)
		}
	})

	t.Run("exec-error", func(t *testing.T) {
		_, err := h1.Exec(ctx, "sh", "-c", "echo oops >&2; exit 3")
		if err == nil || !strings.Contains(err.Error(), "oops") {
			t.Errorf("Exec error %v should carry the output", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		if _, err := h1.Exec(cctx, "sleep", "30"); err == nil || time.Since(t0) > 5*time.Second {
			t.Errorf("Exec ignored its context: %v after %v", err, time.Since(t0))
		}
	})
}

// fleetTraces lists what of f still exists on the machine.
func fleetTraces(f *Fleet, pids []int) []string {
	var left []string
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "dt"+f.ID+"h") {
			left = append(left, "netns "+l)
		}
	}
	out, _ = exec.Command("ip", "-o", "link").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " dt"+f.ID) || strings.Contains(l, " dtb"+f.ID) {
			left = append(left, "link "+l)
		}
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	if bytes.Contains(mounts, []byte(f.Dir)) {
		left = append(left, "mount under "+f.Dir)
	}
	out, _ = exec.Command("pgrep", "-f", "sshd_config.discoterm").Output()
	for _, p := range strings.Fields(string(out)) {
		n, _ := strconv.Atoi(p)
		if slices.Contains(pids, n) {
			left = append(left, "sshd "+p)
		}
	}
	for _, p := range pids {
		if _, alive := procStart(p); alive {
			left = append(left, "process "+strconv.Itoa(p))
		}
	}
	// Any process chrooted into the fleet's views.
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if r, err := os.Readlink("/proc/" + e.Name() + "/root"); err == nil && strings.HasPrefix(r, f.Dir) {
			left = append(left, "process "+e.Name()+" rooted in "+r)
		}
	}
	if exists(f.Dir) {
		left = append(left, "dir "+f.Dir)
	}
	if exists(filepath.Join(RegistryDir, f.ID)) {
		left = append(left, "registry entry")
	}
	return left
}

func fleetPids(f *Fleet) []int {
	var pids []int
	for _, h := range f.Hosts {
		pids = append(pids, h.Pid, h.SSHDPid)
	}
	return pids
}

func TestStopLeavesNothing(t *testing.T) {
	Require(t)
	f, err := Start(context.Background(), Options{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	// A session and a long command inside a host must not keep anything alive.
	go sshRun(t, f, "root@"+f.Hosts[0].ULA, "sleep 60")
	go f.Hosts[1].Exec(context.Background(), "sleep", "60")
	time.Sleep(300 * time.Millisecond)
	pids := fleetPids(f)
	t0 := time.Now()
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop: %v", time.Since(t0))
	if left := fleetTraces(f, pids); len(left) > 0 {
		t.Errorf("left after Stop: %v", left)
	}
	if err := f.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestDirChecks(t *testing.T) {
	Require(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "known_hosts"), []byte("mine\n"), 0o644)
	if f, err := Start(context.Background(), Options{N: 1, Dir: dir}); err == nil {
		f.Stop()
		t.Fatal("Start used a directory holding a known_hosts of its own")
	}
	// A directory with other files is fine; Stop removes only the fleet's.
	os.Remove(filepath.Join(dir, "known_hosts"))
	os.WriteFile(filepath.Join(dir, "store.db"), []byte("keep"), 0o644)
	f, err := Start(context.Background(), Options{N: 1, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "store.db" {
		t.Errorf("after Stop %s holds %v", dir, ents)
	}
	if left := fleetTraces(f, fleetPids(f)); len(left) != 1 || left[0] != "dir "+dir {
		t.Errorf("left after Stop: %v", left)
	}
}

// fleetIDsOnMachine lists ids of fleet-named namespaces and links.
func fleetIDsOnMachine() map[string]bool {
	ids := map[string]bool{}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if m := nsNameRe.FindStringSubmatch(e.Name()); m != nil {
			ids[m[1]] = true
		}
	}
	ents, _ = os.ReadDir("/sys/class/net")
	for _, e := range ents {
		if m := linkRe.FindStringSubmatch(e.Name()); m != nil {
			ids[m[1]+m[2]] = true
		}
	}
	return ids
}

// TestStartFailureLeavesNothing fails Start part way (deadlines at several
// points) and checks that nothing of the fleet remains.
func TestStartFailureLeavesNothing(t *testing.T) {
	Require(t)
	before := fleetIDsOnMachine()
	tmpBefore, _ := filepath.Glob(filepath.Join(os.TempDir(), "dtfleet-*"))
	failed := 0
	for _, d := range []time.Duration{5 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		f, err := Start(ctx, Options{N: 8})
		cancel()
		if err == nil {
			f.Stop()
			continue
		}
		failed++
		t.Logf("deadline %v: %v", d, err)
		if f != nil {
			t.Errorf("Start returned a fleet with error %v", err)
		}
	}
	if failed == 0 {
		t.Skip("every Start beat its deadline; nothing to check")
	}
	for id := range fleetIDsOnMachine() {
		if !before[id] && !exists(filepath.Join(RegistryDir, id)) {
			t.Errorf("fleet %s left namespaces or links after a failed Start", id)
		}
	}
	tmpAfter, _ := filepath.Glob(filepath.Join(os.TempDir(), "dtfleet-*"))
	for _, d := range tmpAfter {
		if !slices.Contains(tmpBefore, d) {
			id := strings.SplitN(strings.TrimPrefix(filepath.Base(d), "dtfleet-"), "-", 2)[0]
			if !exists(filepath.Join(RegistryDir, id)) {
				t.Errorf("failed Start left %s", d)
			}
		}
	}
}

func TestConcurrentFleets(t *testing.T) {
	Require(t)
	type res struct {
		f   *Fleet
		err error
	}
	ch := make(chan res, 2)
	for range 2 {
		go func() {
			f, err := Start(context.Background(), Options{N: 2, NamePrefix: "web"})
			ch <- res{f, err}
		}()
	}
	a, b := <-ch, <-ch
	for _, r := range []res{a, b} {
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { r.f.Stop() })
	}
	if a.f.ID == b.f.ID || a.f.Prefix == b.f.Prefix {
		t.Fatalf("fleets share id/prefix: %s %s", a.f.ID, b.f.ID)
	}
	pids := fleetPids(a.f)
	if err := a.f.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := fleetTraces(a.f, pids); len(left) > 0 {
		t.Errorf("left after Stop: %v", left)
	}
	for _, h := range b.f.Hosts {
		if out, err := sshRun(t, b.f, "root@"+h.ULA, "hostname"); err != nil || out != h.Name {
			t.Errorf("other fleet's %s: %q %v", h.Name, out, err)
		}
	}
}

// TestSweepDeadOwner starts a fleet in a child process, kills the child
// with SIGKILL and checks that Sweep removes everything.
func TestSweepDeadOwner(t *testing.T) {
	if os.Getenv("TESTFLEET_CHILD") == "1" {
		f, err := Start(context.Background(), Options{N: 2})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("DIR", f.Dir)
		os.Stdout.Sync()
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	Require(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSweepDeadOwner$")
	cmd.Env = append(os.Environ(), "TESTFLEET_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := out.Read(buf)
	line := strings.TrimSpace(string(buf[:n]))
	if !strings.HasPrefix(line, "DIR ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q", line)
	}
	f, err := Load(strings.TrimPrefix(line, "DIR "))
	if err != nil {
		t.Fatal(err)
	}
	// While the owner lives, Sweep and Stop on a loaded copy leave it alone.
	if err := Sweep(); err != nil {
		t.Logf("sweep: %v", err)
	}
	if out, err := sshRun(t, f, "root@"+f.Hosts[0].ULA, "hostname"); err != nil {
		t.Errorf("Sweep touched a live fleet: %q %v", out, err)
	}
	if err := f.Stop(); err == nil {
		t.Error("Stop of a fleet owned by a live process succeeded")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if err := Sweep(); err != nil {
		t.Errorf("sweep: %v", err)
	}
	if left := fleetTraces(f, fleetPids(f)); len(left) > 0 {
		t.Errorf("left after Sweep: %v", left)
	}
}

// TestSSHLatency reports the median time of `ssh root@host true` with
// OpenSSH's client (a clean login environment keeps it in the tens of ms).
func TestSSHLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	f := StartT(t, Options{N: 1})
	h := f.Hosts[0]
	var ds []time.Duration
	for range 21 {
		t0 := time.Now()
		if out, err := exec.Command("ssh", append(h.SSHArgs(), "true")...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v", out, err)
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	t.Logf("ssh root@%s true: median %v (min %v, max %v, n=%d)", h.Name, ds[len(ds)/2], ds[0], ds[len(ds)-1], len(ds))
	if ds[len(ds)/2] > time.Second {
		t.Errorf("median %v: the login environment is not clean", ds[len(ds)/2])
	}
}

func benchmarkStart(b *testing.B, n int) {
	Require(b)
	for b.Loop() {
		t0 := time.Now()
		f, err := Start(context.Background(), Options{N: n})
		if err != nil {
			b.Fatal(err)
		}
		up := time.Since(t0)
		t1 := time.Now()
		if err := f.Stop(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(up.Milliseconds()), "start-ms")
		b.ReportMetric(float64(time.Since(t1).Milliseconds()), "stop-ms")
	}
}

func BenchmarkStart10(b *testing.B) { benchmarkStart(b, 10) }
func BenchmarkStart50(b *testing.B) { benchmarkStart(b, 50) }

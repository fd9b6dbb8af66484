package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// provisionRun is a running `provision` whose output lines are read as
// they come.
type provisionRun struct {
	t     *testing.T
	lines chan string
	seen  []string
	cmd   *exec.Cmd
}

func startProvision(t *testing.T, dir string, args ...string) *provisionRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "SSH_AUTH_SOCK=")
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	p := &provisionRun{t: t, lines: make(chan string, 1000), cmd: cmd}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	go func() {
		defer close(p.lines)
		buf := make([]byte, 1<<16)
		var acc string
		for {
			n, err := pr.Read(buf)
			acc += string(buf[:n])
			for strings.Contains(acc, "\n") {
				l, rest, _ := strings.Cut(acc, "\n")
				p.lines <- l
				acc = rest
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *provisionRun) waitFor(frag string) string {
	p.t.Helper()
	for l := range p.lines {
		p.seen = append(p.seen, l)
		if strings.Contains(l, frag) {
			return l
		}
	}
	p.t.Fatalf("no line with %q; output:\n%s", frag, strings.Join(p.seen, "\n"))
	return ""
}

func bootDir(t *testing.T, dir string, profiles ...string) string {
	boot := filepath.Join(dir, "tftp")
	for _, name := range profiles {
		prof := filepath.Join(boot, "profiles", name)
		os.MkdirAll(prof, 0o755)
		cmdline := "hostname={{.Name}} ip={{.IP}} key={{.KeyURL}}"
		if name == "discover" {
			cmdline = "mac={{.MAC}} report={{.ReportURL}}"
		}
		for f, c := range map[string]string{"kernel": "KERNEL", "initrd": "I", "cmdline": cmdline} {
			os.WriteFile(filepath.Join(prof, f), []byte(c), 0o644)
		}
	}
	return boot
}

// udhcpc plays a machine's PXE firmware (its vendor class): provision
// tells that from a booted system's own DHCP client, which starts no boot.
func udhcpc(t *testing.T, bb, ns, veth, dir string) string {
	t.Helper()
	script := filepath.Join(dir, "script")
	lease := filepath.Join(dir, "lease")
	os.Remove(lease)
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip $hostname $boot_file\" > "+lease+" && ip addr add $ip/24 dev $interface\nexit 0\n"), 0o755)
	out, err := exec.Command("ip", "netns", "exec", ns, bb, "udhcpc", "-i", veth+"p", "-f", "-q", "-n", "-t", "3", "-T", "1",
		"-V", "PXEClient:Arch:00000:UNDI:002001", "-s", script).CombinedOutput()
	got, _ := os.ReadFile(lease)
	if err != nil {
		t.Logf("udhcpc: %v %s", err, out)
	}
	return strings.TrimSpace(string(got))
}

func machineStages(t *testing.T, base []string) map[string]map[string]any {
	t.Helper()
	out, err := exec.Command(binary, append(base, "--json", "machine", "list")...).Output()
	if err != nil {
		t.Fatalf("machine list: %v %s", err, out)
	}
	st := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["type"] == "machine" {
			st[m["name"].(string)] = m
		}
	}
	return st
}

// TestBatchProvisionNoSSHD: a machine that got its lease and fetched its
// kernel but whose sshd never answers is reported "no sshd after D" (an
// event, kept in its boot history) and machine list shows each stage as
// it is reached.
func TestBatchProvisionNoSSHD(t *testing.T) {
	bb := provisionNeeds(t)
	br, ns, veth := provisionLink(t, "10.84.0.1/24", "52:54:00:84:00:07")
	dir := t.TempDir()
	boot := bootDir(t, dir, "debian")
	base := []string{"--batch", "--ssh-config", "none", "--store", filepath.Join(dir, "s.db")}
	if out, err := exec.Command(binary, append(base, "machine", "add", "52:54:00:84:00:07", "--name", "web7", "--ip", "10.84.0.7", "--boot", "debian")...).CombinedOutput(); err != nil {
		t.Fatalf("machine add: %v %s", err, out)
	}
	if s := machineStages(t, base)["web7"]; s["stage"] != "registered" {
		t.Errorf("before its boot: %v", s)
	}
	p := startProvision(t, dir, append(base, "--json", "provision", "--iface", br, "--boot-dir", boot, "--http-port", "18484", "--sshd-timeout", "3s")...)
	p.waitFor("provisioning on " + br)
	if got := udhcpc(t, bb, ns, veth, dir); got != "10.84.0.7 web7 undionly.kpxe" {
		t.Fatalf("lease %q", got)
	}
	p.waitFor(`"answer":"ACK"`)
	if s := machineStages(t, base)["web7"]; s["stage"] != "DHCP offered" {
		t.Errorf("after DHCP: %v", s)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "wget", "-q", "-O", "/dev/null", "http://10.84.0.1:18484/profile/debian/kernel").CombinedOutput(); err != nil {
		t.Fatalf("wget kernel: %v %s", err, out)
	}
	fetched := time.Now()
	p.waitFor(`"request":"/profile/debian/kernel","answer":"200"`)
	if s := machineStages(t, base)["web7"]; s["stage"] != "kernel fetched" {
		t.Errorf("after the kernel: %v", s)
	}
	l := p.waitFor(`"service":"watch"`)
	if waited := time.Since(fetched); waited < 3*time.Second || !strings.Contains(l, `"machine":"web7"`) || !strings.Contains(l, "web7: no sshd after 3s") || !strings.Contains(l, `"level":"warn"`) {
		t.Errorf("after %s: %s", waited, l)
	}
	if s := machineStages(t, base)["web7"]; s["stage"] != "no sshd" || s["stage_text"] != "no sshd after 3s" {
		t.Errorf("after the timeout: %v", s)
	}
	time.Sleep(2 * time.Second) // reported once per boot, not on every tick
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
	hist, _ := exec.Command(binary, append(base, "--json", "machine", "history", "web7")...).Output()
	if n := strings.Count(string(hist), `"service":"watch"`); n != 1 {
		t.Errorf("%d no-sshd reports in the history, want 1:\n%s", n, hist)
	}
}

// TestBatchProvisionUnknown: with --unknown an unregistered MAC gets an
// address of the pool and the discovery boot, whose report of its MAC and
// hardware is an event; nothing is registered. Without --unknown it gets
// nothing, and is logged once.
func TestBatchProvisionUnknown(t *testing.T) {
	bb := provisionNeeds(t)
	br, ns, veth := provisionLink(t, "10.85.0.1/24", "52:54:00:85:00:99")
	dir := t.TempDir()
	boot := bootDir(t, dir, "debian", "discover")
	base := []string{"--batch", "--ssh-config", "none", "--store", filepath.Join(dir, "s.db")}
	if out, err := exec.Command(binary, append(base, "machine", "add", "52:54:00:85:00:07", "--name", "web7", "--ip", "10.85.0.254", "--boot", "debian")...).CombinedOutput(); err != nil {
		t.Fatalf("machine add: %v %s", err, out)
	}
	// Ignored without --unknown: no lease, one log line however often it asks.
	p := startProvision(t, dir, append(base, "--json", "provision", "--iface", br, "--boot-dir", boot, "--http-port", "18485")...)
	p.waitFor("provisioning on " + br)
	if got := udhcpc(t, bb, ns, veth, dir); got != "" {
		t.Fatalf("an unknown MAC got a lease without --unknown: %q", got)
	}
	udhcpc(t, bb, ns, veth, dir)
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
	for l := range p.lines {
		p.seen = append(p.seen, l)
	}
	if n := strings.Count(strings.Join(p.seen, "\n"), "from unregistered MAC 52:54:00:85:00:99 ignored"); n != 1 {
		t.Errorf("logged %d times, want once an hour:\n%s", n, strings.Join(p.seen, "\n"))
	}

	p = startProvision(t, dir, append(base, "--json", "provision", "--unknown", "--iface", br, "--boot-dir", boot, "--http-port", "18485")...)
	p.waitFor("unknown MACs get the discovery boot")
	// The pool is the top of the subnet, skipping what machine files hold.
	if got := udhcpc(t, bb, ns, veth, dir); got != "10.85.0.253  undionly.kpxe" {
		t.Fatalf("discovery lease %q, want 10.85.0.253 (254 is web7's) without a hostname", got)
	}
	p.waitFor(`"answer":"ACK"`)
	script := filepath.Join(dir, "discover.ipxe")
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "wget", "-q", "-O", script, "http://10.85.0.1:18485/discover.ipxe").CombinedOutput(); err != nil {
		t.Fatalf("wget script: %v %s", err, out)
	}
	if got, _ := os.ReadFile(script); string(got) != "#!ipxe\nkernel http://10.85.0.1:18485/profile/discover/kernel mac=52:54:00:85:00:99 report=http://10.85.0.1:18485/report\ninitrd http://10.85.0.1:18485/profile/discover/initrd\nboot\n" {
		t.Errorf("discovery script %q", got)
	}
	// What the discovery initrd sends; a hostile line is skipped, text escaped.
	report := "mac=52:54:00:85:00:99\ncpu Intel(R) Xeon(R) \x1b[2J E-2224\nmem_kb=16318412\nBAD KEY=x\ndisk_sda=480103981056\n"
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "wget", "-q", "-O", "-", "--post-data", report, "http://10.85.0.1:18485/report").CombinedOutput(); err != nil || !strings.Contains(string(out), "nothing is registered") {
		t.Fatalf("report: %v %s", err, out)
	}
	l := p.waitFor(`"request":"/report"`)
	var ev map[string]any
	if err := json.Unmarshal([]byte(l), &ev); err != nil {
		t.Fatal(err)
	}
	hw, _ := ev["hardware"].(map[string]any)
	msg, _ := ev["message"].(string)
	if ev["mac"] != "52:54:00:85:00:99" || hw["mem_kb"] != "16318412" || hw["disk_sda"] != "480103981056" || len(hw) != 4 ||
		!strings.Contains(msg, "discovered unknown machine 52:54:00:85:00:99 at 10.85.0.253:") || !strings.Contains(msg, "machine add 52:54:00:85:00:99 --name NAME --ip ADDR") ||
		strings.Contains(msg, "\x1b") {
		t.Errorf("report event: %s", l)
	}
	// The registered machine's own files stay its own.
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "wget", "-q", "-O", "/dev/null", "http://10.85.0.1:18485/boot/web7.ipxe").CombinedOutput(); err == nil {
		t.Errorf("an unknown machine fetched web7's script: %s", out)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "machines"))
	if len(ents) != 1 {
		t.Errorf("the discovery registered something: %v", ents)
	}
}

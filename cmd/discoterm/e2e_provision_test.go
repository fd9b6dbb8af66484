package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func provisionNeeds(t *testing.T) string {
	t.Helper()
	why := ""
	bb, err := exec.LookPath("busybox")
	switch {
	case os.Geteuid() != 0:
		why = "needs root (a bridge, a namespace, DHCP's port 67)"
	case err != nil:
		why = "needs busybox (apt-get install busybox-static)"
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: this test must run)", why)
		}
		t.Skip(why)
	}
	return bb
}

func ipRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// provisionLink is a test bridge (prefix dtn) with one namespace host
// of the given MAC on it, all removed at the end of the test.
func provisionLink(t *testing.T, cidr, mac string) (br, ns, veth string) {
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	br, ns, veth = "dtn"+id, "dtn"+id+"-p", "dtv"+id
	ipRun(t, "link", "add", br, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", br).Run() })
	ipRun(t, "addr", "add", cidr, "dev", br)
	ipRun(t, "link", "set", br, "up")
	ipRun(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ipRun(t, "link", "add", veth, "type", "veth", "peer", "name", veth+"p")
	ipRun(t, "link", "set", veth+"p", "netns", ns)
	ipRun(t, "-n", ns, "link", "set", veth+"p", "address", mac, "up")
	ipRun(t, "link", "set", veth, "master", br, "up")

	return br, ns, veth
}

// TestBatchProvision: `provision --iface` on a test bridge hands a
// namespace host its registered address and hostname and serves it the
// boot file by TFTP; every request is a "boot" JSON line.
func TestBatchProvision(t *testing.T) {
	bb := provisionNeeds(t)
	br, ns, veth := provisionLink(t, "10.81.0.1/24", "52:54:00:81:00:07")

	dir := t.TempDir()
	boot := filepath.Join(dir, "tftp")
	os.MkdirAll(boot, 0o755)
	os.WriteFile(filepath.Join(boot, "undionly.kpxe"), []byte(strings.Repeat("pxe", 4000)), 0o644)
	prof := filepath.Join(boot, "profiles", "debian")
	os.MkdirAll(prof, 0o755)
	for f, c := range map[string]string{"kernel": "K", "initrd": "I", "cmdline": "hostname={{.Name}} ip={{.IP}} key={{.KeyURL}}"} {
		os.WriteFile(filepath.Join(prof, f), []byte(c), 0o644)
	}
	base := []string{"--batch", "--ssh-config", "none", "--store", filepath.Join(dir, "s.db")}
	if out, err := exec.Command(binary, append(base, "machine", "add", "52:54:00:81:00:07", "--name", "web7", "--ip", "10.81.0.7", "--boot", "debian")...).CombinedOutput(); err != nil {
		t.Fatalf("machine add: %v %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(base, "--json", "provision", "--iface", br, "--boot-dir", boot, "--http-port", "18481")...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "SSH_AUTH_SOCK=")
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	lines := make(chan string, 100)
	go func() {
		buf := make([]byte, 1<<16)
		var acc string
		for {
			n, err := pr.Read(buf)
			acc += string(buf[:n])
			for strings.Contains(acc, "\n") {
				l, rest, _ := strings.Cut(acc, "\n")
				lines <- l
				acc = rest
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	var seen []string
	waitFor := func(frag string) {
		t.Helper()
		for l := range lines {
			seen = append(seen, l)
			if strings.Contains(l, frag) {
				return
			}
		}
		t.Fatalf("no line with %q; output:\n%s", frag, strings.Join(seen, "\n"))
	}
	waitFor("provisioning on " + br)

	script := filepath.Join(dir, "script")
	lease := filepath.Join(dir, "lease")
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip $hostname $boot_file\" > "+lease+" && ip addr add $ip/24 dev $interface\nexit 0\n"), 0o755)
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "udhcpc", "-i", veth+"p", "-f", "-q", "-n", "-t", "3", "-T", "1", "-s", script).CombinedOutput(); err != nil {
		t.Fatalf("udhcpc: %v %s", err, out)
	}
	if got, _ := os.ReadFile(lease); strings.TrimSpace(string(got)) != "10.81.0.7 web7 undionly.kpxe" {
		t.Fatalf("lease %q, want 10.81.0.7 web7 undionly.kpxe", got)
	}
	waitFor(`"type":"boot"`)
	waitFor(`"answer":"ACK"`)
	got := filepath.Join(dir, "got")
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "tftp", "-g", "-b", "1428", "-r", "undionly.kpxe", "-l", got, "10.81.0.1").CombinedOutput(); err != nil {
		t.Fatalf("tftp: %v %s", err, out)
	}
	waitFor(`"service":"tftp","mac":"52:54:00:81:00:07","machine":"web7","request":"undionly.kpxe","answer":"sent"`)
	script2 := filepath.Join(dir, "web7.ipxe")
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "wget", "-q", "-O", script2, "http://10.81.0.1:18481/boot/web7.ipxe").CombinedOutput(); err != nil {
		t.Fatalf("wget: %v %s", err, out)
	}
	got2, _ := os.ReadFile(script2)
	_, keyURL, ok := strings.Cut(string(got2), " key=")
	keyURL, _, _ = strings.Cut(keyURL, "\n")
	if !ok || !strings.HasPrefix(string(got2), "#!ipxe\nkernel http://10.81.0.1:18481/profile/debian/kernel hostname=web7 ip=10.81.0.7 key=http://10.81.0.1:18481/key/web7/") ||
		!strings.HasSuffix(string(got2), "\ninitrd http://10.81.0.1:18481/profile/debian/initrd\nboot\n") {
		t.Errorf("iPXE script: %q", got2)
	}
	// The key made for web7 is trusted before it boots, and handed over once.
	kh, _ := os.ReadFile(filepath.Join(dir, ".ssh", "known_hosts"))
	priv := filepath.Join(dir, "hostkey")
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "wget", "-q", "-O", priv, keyURL).CombinedOutput(); err != nil {
		t.Fatalf("key: %v %s", err, out)
	}
	os.Chmod(priv, 0o600) // ssh-keygen reads no key others can
	pub, err := exec.Command("ssh-keygen", "-y", "-f", priv).Output()
	f := strings.Fields(string(pub))
	if err != nil || len(f) < 2 || !strings.Contains(string(kh), "10.81.0.7 "+f[0]+" "+f[1]) {
		t.Errorf("known_hosts %q does not trust the handed-over key %q (%v)", kh, pub, err)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "wget", "-q", "-O", priv+"2", keyURL).CombinedOutput(); err == nil {
		t.Errorf("the key was handed over twice: %s", out)
	}
	waitFor(`"service":"http","machine":"web7","request":"/boot/web7.ipxe","answer":"200"`)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	// The requests are web7's boot history, after the run too.
	hist, err := exec.Command(binary, append(base, "--json", "machine", "history", "web7")...).CombinedOutput()
	for _, want := range []string{`"service":"dhcp","mac":"52:54:00:81:00:07","machine":"web7","request":"DISCOVER","answer":"OFFER"`,
		`"service":"tftp"`, `"request":"/boot/web7.ipxe","answer":"200"`} {
		if err != nil || !strings.Contains(string(hist), want) {
			t.Errorf("history lacks %s: %v\n%s", want, err, hist)
		}
	}
}

// TestBatchProvisionRefusesBesideOtherDHCP: a DHCP server already on the
// link (busybox udhcpd) stops provision with exit 2 and a sentence.
func TestBatchProvisionRefusesBesideOtherDHCP(t *testing.T) {
	bb := provisionNeeds(t)
	br, ns, veth := provisionLink(t, "10.82.0.1/24", "52:54:00:82:00:02")
	ipRun(t, "-n", ns, "addr", "add", "10.82.0.2/24", "dev", veth+"p")
	dir := t.TempDir()
	conf := filepath.Join(dir, "udhcpd.conf")
	os.WriteFile(conf, []byte("start 10.82.0.100\nend 10.82.0.150\ninterface "+veth+"p\nlease_file "+dir+"/leases\npidfile "+dir+"/pid\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "leases"), nil, 0o644)
	other := exec.Command("ip", "netns", "exec", ns, bb, "udhcpd", "-f", conf)
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	base := []string{"--batch", "--ssh-config", "none", "--store", filepath.Join(dir, "s.db")}
	var out []byte
	var err error
	for try := 0; try < 5; try++ { // udhcpd takes a moment to listen
		out, err = exec.Command(binary, append(base, "provision", "--iface", br, "--boot-dir", dir, "--for", "3s")...).CombinedOutput()
		if err != nil {
			break
		}
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "another DHCP server (10.82.0.2) answers on "+br+"; discoterm will not hand out leases beside it: stop it, or give --force") {
		t.Fatalf("provision beside udhcpd: %v %s", err, out)
	}
}

// TestBatchProvisionRefusesProfileWithoutKernel: a machine whose boot
// profile has no kernel stops provision before anything is served.
func TestBatchProvisionRefusesProfileWithoutKernel(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "profiles", "debian")
	os.MkdirAll(prof, 0o755)
	os.WriteFile(filepath.Join(prof, "initrd"), []byte("I"), 0o644)
	os.WriteFile(filepath.Join(prof, "cmdline"), []byte(""), 0o644)
	base := []string{"--batch", "--ssh-config", "none", "--store", filepath.Join(dir, "s.db")}
	if out, err := exec.Command(binary, append(base, "machine", "add", "52:54:00:83:00:07", "--name", "web7", "--ip", "10.83.0.7", "--boot", "debian")...).CombinedOutput(); err != nil {
		t.Fatalf("machine add: %v %s", err, out)
	}
	out, err := exec.Command(binary, append(base, "provision", "--iface", "lo", "--boot-dir", dir, "--force")...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "machine web7: boot profile "+prof+" has no kernel file; put the kernel (vmlinuz) there") {
		t.Fatalf("profile without kernel: %v %s", err, out)
	}
}

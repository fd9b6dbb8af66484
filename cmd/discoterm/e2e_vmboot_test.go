package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestVMBoot: a real VM (QEMU, KVM, the iPXE boot ROM) on a test bridge
// boots from the network through `discoterm --batch provision`: DHCP
// gives it its registered address, iPXE fetches its script, kernel and
// initrd over HTTP, the initramfs fetches the host key discoterm made
// for it — once — and starts sshd, and the first SSH contact verifies
// that pre-registered key with no trust on first use.
func TestVMBoot(t *testing.T) {
	env := vmNeeds(t)
	bound := 60 * time.Second
	if !env.KVM {
		bound = 120 * time.Second // emulated: slower, still bounded
		t.Logf("QEMU emulates the VM (TCG): %s", env.KVMWhy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	b := startVMBoot(t, ctx, env)
	on := b.vm.PowerOn
	since := func(at time.Time) time.Duration { return at.Sub(on).Round(10 * time.Millisecond) }
	mine := func(service, request, answer string) func(bootEvent) bool {
		return func(e bootEvent) bool {
			return e.Type == "boot" && e.Machine == vmName && e.Service == service &&
				strings.HasPrefix(e.Request, request) && (answer == "" || e.Answer == answer)
		}
	}
	step := func(what, service, request, answer string) bootEvent {
		t.Helper()
		ev, err := b.events.wait(ctx, mine(service, request, answer))
		if err != nil {
			b.failf("%s: no %s %s %s event: %v", what, service, request, answer, err)
		}
		t.Logf("power-on → %-22s %v", what, since(ev.At))
		return ev
	}

	offer := step("DHCP offer", "dhcp", "DISCOVER", "OFFER")
	if offer.Addr != vmIP || offer.MAC != vmMAC {
		b.failf("offer %+v, want %s for %s", offer, vmIP, vmMAC)
	}
	step("DHCP ack", "dhcp", "REQUEST", "ACK")
	// iPXE's IPv6 configuration ends on provision's empty router
	// advertisement instead of waiting ~13 s for a router.
	if ra := step("IPv6 RS answered", "ndp", "RS", "RA"); !strings.HasPrefix(ra.Addr, "fe80::") || ra.MAC != vmMAC {
		b.failf("router solicitation %+v: want one from %s's link-local address", ra, vmMAC)
	}
	step("iPXE script", "http", "/boot/"+vmName+".ipxe", "200")
	kernel := step("kernel", "http", "/profile/"+vmProfile+"/kernel", "200")
	initrd := step("initrd", "http", "/profile/"+vmProfile+"/initrd", "200")
	key := step("host key handed over", "http", "/key/"+vmName+"/", "200")
	for _, e := range []bootEvent{kernel, initrd, key} {
		if e.Addr != vmIP {
			b.failf("%s was fetched from %s, want %s", e.Request, e.Addr, vmIP)
		}
	}
	if _, err := b.vm.WaitConsole(ctx, "dtvm: sshd up"); err != nil {
		b.failf("%v", err)
	}

	// The first SSH contact: only the known_hosts discoterm wrote before
	// the VM ever booted, checked strictly.
	var out string
	var err error
	for {
		out, err = b.ssh(ctx, b.known, "hostname; cat /proc/cmdline")
		if err == nil || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	sshUp := time.Now()
	if err != nil {
		b.failf("ssh %s with the pre-registered key: %v\n%s", vmIP, err, out)
	}
	t.Logf("power-on → %-22s %v", "sshd up (first command)", since(sshUp))
	host, cmdline, _ := strings.Cut(out, "\n")
	if host != vmName {
		b.failf("the VM calls itself %q, want %s", host, vmName)
	}
	// The check is real: without discoterm's known_hosts the same key is
	// refused.
	empty := filepath.Join(b.dir, "empty_known_hosts")
	os.WriteFile(empty, nil, 0o644)
	if out, err := b.ssh(ctx, empty, "true"); err == nil || !strings.Contains(out, "Host key verification failed") {
		b.failf("ssh with no known host key: %v %s, want it refused", err, out)
	}

	// The key is handed over once: the VM itself, from its registered
	// address, asking with the same token again gets nothing.
	_, keyURL, ok := strings.Cut(cmdline, "dt.key=")
	keyURL, _, _ = strings.Cut(keyURL, " ")
	keyURL = strings.TrimSpace(keyURL)
	if !ok || !strings.HasPrefix(keyURL, "http://"+vmServer+":"+vmHTTPPort+"/key/"+vmName+"/") {
		b.failf("kernel command line %q has no key URL", cmdline)
	}
	if out, err := b.ssh(ctx, b.known, "wget -q -O /tmp/again '"+keyURL+"' && echo GOT"); err == nil || strings.Contains(out, "GOT") {
		b.failf("the host key was handed over twice: %v %s", err, out)
	}
	step("second key fetch refused", "http", "/key/"+vmName+"/", "410")

	// discoterm's own SSH trusts it from the first contact too: add-host
	// (no --accept-new) records the key made for vm1, and the VM can be
	// probed (busybox is enough for the host scripts).
	priv, err := os.ReadFile(filepath.Join(b.dir, "netboot-keys", vmName))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	r := b.must("--json", "add-host", "root@"+vmIP, "--name", vmName)
	if fp := ssh.FingerprintSHA256(signer.PublicKey()); !strings.Contains(r, `"host_key":"`+fp+`"`) || !strings.Contains(r, `"trusted":true`) ||
		!strings.Contains(r, `"hostname":"`+vmName+`"`) {
		b.failf("add-host %s: want it trusted with the key made for %s (%s):\n%s", vmIP, vmName, fp, r)
	}
	t.Logf("power-on → %-22s %v", "add-host trusted", since(time.Now()))

	// A two-entry journal reaches it like any host: busybox's sh and
	// applets run discoterm's host programs (its unshare cannot sandbox,
	// which the plan says).
	b.must("lock", "main", "netboot")
	b.must("assign", vmName, "main")
	motd := filepath.Join(b.dir, "motd")
	os.WriteFile(motd, []byte("netbooted by discoterm\n"), 0o644)
	b.must("snap", motd, "--to", "/etc/motd")
	b.must("exec", "--creates", "/etc/dt-marker", "--", "sh", "-c", "'echo made > /etc/dt-marker'")
	plan := regexp.MustCompile(`"type":"plan","v":1,.*"plan":"(p[0-9a-f]+)"`).FindStringSubmatch(b.must("--json", "plan"))
	if plan == nil {
		b.failf("plan printed no plan id")
	}
	b.must("approve", plan[1])
	b.must("up", "--yes")
	if out, err := b.ssh(ctx, b.known, "cat /etc/motd /etc/dt-marker; grep position /var/lib/discoterm/state"); err != nil ||
		out != "netbooted by discoterm\nmade\nposition 2\n" {
		b.failf("files after the push: %v %q", err, out)
	}
	if hs := b.must("--json", "hosts"); !strings.Contains(hs, `"position":2`) || !strings.Contains(hs, `"head":2`) {
		b.failf("hosts after the push: %s", hs)
	}
	t.Logf("power-on → %-22s %v", "position 2 of 2 (push)", since(time.Now()))

	// Hand-over (branch handover, after the merge): in place of add-host,
	// assign and up, the scanner (scan --iface b.link.Bridge) finds vmMAC, matches the
	// machine file, verifies the pre-registered key, puts the VM on its
	// branch and catch-up replays the journal; read the files back with
	// b.ssh and log power-on → "position M of M" here.

	if os.Getenv("DISCOTERM_VM_CONSOLE") == "1" {
		t.Logf("VM console:\n%s", b.vm.Console())
		for _, e := range b.events.all(func(e bootEvent) bool { return e.Type == "boot" }) {
			t.Logf("%v %s", since(e.At), e.Raw)
		}
	}
	b.stopProvision()
	hist := b.must("--json", "machine", "history", vmName)
	for _, want := range []string{`"service":"dhcp","mac":"` + vmMAC + `","machine":"` + vmName + `","request":"DISCOVER","answer":"OFFER"`,
		`"request":"/boot/` + vmName + `.ipxe","answer":"200"`, `"request":"/profile/` + vmProfile + `/kernel","answer":"200"`,
		`"request":"/profile/` + vmProfile + `/initrd","answer":"200"`, `"answer":"410"`} {
		if !strings.Contains(hist, want) {
			t.Errorf("machine history lacks %s:\n%s", want, hist)
		}
	}
}

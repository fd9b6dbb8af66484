package main

import (
	"context"
	"encoding/json"
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
// for it — once — and starts sshd. Then the hand-over: `scan --watch` on
// the link finds its MAC, matches the machine file, verifies the key
// made for it (no trust on first use: known_hosts is not written),
// names it, puts it on the machine's branch and catch-up replays the
// branch's two-entry journal from the start; its files are read back
// over SSH.
func TestVMBoot(t *testing.T) {
	env := vmNeeds(t)
	bound := 60 * time.Second
	if !env.KVM {
		bound = 120 * time.Second // emulated: slower, still bounded
		t.Logf("QEMU emulates the VM (TCG): %s", env.KVMWhy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	// The branch's journal exists before the machine ever boots: a file
	// and a command (busybox's sh and applets run discoterm's host
	// programs; its unshare cannot sandbox, which the plan says).
	journal := func(b *vmBoot) {
		b.must("lock", "main", "netboot")
		motd := filepath.Join(b.dir, "motd")
		os.WriteFile(motd, []byte("netbooted by discoterm\n"), 0o644)
		b.must("snap", motd, "--to", "/etc/motd")
		b.must("exec", "--creates", "/etc/dt-marker", "--", "sh", "-c", "'echo made > /etc/dt-marker'")
		plan := regexp.MustCompile(`"type":"plan","v":1,.*"plan":"(p[0-9a-f]+)"`).FindStringSubmatch(b.must("--json", "plan"))
		if plan == nil {
			t.Fatalf("plan printed no plan id")
		}
		b.must("approve", plan[1])
	}
	b := startVMBoot(t, ctx, env, vmBootOptions{Branch: "main", Before: journal})
	on := b.vm.PowerOn
	// provision recorded the made key for the machine's address before the
	// boot; the hand-over must not add to it.
	known, err := os.ReadFile(b.known)
	if err != nil || !strings.Contains(string(known), vmIP) {
		b.failf("known_hosts before the boot: %v %q", err, known)
	}
	b.startScan(ctx)
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
	if offer.Client != "ipxe" {
		b.failf("the iPXE ROM's DISCOVER is from a %q client, want ipxe", offer.Client)
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
	up, err := b.vm.WaitConsole(ctx, "dtvm: sshd up")
	if err != nil {
		b.failf("%v", err)
	}
	t.Logf("power-on → %-22s %v", "sshd up (console)", since(up))
	// The initramfs's udhcpc took its lease too: the same boot, not a new
	// one (a boot starts at an OFFER to boot firmware).
	var clients []string
	for _, e := range b.events.all(mine("dhcp", "DISCOVER", "OFFER")) {
		clients = append(clients, e.Client)
	}
	if len(clients) < 2 || clients[0] != "ipxe" || clients[len(clients)-1] != "os" {
		b.failf("DHCP offers went to %v clients, want iPXE's first and the initramfs's (os) last", clients)
	}

	// The hand-over, by the scanner alone.
	scanned := func(what string, ok func(map[string]any, string) bool) (time.Time, map[string]any) {
		t.Helper()
		var got map[string]any
		ev, err := b.scanned.wait(ctx, func(e bootEvent) bool {
			var m map[string]any
			if json.Unmarshal([]byte(e.Raw), &m) != nil || !ok(m, e.Message) {
				return false
			}
			got = m
			return true
		})
		if err != nil {
			b.failf("scan --watch: no %s: %v", what, err)
		}
		t.Logf("power-on → %-22s %v", what, since(ev.At))
		return ev.At, got
	}
	_, learned := scanned("handed over (trusted)", func(m map[string]any, msg string) bool {
		return m["type"] == "host" && strings.Contains(msg, "handed over machine "+vmName+" at fe80::")
	})
	caught, _ := scanned("position 2 of 2", func(m map[string]any, msg string) bool {
		return m["type"] == "log" && m["host"] == vmName && strings.HasSuffix(msg, "caught up on main")
	})
	// The scanner saw the VM before its sshd was up (iPXE and the kernel
	// answer pings): a booting machine is probed again within seconds, not
	// a minute later as any other host that failed.
	if d := caught.Sub(up); d > 20*time.Second {
		b.failf("sshd up → position 2 of 2 took %v: the scanner waited to probe the machine again", d.Round(10*time.Millisecond))
	}
	priv, err := os.ReadFile(filepath.Join(b.dir, "netboot-keys", vmName))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(signer.PublicKey())
	if learned["name"] != vmName || learned["trusted"] != true || learned["host_key"] != fp || learned["mac"] != vmMAC {
		b.failf("handed over as %v, want %s trusted with the key made for it (%s)", learned, vmName, fp)
	}
	var vm map[string]any
	for _, line := range strings.Split(b.must("--json", "hosts"), "\n") {
		var h map[string]any
		if json.Unmarshal([]byte(line), &h) == nil && h["type"] == "host" && h["mac"] == vmMAC {
			if vm != nil {
				b.failf("two hosts with %s:\n%v\n%v", vmMAC, vm, h)
			}
			vm = h
		}
	}
	if vm == nil || vm["name"] != vmName || vm["trusted"] != true || vm["host_key"] != fp || vm["branch"] != "main" ||
		vm["position"] != 2.0 || vm["head"] != 2.0 {
		b.failf("the VM after the hand-over: %v, want %s trusted with %s on main at position 2 of 2", vm, vmName, fp)
	}
	t.Logf("the VM is host %v at %v", vm["id"], vm["addr"])
	if now, _ := os.ReadFile(b.known); string(now) != string(known) {
		b.failf("the hand-over wrote known_hosts (trust on first use?):\nbefore %q\nafter  %q", known, now)
	}
	stage := b.must("--json", "machine", "list")
	if !strings.Contains(stage, `"name":"`+vmName+`"`) || !strings.Contains(stage, `"stage":"position"`) || !strings.Contains(stage, `"stage_text":"position 2 of 2"`) {
		b.failf("machine list --json: %s", stage)
	}
	if text := b.must("machine", "list"); !strings.Contains(text, "position 2 of 2") {
		b.failf("machine list:\n%s", text)
	}

	// The journal's files on the VM, read back by OpenSSH with only the
	// known_hosts discoterm wrote before the VM ever booted, strictly.
	out, err := b.ssh(ctx, b.known, "hostname; cat /etc/motd /etc/dt-marker; grep position /var/lib/discoterm/state; cat /proc/cmdline")
	if err != nil {
		b.failf("ssh %s with the pre-registered key: %v\n%s", vmIP, err, out)
	}
	lines := strings.SplitN(out, "\n", 5)
	if len(lines) < 5 || lines[0] != vmName || strings.Join(lines[1:4], "\n") != "netbooted by discoterm\nmade\nposition 2" {
		b.failf("on the VM after the hand-over: %q, want hostname %s, the motd, the marker and position 2", out, vmName)
	}
	cmdline := lines[4]
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
	t.Logf("power-on → position 2 of 2 by hand-over: %v (sshd up → position 2 of 2: %v)", since(caught), caught.Sub(up).Round(10*time.Millisecond))

	if os.Getenv("DISCOTERM_VM_CONSOLE") == "1" {
		t.Logf("VM console:\n%s", b.vm.Console())
		for _, e := range b.events.all(func(e bootEvent) bool { return e.Type == "boot" }) {
			t.Logf("%v %s", since(e.At), e.Raw)
		}
		for _, e := range b.scanned.all(func(bootEvent) bool { return true }) {
			t.Logf("scan %v %s", since(e.At), e.Raw)
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

package scanner

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// requireRoot skips a test that needs root and network namespaces, or fails it on CI, where
// skipping would hide that nothing was tested.
func requireRoot(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "no ip command (iproute2)"
	} else if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		why = "no network namespaces"
	}
	if why == "" {
		return
	}
	msg := "needs root and network namespaces for real ICMPv6 (" + why + "); run as root: sudo go test ./scanner"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// sh runs a command and fails the test when it fails.
func sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// shQuiet runs a cleanup command whose failure does not matter.
func shQuiet(args ...string) { _ = exec.Command(args[0], args[1:]...).Run() }

func randomTag() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dummyLink creates a dummy interface in this namespace for the error tests, removed at
// cleanup, with the given net.ipv6.conf.NAME sysctls ("disable_ipv6=1") set before it goes up.
func dummyLink(t *testing.T, up bool, sysctls ...string) string {
	t.Helper()
	requireRoot(t)
	name := "dsd" + randomTag()
	if err := exec.Command("ip", "link", "add", name, "type", "dummy").Run(); err != nil {
		// Kernels built without CONFIG_DUMMY: one end of a veth pair serves as well.
		t.Logf("no dummy links here (%v); using a veth", err)
		sh(t, "ip", "link", "add", name, "type", "veth", "peer", "name", name+"p")
	}
	t.Cleanup(func() { shQuiet("ip", "link", "del", name) })
	for _, kv := range sysctls {
		sh(t, "sysctl", "-qw", fmt.Sprintf("net.ipv6.conf.%s.%s", name, kv))
	}
	if up {
		sh(t, "ip", "link", "set", name, "up")
	}
	return name
}

// sysctlSet sets a sysctl of this namespace and restores it at cleanup.
func sysctlSet(t testing.TB, key, value string) {
	t.Helper()
	old := strings.TrimSpace(sh(t, "sysctl", "-n", key))
	sh(t, "sysctl", "-qw", key+"="+value)
	t.Cleanup(func() { shQuiet("sysctl", "-qw", key+"="+old) })
}

// ownLinkLocal returns an interface's link-local address in this namespace, waiting a little
// for the kernel to make it (it does once the link has carrier).
func ownLinkLocal(t testing.TB, iface string) netip.Addr {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		infos, err := Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if in.Name == iface && len(in.LinkLocal) > 0 {
				return in.LinkLocal[0]
			}
		}
	}
	t.Fatalf("%s has no link-local address", iface)
	return netip.Addr{}
}

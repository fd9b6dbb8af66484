package provision

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// link is a test's own bridge (prefix dtn) with namespaces on it, all
// removed when the test ends.
type link struct {
	t      *testing.T
	bridge string
	id     string
	n      int
}

func needRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (network namespaces, a bridge, DHCP's port 67)"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs iproute2's ip"
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: these tests must run)", why)
		}
		t.Skip(why)
	}
	busybox(t)
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newLink(t *testing.T, cidr string) *link {
	b := make([]byte, 3)
	rand.Read(b)
	l := &link{t: t, id: hex.EncodeToString(b), bridge: "dtn" + hex.EncodeToString(b)}
	sh(t, "ip", "link", "add", l.bridge, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", l.bridge).Run() })
	sh(t, "ip", "addr", "add", cidr, "dev", l.bridge)
	sh(t, "ip", "link", "set", l.bridge, "up")
	return l
}

// host adds a namespace with eth0 of the given MAC on the bridge.
func (l *link) host(mac string) string {
	l.n++
	ns := fmt.Sprintf("dtn%s-%d", l.id, l.n)
	veth := fmt.Sprintf("dtv%s%d", l.id, l.n)
	sh(l.t, "ip", "netns", "add", ns)
	l.t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	sh(l.t, "ip", "link", "add", veth, "type", "veth", "peer", "name", veth+"p")
	sh(l.t, "ip", "link", "set", veth+"p", "netns", ns)
	sh(l.t, "ip", "-n", ns, "link", "set", veth+"p", "name", "eth0")
	sh(l.t, "ip", "-n", ns, "link", "set", "eth0", "address", mac, "up")
	sh(l.t, "ip", "-n", ns, "link", "set", "lo", "up")
	sh(l.t, "ip", "link", "set", veth, "master", l.bridge, "up")
	return ns
}

// udhcpc runs busybox udhcpc in ns and returns what the lease said
// ("" when it got none).
func udhcpc(t *testing.T, ns string) string {
	t.Helper()
	dir := t.TempDir()
	script := dir + "/script"
	out := dir + "/lease"
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"ip=$ip hostname=$hostname boot_file=$boot_file\" > "+out+"\nexit 0\n"), 0o755)
	exec.Command("ip", "netns", "exec", ns, busybox(t), "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "3", "-T", "1", "-s", script).Run()
	data, _ := os.ReadFile(out)
	return strings.TrimSpace(string(data))
}

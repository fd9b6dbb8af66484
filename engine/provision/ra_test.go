package provision

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/machines"
)

func TestSolicitSourceMAC(t *testing.T) {
	mac := []byte{1, 1, 0x52, 0x54, 0, 0x94, 0, 0x10}
	other := []byte{14, 1, 0, 0, 0, 0, 0, 0} // a nonce option first
	rs := []byte{133, 0, 0, 0, 0, 0, 0, 0}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"with the option", cat(rs, mac), "52:54:00:94:00:10"},
		{"after another option", cat(rs, other, mac), "52:54:00:94:00:10"},
		{"no option", rs, ""},
		{"short", rs[:6], ""},
		{"not a solicitation", cat([]byte{134, 0, 0, 0, 0, 0, 0, 0}, mac), ""},
		{"zero-length option", cat(rs, []byte{1, 0, 0, 0, 0, 0, 0, 0}, mac), ""},
		{"overlong option", cat(rs, []byte{1, 2, 0x52, 0x54, 0, 0x94, 0, 0x10}), ""},
		{"truncated option", cat(rs, mac[:5]), ""},
	} {
		got := SolicitSourceMAC(c.in)
		if (got == nil && c.want != "") || (got != nil && got.String() != c.want) {
			t.Errorf("%s: got %v, want %q", c.name, got, c.want)
		}
	}
}

// TestRouterAdvertsNetns: on a test bridge, the router solicitation the
// kernel of a registered namespace host sends when its link comes up is
// answered — the host counts a router advertisement and gets no default
// route from it — and an unregistered host's is read but not answered.
func TestRouterAdvertsNetns(t *testing.T) {
	needRoot(t)
	l := newLink(t, "10.95.0.1/24")
	waitNotTentative(t, l.bridge)
	known, _ := machines.ParseMAC("52:54:00:95:00:01")
	got := make(chan RouterSolicit, 16)
	ra := &RouterAdverts{Interface: l.bridge,
		Machines:  func() ([]machines.Machine, error) { return []machines.Machine{{Name: "web1", MAC: known}}, nil },
		OnSolicit: func(r RouterSolicit) { got <- r }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ra.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// The kernel sends its solicitations once eth0 is up (with DAD off,
	// after about a second).
	nsKnown := l.hostDAD("52:54:00:95:00:01")
	nsOther := l.hostDAD("52:54:00:95:00:02")
	seen := map[string]RouterSolicit{}
	deadline := time.After(15 * time.Second)
	for len(seen) < 2 {
		select {
		case r := <-got:
			seen[r.MAC.String()] = r
		case err := <-done:
			t.Fatalf("Serve ended: %v", err)
		case <-deadline:
			t.Fatalf("solicitations seen from %v, want both hosts", seen)
		}
	}
	if r := seen["52:54:00:95:00:01"]; r.Machine != "web1" || !r.Answered || r.Err != nil || !r.From.IsLinkLocalUnicast() {
		t.Errorf("registered host's solicitation: %+v, want answered", r)
	}
	if r := seen["52:54:00:95:00:02"]; r.Machine != "" || r.Answered {
		t.Errorf("unregistered host's solicitation: %+v, want not answered", r)
	}
	inRA := func(ns string) string {
		out := sh(t, "ip", "netns", "exec", ns, "nstat", "-az", "Icmp6InRouterAdvertisements")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Icmp6InRouterAdvertisements" {
				return f[1]
			}
		}
		return "?"
	}
	waitFor := time.Now().Add(3 * time.Second)
	for inRA(nsKnown) == "0" && time.Now().Before(waitFor) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := inRA(nsKnown); n == "0" || n == "?" {
		t.Errorf("registered host counted %s router advertisements, want at least one", n)
	}
	if n := inRA(nsOther); n != "0" {
		t.Errorf("unregistered host counted %s router advertisements, want none", n)
	}
	if out := sh(t, "ip", "-n", nsKnown, "-6", "route", "show", "default"); strings.TrimSpace(out) != "" {
		t.Errorf("the advertisement gave a default route: %s", out)
	}
}

// hostDAD is host with duplicate address detection off, so its
// link-local address (the solicitation's source) is usable at once.
func (l *link) hostDAD(mac string) string {
	l.n++
	ns := fmt.Sprintf("dtn%s-%d", l.id, l.n)
	veth := fmt.Sprintf("dtv%s%d", l.id, l.n)
	sh(l.t, "ip", "netns", "add", ns)
	l.t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	sh(l.t, "ip", "link", "add", veth, "type", "veth", "peer", "name", veth+"p")
	sh(l.t, "ip", "link", "set", veth+"p", "netns", ns)
	sh(l.t, "ip", "-n", ns, "link", "set", veth+"p", "name", "eth0")
	sh(l.t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
	sh(l.t, "ip", "link", "set", veth, "master", l.bridge, "up")
	sh(l.t, "ip", "-n", ns, "link", "set", "eth0", "address", mac, "up")
	return ns
}

// waitNotTentative waits (at most 5 s) until the interface's link-local
// address has passed duplicate address detection.
func waitNotTentative(t *testing.T, iface string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		out := sh(t, "ip", "-6", "addr", "show", "dev", iface, "scope", "link")
		if strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative") {
			return
		}
	}
	t.Fatalf("%s has no usable link-local address after 5 s", iface)
}

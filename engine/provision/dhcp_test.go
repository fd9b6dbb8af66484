package provision

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/machines"
)

func machine(t *testing.T, mac, name, ip string) machines.Machine {
	hw, err := machines.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	return machines.Machine{MAC: hw, Name: name, IP: netip.MustParseAddr(ip)}
}

// TestDHCPAnswersOnlyRegisteredOnItsInterface: udhcpc in a namespace gets
// exactly its registered address and hostname; an unregistered MAC gets
// nothing (logged once); a namespace on a second bridge sees no offer.
func TestDHCPAnswersOnlyRegisteredOnItsInterface(t *testing.T) {
	needRoot(t)
	a := newLink(t, "10.77.0.1/24")
	b := newLink(t, "10.78.0.1/24")
	ms := []machines.Machine{machine(t, "52:54:00:77:00:07", "web7", "10.77.0.7"), machine(t, "52:54:00:78:00:08", "web8", "10.78.0.8")}
	var mu sync.Mutex
	var reqs []DHCPRequest
	srv, err := NewDHCPServer(DHCPOptions{Interface: a.bridge, Machines: func() ([]machines.Machine, error) { return ms, nil },
		OnRequest: func(r DHCPRequest) { mu.Lock(); reqs = append(reqs, r); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if got := udhcpc(t, a.host("52:54:00:77:00:07")); got != "ip=10.77.0.7 hostname=web7 boot_file="+BootFileBIOS {
		t.Errorf("registered host got lease %q", got)
	}
	if got := udhcpc(t, a.host("52:54:00:77:00:99")); got != "" {
		t.Errorf("unregistered MAC got a lease: %q", got)
	}
	// web8 is registered, but on a link the server does not serve.
	if got := udhcpc(t, b.host("52:54:00:78:00:08")); got != "" {
		t.Errorf("a host on another bridge got a lease: %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	logged, unknown := 0, 0
	for _, r := range reqs {
		if r.Machine == "" {
			unknown++
			if r.Logged {
				logged++
			}
		}
		if r.Machine == "web8" {
			t.Errorf("the server read a request from the other bridge: %+v", r)
		}
	}
	if unknown < 2 || logged != 1 {
		t.Errorf("unknown MAC: %d requests, %d logged; want ≥2 requests, logged once", unknown, logged)
	}
}

// TestDHCPProbeFindsOtherServer: a busybox udhcpd on the link is found
// before discoterm's server would start; a quiet link has none.
func TestDHCPProbeFindsOtherServer(t *testing.T) {
	needRoot(t)
	a := newLink(t, "10.79.0.1/24")
	if ip, err := ProbeOtherDHCP(context.Background(), a.bridge, time.Second); err != nil || ip != nil {
		t.Fatalf("quiet link: %v %v", ip, err)
	}
	ns := a.host("52:54:00:79:00:02")
	sh(t, "ip", "-n", ns, "addr", "add", "10.79.0.2/24", "dev", "eth0")
	dir := t.TempDir()
	conf := dir + "/udhcpd.conf"
	os.WriteFile(conf, []byte("start 10.79.0.100\nend 10.79.0.150\ninterface eth0\nlease_file "+dir+"/leases\npidfile "+dir+"/pid\nopt subnet 255.255.255.0\n"), 0o644)
	os.WriteFile(dir+"/leases", nil, 0o644)
	cmd := execCommand("ip", "netns", "exec", ns, busybox(t), "udhcpd", "-f", conf)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var ip string
	for try := 0; try < 5 && ip == ""; try++ { // udhcpd takes a moment to bind
		got, err := ProbeOtherDHCP(context.Background(), a.bridge, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got != nil {
			ip = got.String()
		}
	}
	if !strings.HasPrefix(ip, "10.79.0.2") {
		t.Fatalf("probe found %q, want the udhcpd at 10.79.0.2; udhcpd said: %s", ip, log.String())
	}
}

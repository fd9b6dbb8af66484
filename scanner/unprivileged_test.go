package scanner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWithoutCapNetRaw runs a scan in a child process stripped of CAP_NET_RAW: with ICMP
// datagram sockets allowed it must fall back to them and still find every host; with them
// forbidden too it must fail with one error that says what to do.
func TestWithoutCapNetRaw(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs setpriv (util-linux) to drop CAP_NET_RAW")
		}
		t.Skip("needs setpriv (util-linux) to drop CAP_NET_RAW")
	}
	f := startFleet(t, fleetOptions{N: 3})
	var macs []string
	for _, h := range f.Hosts {
		macs = append(macs, h.MAC)
	}
	child := func(t *testing.T) (string, error) {
		cmd := exec.Command("setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw", "--",
			os.Args[0], "-test.run=^TestChildScan$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "SCANNER_CHILD_BRIDGE="+f.Bridge, "SCANNER_CHILD_MACS="+strings.Join(macs, ","))
		out, err := cmd.CombinedOutput()
		t.Logf("child:\n%s", out)
		return string(out), err
	}

	t.Run("datagram socket", func(t *testing.T) {
		sysctlSet(t, "net.ipv4.ping_group_range", "0 0")
		if out, err := child(t); err != nil || !strings.Contains(out, "--- PASS: TestChildScan") {
			t.Fatalf("scan over the datagram socket failed: %v", err)
		}
	})
	t.Run("no permission", func(t *testing.T) {
		sysctlSet(t, "net.ipv4.ping_group_range", "1 0")
		out, err := child(t)
		if err == nil {
			t.Fatal("the child scanned without any permission")
		}
		for _, want := range []string{"not allowed to open an ICMPv6 socket", "CAP_NET_RAW",
			"setcap cap_net_raw+ep " + os.Args[0], "net.ipv4.ping_group_range", `now "1 0"`, "ErrNoPermission: true"} {
			if !strings.Contains(out, want) {
				t.Errorf("the error does not say %q", want)
			}
		}
	})
}

// TestChildScan is the child of TestWithoutCapNetRaw.
func TestChildScan(t *testing.T) {
	bridge := os.Getenv("SCANNER_CHILD_BRIDGE")
	if bridge == "" {
		t.Skip("runs only as the child of TestWithoutCapNetRaw")
	}
	s, err := New(Options{Interfaces: []string{bridge}, Logf: t.Logf})
	if err != nil {
		t.Fatalf("%v (ErrNoPermission: %v)", err, errors.Is(err, ErrNoPermission))
	}
	defer s.Close()
	if s.SocketKind() != SocketDatagram {
		t.Fatalf("socket kind %q without CAP_NET_RAW", s.SocketKind())
	}
	res, err := s.Round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := byMAC(t, res.Sightings)
	for _, mac := range strings.Split(os.Getenv("SCANNER_CHILD_MACS"), ",") {
		if sg, ok := seen[mac]; !ok || sg.MACFrom != MACFromNeigh {
			t.Errorf("host %s: %+v (found %v)", mac, sg, ok)
		}
	}
	if len(res.Sightings) != len(seen) || len(seen) != 3 {
		t.Errorf("sightings %+v", res.Sightings)
	}
}

package provision

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/machines"
)

// TestParseReport: a discovery report is an unknown machine's text: keys
// are checked, values cut, the whole capped.
func TestParseReport(t *testing.T) {
	got, err := ParseReport(strings.NewReader("mac=52:54:00:00:00:01\ncpu Xeon E-2224\nBAD=1\nx y z\n=empty\nlong=" + strings.Repeat("a", 300) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got["cpu"] != "Xeon E-2224" || got["x"] != "y z" || len(got["long"]) != 200 || got["mac"] != "52:54:00:00:00:01" {
		t.Errorf("report: %q", got)
	}
	if _, err := ParseReport(strings.NewReader(strings.Repeat("k=v\n", MaxReportBytes))); err == nil {
		t.Error("an oversized report was read")
	}
	var many strings.Builder
	for i := 0; i < 100; i++ {
		many.WriteString("k" + strings.Repeat("x", i%30) + string(rune('a'+i%26)) + "=v\n")
	}
	if got, _ := ParseReport(strings.NewReader(many.String())); len(got) > MaxReportFields {
		t.Errorf("%d keys kept, at most %d", len(got), MaxReportFields)
	}
}

// TestUnknownPool: addresses from the top of the subnet, never a machine's
// or the server's, the same one while the lease runs, none once the pool
// is used up, free again when leases end.
func TestUnknownPool(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	p := &UnknownPool{Server: netip.MustParsePrefix("10.9.0.254/24"), Clock: func() time.Time { return now },
		Machines: func() ([]machines.Machine, error) {
			return []machines.Machine{{Name: "web7", IP: netip.MustParseAddr("10.9.0.253")}}, nil
		}}
	mac := func(i int) net.HardwareAddr { return net.HardwareAddr{0x52, 0x54, 0, 0, 1, byte(i)} }
	a, ok := p.LeaseFor(mac(1))
	if !ok || a.String() != "10.9.0.252" {
		t.Fatalf("first lease %v %v: want 10.9.0.252 (255 broadcast, 254 the server, 253 web7)", a, ok)
	}
	if b, _ := p.LeaseFor(mac(1)); b != a {
		t.Errorf("same MAC, new address %v", b)
	}
	if m, ok := p.MACOf(a); !ok || m != mac(1).String() {
		t.Errorf("MACOf(%v) = %q %v", a, m, ok)
	}
	n := 1
	for i := 2; i < 100; i++ {
		if _, ok := p.LeaseFor(mac(i)); ok {
			n++
		}
	}
	if n != PoolSize-2 { // the server and web7 take two of the top 32
		t.Errorf("%d leases, want %d", n, PoolSize-2)
	}
	now = now.Add(11 * time.Minute)
	if m, _ := p.MACOf(a); m == mac(1).String() {
		t.Error("an ended lease still names its MAC")
	}
	if b, ok := p.LeaseFor(mac(200)); !ok || b != a {
		t.Errorf("after every lease ended: %v %v, want %v again", b, ok, a)
	}
}

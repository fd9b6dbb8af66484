package scanner

import (
	"net/netip"
	"testing"
)

func TestDecodeEUI64(t *testing.T) {
	tests := []struct {
		addr string
		mac  string // "" means no MAC
	}{
		{"fe80::21d:72ff:fe86:46b", "00:1d:72:86:04:6b"},
		{"fe80::ce2d:e0ff:fed4:2611", "cc:2d:e0:d4:26:11"},
		{"fe80::21d:72ff:fe86:46b%br0", "00:1d:72:86:04:6b"},   // zone does not matter
		{"2001:db8::e2ff:f7ff:fe00:20e6", "e0:ff:f7:00:20:e6"}, // any prefix
		{"fe80::ff:fe00:1", "02:00:00:00:00:01"},               // universal/local bit flipped
		{"fd00::200:ff:fe00:0", ""},                            // all-zero MAC
		{"fe80::8c3a:1b5e:9d2f:4a17", ""},                      // stable privacy
		{"fe80::1", ""},                                        // hand-made
		{"ff02::1", ""},                                        // multicast
		{"::", ""},
		{"::1", ""},
		{"::ffff:192.0.2.1", ""},
		{"192.0.2.1", ""},
	}
	for _, tt := range tests {
		mac, ok := DecodeEUI64(netip.MustParseAddr(tt.addr))
		if ok != (tt.mac != "") || (ok && mac.String() != tt.mac) {
			t.Errorf("DecodeEUI64(%s) = %v, %v; want %q", tt.addr, mac, ok, tt.mac)
		}
	}
}

func FuzzDecodeEUI64(f *testing.F) {
	f.Add([]byte(netip.MustParseAddr("fe80::21d:72ff:fe86:46b").AsSlice()))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		mac, ok := DecodeEUI64(a)
		if !ok {
			return
		}
		s := a.As16()
		if len(mac) != 6 || s[11] != 0xff || s[12] != 0xfe || mac[0] != s[8]^2 || mac[5] != s[15] {
			t.Fatalf("DecodeEUI64(%v) = %v", a, mac)
		}
	})
}

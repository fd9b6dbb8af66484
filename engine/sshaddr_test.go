package engine

import (
	"errors"
	"testing"
)

func TestParseSSHAddress(t *testing.T) {
	cases := []struct {
		in   string
		want SSHAddress
	}{
		{"10.0.0.5", SSHAddress{Host: "10.0.0.5"}},
		{"web1.example.net", SSHAddress{Host: "web1.example.net"}},
		{"root@10.0.0.5", SSHAddress{User: "root", Host: "10.0.0.5"}},
		{"root@10.0.0.5:2222", SSHAddress{User: "root", Host: "10.0.0.5", Port: 2222}},
		{"web1:22", SSHAddress{Host: "web1", Port: 22}},
		{"fd00::5", SSHAddress{Host: "fd00::5"}},
		{"fe80::1%eth0", SSHAddress{Host: "fe80::1%eth0"}},
		{"[fd00::5]", SSHAddress{Host: "fd00::5"}},
		{"[fd00::5]:2222", SSHAddress{Host: "fd00::5", Port: 2222}},
		{"admin@[fe80::1%br0]:22", SSHAddress{User: "admin", Host: "fe80::1%br0", Port: 22}},
		{"ssh://root@web1:2200", SSHAddress{User: "root", Host: "web1", Port: 2200}},
		{"ssh://[fd00::5]:2222/", SSHAddress{Host: "fd00::5", Port: 2222}},
		{"ssh://web1", SSHAddress{Host: "web1"}},
		{"  web1  ", SSHAddress{Host: "web1"}},
	}
	for _, c := range cases {
		got, err := ParseSSHAddress(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "@web1", "root@", "web1:0", "web1:70000", "web1:ssh", "[fd00::5", "[fd00::5]x",
		"fd00::zz", "ssh://web1/path", "-oProxyCommand=x", "a b", "[]:22", "ro ot@web1"} {
		if _, err := ParseSSHAddress(bad); err == nil || !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err %v, want a usage error", bad, err)
		}
	}
}

func FuzzParseSSHAddress(f *testing.F) {
	for _, s := range []string{"root@[fe80::1%br0]:22", "ssh://u@h:1", "h:22", "fd00::1", "[x]:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseSSHAddress(s)
		if err != nil {
			return
		}
		if a.Host == "" || a.Port < 0 || a.Port > 65535 || a.Host[0] == '-' {
			t.Fatalf("%q → %+v", s, a)
		}
	})
}

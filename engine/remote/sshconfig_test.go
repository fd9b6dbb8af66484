package remote

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"*", "anything", true},
		{"*", "", true},
		{"web?", "web1", true},
		{"web?", "web12", false},
		{"web*", "web", true},
		{"*.lan", "db.lan", true},
		{"*.lan", "db.lan.example", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"10.0.0.*", "10.0.0.17", true},
		{"fe80::*%br0", "fe80::1%br0", true},
		{"exact", "exact", true},
		{"exact", "exacT", false}, // callers lower-case both sides
	} {
		if got := wildcardMatch(tc.pat, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", tc.pat, tc.s, got)
		}
	}
}

func TestSplitConfigLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		key  string
		args []string
	}{
		{"", "", nil},
		{"   # comment", "", nil},
		{"Host a b !c", "host", []string{"a", "b", "!c"}},
		{"HostName=10.0.0.1", "hostname", []string{"10.0.0.1"}},
		{"  Port = 2222  ", "port", []string{"2222"}},
		{"\tUser\troot # trailing", "user", []string{"root"}},
		{`IdentityFile "~/my keys/id"`, "identityfile", []string{"~/my keys/id"}},
		{"ForwardAgent", "forwardagent", nil},
	} {
		key, args, err := splitConfigLine(tc.line)
		if err != nil || key != tc.key || !reflect.DeepEqual(args, tc.args) {
			t.Errorf("%q: got %q %q %v", tc.line, key, args, err)
		}
	}
	if _, _, err := splitConfigLine(`IdentityFile "open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestSSHConfigLookup(t *testing.T) {
	home, _ := os.UserHomeDir()
	const cfg = `
# global part: applies to every host
IdentityFile ~/.ssh/global_id

Host web? !web9
    HostName %h.lab.example
    User deploy
    Port 2200

Host web1
    # "first obtained value wins": this HostName is never used
    HostName 10.9.9.9
    IdentityFile ~/.ssh/web1_id

Host db.lan db2.lan
  hostname 10.0.1.5
  USER=postgres
  ForwardAgent yes
  SomeFutureKeyword with args

Match host db.lan exec "true"
    User matchuser
    Port 9999

Host *.LAN
    Port 2222
    User lanuser

Host *
    User fallback
    IdentityFile ~/.ssh/id_ed25519
`
	c, err := ParseSSHConfig(strings.NewReader(cfg), "test", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := func(n string) string { return filepath.Join(home, ".ssh", n) }
	for _, tc := range []struct {
		host string
		want HostConfig
	}{
		{"web1", HostConfig{HostName: "web1.lab.example", User: "deploy", Port: 2200,
			IdentityFiles: []string{id("global_id"), id("web1_id"), id("id_ed25519")}}},
		{"web9", HostConfig{User: "fallback", IdentityFiles: []string{id("global_id"), id("id_ed25519")}}},
		{"WEB2", HostConfig{HostName: "web2.lab.example", User: "deploy", Port: 2200,
			IdentityFiles: []string{id("global_id"), id("id_ed25519")}}},
		{"web10", HostConfig{User: "fallback", IdentityFiles: []string{id("global_id"), id("id_ed25519")}}},
		{"db.lan", HostConfig{HostName: "10.0.1.5", User: "postgres", Port: 2222,
			IdentityFiles: []string{id("global_id"), id("id_ed25519")}}},
		{"db2.lan", HostConfig{HostName: "10.0.1.5", User: "postgres", Port: 2222,
			IdentityFiles: []string{id("global_id"), id("id_ed25519")}}},
		{"x.lan", HostConfig{User: "lanuser", Port: 2222, IdentityFiles: []string{id("global_id"), id("id_ed25519")}}},
		{"fe80::1%br0", HostConfig{User: "fallback", IdentityFiles: []string{id("global_id"), id("id_ed25519")}}},
	} {
		if got := c.Lookup(tc.host); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(%q)\n got %+v\nwant %+v", tc.host, got, tc.want)
		}
	}
}

func TestSSHConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, cfg, want string }{
		{"bad port", "Host x\n Port http\n", "test:2: bad Port"},
		{"port range", "Port 70000\n", "bad Port"},
		{"empty host", "Host\n", "Host needs"},
		{"two users", "User a b\n", "one argument"},
	} {
		_, err := ParseSSHConfig(strings.NewReader(tc.cfg), "test", "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestSSHConfigInclude(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "config.d"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "config.d", "10-lab"), []byte("Host lab*\n  User labuser\n  Port 2022\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "config.d", "20-more"), []byte("Host lab1\n  HostName 192.168.7.1\n"), 0o600))
	// Included inside a Host block: only in force for that block's hosts,
	// and the enclosing block is in force again after the Include.
	must(os.WriteFile(filepath.Join(dir, "inner"), []byte("User inneruser\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "config"), []byte(
		"Include config.d/*\n"+
			"Host special\n"+
			"  Include inner\n"+
			"  Port 3333\n"+
			"Include nonexistent-*.conf\n"+
			"Host *\n  User def\n"), 0o600))
	c, err := LoadSSHConfig(filepath.Join(dir, "config"))
	must(err)
	for _, tc := range []struct {
		host string
		want HostConfig
	}{
		{"lab1", HostConfig{HostName: "192.168.7.1", User: "labuser", Port: 2022}},
		{"lab2", HostConfig{User: "labuser", Port: 2022}},
		{"special", HostConfig{User: "inneruser", Port: 3333}},
		{"other", HostConfig{User: "def"}},
	} {
		if got := c.Lookup(tc.host); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(%q) = %+v, want %+v", tc.host, got, tc.want)
		}
	}

	// A missing config file is an empty configuration.
	c, err = LoadSSHConfig(filepath.Join(dir, "absent"))
	must(err)
	if got := c.Lookup("x"); !reflect.DeepEqual(got, HostConfig{}) {
		t.Errorf("%+v", got)
	}

	// An Include loop is reported, not followed forever.
	must(os.WriteFile(filepath.Join(dir, "loop"), []byte("Include loop\n"), 0o600))
	if _, err := LoadSSHConfig(filepath.Join(dir, "loop")); err == nil || !strings.Contains(err.Error(), "too deeply") {
		t.Errorf("loop: %v", err)
	}
}

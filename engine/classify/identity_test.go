package classify

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const identityExample = `
DEFAULT:
    BRANCH = main
^db[0-9]+$:
    BRANCH = byname
    ROLE = name
mac:52:54:00:AA:bb:01:
    BRANCH = bymac
    ROLE = mac
machine-id:0123456789ABCDEF0123456789abcdef:
    BRANCH = bymid
    ROLE = mid
mac:52-54-00-00-00-02:
    BRANCH = bymac2
`

// Identity targets beat names; within identity targets the file decides;
// the MAC and machine-id compared are normalised.
func TestIdentityTargets(t *testing.T) {
	c := mustParse(t, identityExample)
	tests := []struct {
		name       string
		host       Host
		stanza     string
		branch     string
		secretVars int
	}{
		{"name only", Host{Name: "db1"}, "^db[0-9]+$", "byname", 0},
		{"mac beats name", Host{Name: "db1", MAC: "52:54:00:aa:BB:01"}, "mac:52:54:00:aa:bb:01", "bymac", 0},
		{"mac with dashes on the host side", Host{Name: "x", MAC: "52-54-00-AA-BB-01"}, "mac:52:54:00:aa:bb:01", "bymac", 0},
		{"dash-written target", Host{MAC: "52:54:00:00:00:02"}, "mac:52:54:00:00:00:02", "bymac2", 0},
		{"machine-id beats name", Host{Name: "db2", MachineID: "0123456789abcdef0123456789ABCDEF"}, "machine-id:0123456789abcdef0123456789abcdef", "bymid", 0},
		{"both: first in the file wins", Host{Name: "db1", MAC: "52:54:00:aa:bb:01", MachineID: "0123456789abcdef0123456789abcdef"}, "mac:52:54:00:aa:bb:01", "bymac", 0},
		{"unknown identity falls back to name", Host{Name: "db3", MAC: "52:54:00:99:99:99", MachineID: "ffffffffffffffffffffffffffffffff"}, "^db[0-9]+$", "byname", 0},
		{"no name, known MAC", Host{MAC: "52:54:00:aa:bb:01"}, "mac:52:54:00:aa:bb:01", "bymac", 0},
		{"no name, no identity", Host{}, "", "main", 0},
		{"a malformed MAC is no identity", Host{Name: "db1", MAC: "52:54:00:aa:bb"}, "^db[0-9]+$", "byname", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.ClassifyHost(tt.host)
			if got.Stanza != tt.stanza || got.Vars["BRANCH"] != tt.branch {
				t.Errorf("stanza %q branch %q, want %q %q", got.Stanza, got.Vars["BRANCH"], tt.stanza, tt.branch)
			}
		})
	}
	// Classify by name alone never sees identity stanzas.
	if got := c.Classify("x", ""); got.Stanza != "" {
		t.Errorf("by name only: %q", got.Stanza)
	}
}

func TestIdentityTargetErrors(t *testing.T) {
	tests := []struct{ src, msg string }{
		{"mac:52:54:00:12:34:\n", `target "mac:52:54:00:12:34" is not a MAC address: it has 5 parts, not 6; expected mac: and six two-digit hex bytes separated by ':' or '-', e.g. mac:52:54:00:12:34:56`},
		{"mac:52:54:00:12:34:5g:\n", `target "mac:52:54:00:12:34:5g" is not a MAC address: part 6 ("5g") is not two hex digits; expected mac: and six two-digit hex bytes separated by ':' or '-', e.g. mac:52:54:00:12:34:56`},
		{"MAC:5254.0012.3456:\n", `target "MAC:5254.0012.3456" is not a MAC address: it has 1 parts, not 6; expected mac: and six two-digit hex bytes separated by ':' or '-', e.g. mac:52:54:00:12:34:56`},
		{"machine-id:0123:\n", `target "machine-id:0123" is not a machine-id: it has 4 characters, not 32; expected machine-id: and the 32 hex digits of the host's /etc/machine-id`},
		{"machine-id:0123456789abcdef0123456789abcdeg:\n", `target "machine-id:0123456789abcdef0123456789abcdeg" is not a machine-id: it has a character that is not a hex digit; expected machine-id: and the 32 hex digits of the host's /etc/machine-id`},
		{"mac:52:54:00:12:34:56:\n  A = 1\nmac:52-54-00-12-34-56:\n", `stanza "mac:52-54-00-12-34-56:" names the same host as the one at main.cf:1; merge the two stanzas into one`},
	}
	for _, tt := range tests {
		_, err := Parse("main.cf", strings.NewReader(tt.src))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: %v, want a ParseError", tt.src, err)
			continue
		}
		if pe.Msg != tt.msg {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, pe.Msg, tt.msg)
		}
	}
}

// "mac:" alone is still the stanza of a host called mac.
func TestHostCalledMac(t *testing.T) {
	c := mustParse(t, "mac:\n  BRANCH = m\n")
	if got := c.Branch("mac", ""); got != "m" {
		t.Errorf("host mac: branch %q", got)
	}
}

func TestSecretVariables(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.cf": `DEFAULT:
    BRANCH = main
    secret APIKEY
    PLAIN = visible
include creds.secret
web1:
    APIKEY = abc123
    secret DBPASS = "hunter2 two"
    secret = a variable called secret
`,
		"creds.secret": "NET1:\n    TOKEN = tok\nweb2: NET1\n    OTHER = o\n",
	})
	if err := os.Chmod(filepath.Join(dir, "creds.secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(filepath.Join(dir, "main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Secrets(), []string{"APIKEY", "DBPASS", "OTHER", "TOKEN"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Secrets() = %v, want %v", got, want)
	}
	w1 := c.Classify("web1", "")
	if w1.Vars["DBPASS"] != "hunter2 two" || w1.Vars["secret"] != "a variable called secret" {
		t.Errorf("web1 vars %v", w1.Vars)
	}
	if want := map[string]bool{"APIKEY": true, "DBPASS": true}; !reflect.DeepEqual(w1.Secret, want) {
		t.Errorf("web1 secret %v, want %v", w1.Secret, want)
	}
	w2 := c.Classify("web2", "")
	if want := map[string]bool{"TOKEN": true, "OTHER": true}; !reflect.DeepEqual(w2.Secret, want) || w2.Vars["TOKEN"] != "tok" {
		t.Errorf("web2 secret %v vars %v, want %v", w2.Secret, w2.Vars, want)
	}
}

func TestSecretErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		mode  os.FileMode // of x.secret
		file  string
		line  int
		msg   string
	}{
		{"secret BRANCH", map[string]string{"main.cf": "DEFAULT:\n  A = 1\n  secret BRANCH\n"}, 0o600,
			"main.cf", 3, "BRANCH cannot be secret: every face shows which branch a host follows; set it outside *.secret files and secret lines"},
		{"BRANCH in a secret file", map[string]string{"main.cf": "include x.secret\n", "x.secret": "DEFAULT:\n  BRANCH = b\n"}, 0o600,
			"x.secret", 2, "BRANCH cannot be secret: every face shows which branch a host follows; set it outside *.secret files and secret lines"},
		{"two names", map[string]string{"main.cf": "DEFAULT:\n  secret A B\n"}, 0o600,
			"main.cf", 2, `secret line "secret A B" does not name one variable; expected secret NAME or secret NAME = value`},
		{"bad name", map[string]string{"main.cf": "DEFAULT:\n  secret 1A = x\n"}, 0o600,
			"main.cf", 2, `variable name "1A" is not valid; expected a letter or underscore, then letters, digits or underscores`},
		{"world-readable secret file", map[string]string{"main.cf": "DEFAULT:\n  A = 1\ninclude x.secret\n", "x.secret": "DEFAULT:\n  K = v\n"}, 0o644,
			"main.cf", 3, "included file {dir}/x.secret can be read by other users (mode 0644), so its values are not secret; expected it readable by its owner only: chmod o-rwx {dir}/x.secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			if _, ok := tt.files["x.secret"]; ok {
				if err := os.Chmod(filepath.Join(dir, "x.secret"), tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(filepath.Join(dir, "main.cf"))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Load: %v, want a *ParseError", err)
			}
			if want := filepath.Join(dir, tt.file); pe.File != want || pe.Line != tt.line {
				t.Errorf("at %s:%d, want %s:%d", pe.File, pe.Line, want, tt.line)
			}
			if want := strings.ReplaceAll(tt.msg, "{dir}", dir); pe.Msg != want {
				t.Errorf("message\n got %s\nwant %s", pe.Msg, want)
			}
		})
	}
}

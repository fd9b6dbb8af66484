package classify

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("main.cf", strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// The example from ISconf's README, verbatim but for indentation, with the
// results it documents.
const isconfExample = `
DEFAULT:
    NTPSERVERS = ntp1 ntp2 bigben.ucsd.edu mcs.anl.gov
    IS_NETS=/etc/is/nets

NET1:
    GATEWAY = 10.10.1.1

NET2:
    GATEWAY = 10.10.2.1

# The host 'scotty' will end up with these environment variables
scotty: NET1
    building = this value is ignored
    building = 23
    floor = 2
    IS_NETS=/etc/is/nets.scotty

kirk: NET2
    building = 52
    floor = 12

LOST:
    building = unknown
    floor = unknown

# any other host in example.com:
^.*\.example\.com: LOST
    GATEWAY = 10.2.3.1

# any other host not in example.com:
^.*: LOST
    GATEWAY = 10.0.0.1
`

func TestISconfExample(t *testing.T) {
	c := mustParse(t, isconfExample)
	ntp := "ntp1 ntp2 bigben.ucsd.edu mcs.anl.gov"
	tests := []struct {
		host, fqdn string
		want       map[string]string
	}{
		{"scotty", "scotty.example.com", map[string]string{"NTPSERVERS": ntp, "GATEWAY": "10.10.1.1", "building": "23", "floor": "2", "IS_NETS": "/etc/is/nets.scotty"}},
		{"kirk", "", map[string]string{"NTPSERVERS": ntp, "IS_NETS": "/etc/is/nets", "GATEWAY": "10.10.2.1", "building": "52", "floor": "12"}},
		{"spock", "spock.example.com", map[string]string{"NTPSERVERS": ntp, "IS_NETS": "/etc/is/nets", "building": "unknown", "floor": "unknown", "GATEWAY": "10.2.3.1"}},
		{"q", "q.continuum.org", map[string]string{"NTPSERVERS": ntp, "IS_NETS": "/etc/is/nets", "building": "unknown", "floor": "unknown", "GATEWAY": "10.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := c.Vars(tt.host, tt.fqdn); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Vars(%q, %q)\n got %v\nwant %v", tt.host, tt.fqdn, got, tt.want)
			}
		})
	}
}

func TestPrecedenceAndMatching(t *testing.T) {
	c := mustParse(t, `
DEFAULT
    BRANCH = main
    NTP = ntp1.example.com
    ROLE = none
BASE:
    ROLE = base
    NTP = ntp-base
RACK4: BASE
    RACK = 4
web1: RACK4
    BRANCH = web
    NTP = ntp-web1        # own lines win over included ones
db1.example.com:
    ROLE = db
^web[0-9]+$
    ROLE = web
^(?:mail|mx)[0-9]*\.example\.org: BASE
    ROLE = mail
DEFAULT:
    SITE = lab           # a second DEFAULT adds to the first
    BRANCH = lab-main
^.*
    CATCHALL = yes
`)
	defaults := map[string]string{"BRANCH": "lab-main", "NTP": "ntp1.example.com", "ROLE": "none", "SITE": "lab"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range defaults {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name, host, fqdn string
		want             map[string]string
		stanza           string
	}{
		{"exact short name; first match only", "web1", "web1.example.com", with("BRANCH", "web", "NTP", "ntp-web1", "ROLE", "base", "RACK", "4"), "web1"},
		{"short name given as FQDN", "web1.example.com", "", with("BRANCH", "web", "NTP", "ntp-web1", "ROLE", "base", "RACK", "4"), "web1"},
		{"regexp on short name", "web2", "web2.example.com", with("ROLE", "web"), "^web[0-9]+$"},
		{"regexp end anchored", "web2x", "", with("CATCHALL", "yes"), "^.*"},
		{"FQDN target", "db1", "db1.example.com", with("ROLE", "db"), "db1.example.com"},
		{"FQDN with trailing dot", "db1", "db1.example.com.", with("ROLE", "db"), "db1.example.com"},
		{"FQDN target needs the FQDN", "db1", "", with("CATCHALL", "yes"), "^.*"},
		{"FQDN target, other domain", "db1", "db1.example.net", with("CATCHALL", "yes"), "^.*"},
		{"regexp with (?:) and include", "mx2", "mx2.example.org", with("ROLE", "mail", "NTP", "ntp-base"), "^(?:mail|mx)[0-9]*\\.example\\.org"},
		{"case matters", "WEB1", "", with("CATCHALL", "yes"), "^.*"},
		{"stanza names are targets too", "BASE", "", with("ROLE", "base", "NTP", "ntp-base"), "BASE"},
		{"nameless host gets DEFAULT only", "", "", with(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Classify(tt.host, tt.fqdn)
			if !reflect.DeepEqual(got.Vars, tt.want) {
				t.Errorf("Vars\n got %v\nwant %v", got.Vars, tt.want)
			}
			if got.Stanza != tt.stanza {
				t.Errorf("matched stanza %q, want %q", got.Stanza, tt.stanza)
			}
			if b := c.Branch(tt.host, tt.fqdn); b != tt.want["BRANCH"] {
				t.Errorf("Branch = %q, want %q", b, tt.want["BRANCH"])
			}
		})
	}
}

func TestClassifyExplains(t *testing.T) {
	c := mustParse(t, "DEFAULT:\n  BRANCH = main\n  NTP = a\nNET: \n  NTP = b\nweb1: NET\n  BRANCH = web\n")
	got := c.Classify("web1", "")
	want := Classification{
		Stanza: "web1", Where: "main.cf:6",
		Vars:   map[string]string{"BRANCH": "web", "NTP": "b"},
		From:   map[string]string{"BRANCH": "main.cf:7", "NTP": "main.cf:5"},
		Secret: map[string]bool{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Classify\n got %+v\nwant %+v", got, want)
	}
	var nilConfig *Config
	if v := nilConfig.Vars("web1", ""); v == nil || len(v) != 0 {
		t.Errorf("nil Config: %v", v)
	}
}

func TestValues(t *testing.T) {
	c := mustParse(t, "\uFEFFDEFAULT:\r\n"+
		"\tPLAIN =   two  words   # comment\r\n"+
		"  TIGHT=x=y\n"+
		"  EMPTY =\n"+
		`  QUOTED = "  spaced # not a comment  "  # comment`+"\n"+
		`  ESCAPED = "say \"hi\"\t\\"`+"\n"+
		"  HASHLESS = a'b\n"+
		"    # an indented comment line\n"+
		"\n")
	want := map[string]string{
		"PLAIN": "two  words", "TIGHT": "x=y", "EMPTY": "",
		"QUOTED": "  spaced # not a comment  ", "ESCAPED": "say \"hi\"\t\\", "HASHLESS": "a'b",
	}
	if got := c.Vars("h", ""); !reflect.DeepEqual(got, want) {
		t.Errorf("Vars\n got %q\nwant %q", got, want)
	}
}

// writeTree writes files (slash-separated names) under a temporary
// directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFileIncludes(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.cf": `DEFAULT:
    BRANCH = main
include sites/lab.cf          # expanded here, before web1 below
web1: RACK
    ROLE = web
include "more files/late.cf"
`,
		"sites/lab.cf": `DEFAULT:
    BRANCH = lab
include racks.cf              # relative to sites/, not to main.cf
^web:
    ROLE = lab-web
`,
		"sites/racks.cf":     "RACK:\n    RACK = 4\n",
		"more files/late.cf": "^.*:\n    LATE = yes\n",
	})
	c, err := Load(filepath.Join(dir, "main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want map[string]string
	}{
		// ^web in lab.cf comes before web1 in main.cf: the include is in place.
		{"web1", map[string]string{"BRANCH": "lab", "ROLE": "lab-web"}},
		{"db1", map[string]string{"BRANCH": "lab", "LATE": "yes"}},
		{"RACK", map[string]string{"BRANCH": "lab", "RACK": "4"}},
	}
	for _, tt := range tests {
		if got := c.Vars(tt.host, ""); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Vars(%q)\n got %v\nwant %v", tt.host, got, tt.want)
		}
	}
	// A stanza in main.cf may include one defined in an included file.
	if got := c.Classify("web1", "").From["BRANCH"]; got != filepath.Join(dir, "sites", "lab.cf")+":2" {
		t.Errorf("BRANCH set at %s", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.cf"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.cf") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // main.cf is parsed
		file  string            // file named by the error, relative to the tree
		line  int
		msg   string // the whole message after file:line:
	}{
		{"no equals", map[string]string{"main.cf": "DEFAULT:\n    BRANCH = main\n\nweb1:\n  X = 1\n\n    NTP ntp1\n"},
			"main.cf", 7, `variable line "NTP ntp1" has no "="; expected NAME = value`},
		{"indented header", map[string]string{"main.cf": "DEFAULT:\n  web1:\n"},
			"main.cf", 2, `variable line "web1:" has no "="; expected NAME = value (a stanza header starts at column 0)`},
		{"bad name", map[string]string{"main.cf": "DEFAULT:\n  1NTP = x\n"},
			"main.cf", 2, `variable name "1NTP" is not valid; expected a letter or underscore, then letters, digits or underscores`},
		{"bad name with dash", map[string]string{"main.cf": "DEFAULT:\n  NTP-SERVER = x\n"},
			"main.cf", 2, `variable name "NTP-SERVER" is not valid; expected a letter or underscore, then letters, digits or underscores`},
		{"bad regexp", map[string]string{"main.cf": "DEFAULT:\n  A = 1\n^web[0-9:\n  B = 2\n"},
			"main.cf", 3, "target \"^web[0-9\" is not a valid regular expression: error parsing regexp: missing closing ]: `[0-9`; expected Go regexp syntax"},
		{"variable before header", map[string]string{"main.cf": "# site config\n\n  BRANCH = main\n"},
			"main.cf", 3, `variable line "BRANCH = main" comes before any stanza header; expected a stanza header such as "DEFAULT:" or a host name at column 0 above it`},
		{"variable after include", map[string]string{"main.cf": "DEFAULT:\n  A = 1\ninclude x.cf\n  B = 2\n", "x.cf": ""},
			"main.cf", 4, `variable line "B = 2" follows the include on line 3, not a stanza header; expected a stanza header such as "DEFAULT:" above it`},
		{"include missing", map[string]string{"main.cf": "DEFAULT:\n  A = 1\ninclude other.cf\n"},
			"main.cf", 3, `cannot read included file {dir}/other.cf: no such file or directory; expected a path relative to the directory of main.cf, or an absolute one`},
		{"include missing, nested", map[string]string{"main.cf": "include a.cf\n", "a.cf": "\n\ninclude sub/b.cf\n"},
			"a.cf", 3, `cannot read included file {dir}/sub/b.cf: no such file or directory; expected a path relative to the directory of a.cf, or an absolute one`},
		{"include cycle", map[string]string{"main.cf": "include a.cf\n", "a.cf": "DEFAULT:\n  A = 1\ninclude ./main.cf\n"},
			"a.cf", 3, `include "main.cf" makes a cycle ({dir}/main.cf → {dir}/a.cf → {dir}/main.cf); remove one of these includes`},
		{"include itself", map[string]string{"main.cf": "include main.cf\n"},
			"main.cf", 1, `include "main.cf" makes a cycle ({dir}/main.cf → {dir}/main.cf); remove one of these includes`},
		{"include two files", map[string]string{"main.cf": "include a.cf b.cf\n"},
			"main.cf", 1, `include "a.cf b.cf" names more than one file; expected one path per include line (quote a path that has spaces)`},
		{"include directory", map[string]string{"main.cf": "include sub\n", "sub/x.cf": ""},
			"main.cf", 1, `cannot read included file {dir}/sub: not a regular file; expected a path relative to the directory of main.cf, or an absolute one`},
		{"unknown stanza include", map[string]string{"main.cf": "NET1:\n  GW = 1\n\nscotty: NET1 NET3\n  A = 1\n"},
			"main.cf", 4, `stanza "scotty" includes "NET3", which is not defined; expected the target of a stanza in this file or an included one`},
		{"stanza include cycle", map[string]string{"main.cf": "A: B\n  X = 1\nB: C\nC: A\nweb1: A\n"},
			"main.cf", 4, `stanza "C" includes "A", which makes a cycle (A → B → C → A); remove one of these includes`},
		{"stanza includes itself", map[string]string{"main.cf": "A: A\n"},
			"main.cf", 1, `stanza "A" includes "A", which makes a cycle (A → A); remove one of these includes`},
		{"includes DEFAULT", map[string]string{"main.cf": "DEFAULT:\nweb1: DEFAULT\n"},
			"main.cf", 2, `stanza "web1" includes DEFAULT, which every host already gets first; remove it from the header`},
		{"duplicate stanza across files", map[string]string{"main.cf": "web1:\n  A = 1\ninclude b.cf\n", "b.cf": "\nweb1:\n"},
			"b.cf", 2, `stanza "web1" is already defined at {dir}/main.cf:1; merge the two stanzas into one`},
		{"two targets", map[string]string{"main.cf": "web1 NET1\n"},
			"main.cf", 1, `stanza header "web1 NET1" has several words and no colon; expected TARGET: STANZA... (variable lines must be indented)`},
		{"no target", map[string]string{"main.cf": ": NET1\n"},
			"main.cf", 1, `stanza header ": NET1" has no target; expected a host name, FQDN, ^regexp or DEFAULT before the colon`},
		{"colon without space", map[string]string{"main.cf": "web1:NET1\n"},
			"main.cf", 1, `target "web1:NET1" contains a colon; expected TARGET: STANZA... with a space after the colon`},
		{"lowercase default", map[string]string{"main.cf": "default:\n"},
			"main.cf", 1, `target "default" is not DEFAULT; expected DEFAULT in capitals (for a host of that name write ^default$)`},
		{"unterminated quote", map[string]string{"main.cf": "DEFAULT:\n  MOTD = \"hello # there\n"},
			"main.cf", 2, `value of MOTD starts a quoted string that does not end; expected a closing " on the same line`},
		{"text after quote", map[string]string{"main.cf": "DEFAULT:\n  MOTD = \"hello\" there\n"},
			"main.cf", 2, `unexpected "there" after the quoted value of MOTD; expected the end of the line or a # comment`},
		{"bad escape", map[string]string{"main.cf": "DEFAULT:\n  MOTD = \"a\\qb\"\n"},
			"main.cf", 2, `quoted value of MOTD has an invalid escape; expected \" \\ \t \n or \xNN inside the quotes`},
		{"CRLF line numbers", map[string]string{"main.cf": "DEFAULT:\r\n  A = 1\r\n\r\n  B\r\n"},
			"main.cf", 4, `variable line "B" has no "="; expected NAME = value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			_, err := Load(filepath.Join(dir, "main.cf"))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Load: %v, want a *ParseError", err)
			}
			wantFile := filepath.Join(dir, filepath.FromSlash(tt.file))
			wantMsg := strings.ReplaceAll(tt.msg, "{dir}", dir)
			if pe.File != wantFile || pe.Line != tt.line {
				t.Errorf("at %s:%d, want %s:%d", pe.File, pe.Line, wantFile, tt.line)
			}
			if pe.Msg != wantMsg {
				t.Errorf("message\n got %s\nwant %s", pe.Msg, wantMsg)
			}
			if want := wantFile + ":" + strconv.Itoa(tt.line) + ": " + wantMsg; err.Error() != want {
				t.Errorf("Error()\n got %s\nwant %s", err, want)
			}
		})
	}
}

// FuzzParse feeds arbitrary text to the parser: it must return a Config or
// a *ParseError, never panic, and a Config must answer lookups. Includes
// resolve against a small in-memory tree so the fuzzer cannot read the disk.
func FuzzParse(f *testing.F) {
	f.Add(isconfExample)
	f.Add("DEFAULT:\n  A = \"x\\\"y\" # c\ninclude a.cf\nweb1: N\n  B=2\n")
	f.Add("^(?:a|b)[0-9]+$: N\n  X = 1\ninclude \"b.cf\"\n")
	f.Add("N: M\nM: N\n")
	f.Add("include loop.cf\n")
	f.Add("mac:52-54-00-AA-bb-01: N\n  secret K = v\n  secret J\nmachine-id:0123456789abcdef0123456789abcdef:\n  X = 1\ninclude c.secret\n")
	f.Add("secret:\n  secret = 1\nMAC:00:11:22:33:44:5\n")
	tree := map[string]string{
		"a.cf":     "N:\n  C = 3\n",
		"b.cf":     "DEFAULT:\n  D = 4\ninclude a.cf\n",
		"loop.cf":  "include loop.cf\n",
		"c.secret": "DEFAULT:\n  T = t\nS:\n  U = u\n",
	}
	read := func(p string) ([]byte, error) {
		if s, ok := tree[filepath.Base(p)]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := parse("main.cf", []byte(src), read)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Msg == "" {
				t.Fatalf("error is not a located *ParseError: %#v", err)
			}
			return
		}
		for _, h := range [][2]string{{"web1", ""}, {"web1", "web1.example.com"}, {"", ""}, {"N", ""}} {
			_ = c.Vars(h[0], h[1])
		}
		got := c.ClassifyHost(Host{Name: "web1", MAC: "52:54:00:aa:bb:01", MachineID: "0123456789abcdef0123456789abcdef"})
		for n := range got.Secret {
			if _, ok := got.Vars[n]; !ok || n == "BRANCH" {
				t.Fatalf("secret %q is not one of the host's variables (or is BRANCH): %v", n, got.Vars)
			}
		}
		_ = c.Secrets()
	})
}

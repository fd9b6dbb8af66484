package verbs

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
)

var update = flag.Bool("update", false, "rewrite testdata/usage-errors.txt and the README verb table")

func words(t *testing.T, line string) []Word {
	t.Helper()
	w, err := SplitLine(line)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return w
}

func TestSplitLine(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{`exec --creates /x -- sh -c "echo 'hi there'" a\ b`, []string{"exec", "--creates", "/x", "--", "sh", "-c", "echo 'hi there'", "a b"}},
		{`printf "a = 0\n"`, []string{"printf", `a = 0\n`}}, // in "…" a backslash escapes only $ ` " \
		{`echo "\$HOME \"q\" \\"`, []string{"echo", `$HOME "q" \`}},
		{`echo '\n $x'`, []string{"echo", `\n $x`}},
		{`a""b ''`, []string{"ab", ""}},
		{"  spaced\tout  ", []string{"spaced", "out"}},
		{``, nil},
	}
	for _, c := range cases {
		ws := words(t, c.line)
		var got []string
		for _, w := range ws {
			got = append(got, w.Text)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("%q: got %q, want %q", c.line, got, c.want)
		}
	}
	for _, bad := range []string{`lock "unterminated`, `it's`, `trailing\`} {
		if _, err := SplitLine(bad); err == nil || !errors.Is(err, engine.ErrUsage) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	if _, err := SplitLine(strings.Repeat("x", MaxLine+1)); err == nil {
		t.Error("an over-long line was accepted")
	}
}

// The command of exec is what was typed: quotes, backslashes and spacing
// reach the host's shell untouched (issue 13).
func TestCommandAsTyped(t *testing.T) {
	cases := []struct{ line, want string }{
		{`exec grep -q "Maintenance window" /etc/motd`, `grep -q "Maintenance window" /etc/motd`},
		{`exec -- printf "a = 0\n"`, `printf "a = 0\n"`},
		{`exec --creates /etc/x  touch   '/etc/x'  `, `touch   '/etc/x'`},
		{`exec --unless "test -e /x" -- ls --all -l`, `ls --all -l`},
		{`exec ls --all`, `ls --all`}, // flags after the command's first word are the command's
		{`exec -- --weird-program`, `--weird-program`},
	}
	for _, c := range cases {
		call, err := Default().Parse(words(t, c.line), nil)
		if err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		if call.Command != c.want {
			t.Errorf("%q: command %q, want %q", c.line, call.Command, c.want)
		}
	}
	// Batch argv: the shell split it; the words are joined by spaces.
	call, err := Default().Parse(Words([]string{"exec", "--", "printf", "a = 0\\n"}), nil)
	if err != nil || call.Command != `printf a = 0\n` {
		t.Fatalf("argv command %q, %v", call.Command, err)
	}
	call, err = Default().Parse(Words([]string{"exec", "--unless", "test -e /x", "grep -q 'a b' /etc/motd"}), nil)
	if err != nil || call.Command != `grep -q 'a b' /etc/motd` || call.Str("unless") != "test -e /x" {
		t.Fatalf("argv command %q, %v", call.Command, err)
	}
}

func TestParseFlagsAnywhere(t *testing.T) {
	gl := []Flag{{Name: "json", Type: Bool}, {Name: "store", Type: String}}
	call, err := Default().Parse(Words([]string{"--json", "snap", "./f", "--to=/etc/f", "--store", "/s.db", "--mode", "0600"}), gl)
	if err != nil {
		t.Fatal(err)
	}
	if call.Verb.Name != "snap" || call.Arg(0) != "./f" || call.Str("to") != "/etc/f" || call.Str("mode") != "0600" {
		t.Fatalf("%+v", call)
	}
	if len(call.Globals) != 2 || call.Globals[0] != (GlobalValue{"json", "true"}) || call.Globals[1] != (GlobalValue{"store", "/s.db"}) {
		t.Fatalf("globals %+v", call.Globals)
	}
	call, err = Default().Parse(words(t, "scan --iface a --iface b --watch"), nil)
	if err != nil || strings.Join(call.List("iface"), ",") != "a,b" || !call.Bool("watch") {
		t.Fatalf("%+v %v", call, err)
	}
	call, err = Default().Parse(words(t, "lock main -- --not-a-flag"), nil)
	if err != nil || strings.Join(call.Args, "|") != "main|--not-a-flag" {
		t.Fatalf("%+v %v", call, err)
	}
}

// TestTable checks the declarations: names unique, one type per flag
// name, usage and help for every verb, an example that parses.
func TestTable(t *testing.T) {
	tb := Default()
	if _, err := NewTable(tb.Verbs()...); err != nil {
		t.Fatal(err)
	}
	for _, v := range tb.Verbs() {
		if v.Help == "" || v.Group == "" || v.Run == nil {
			t.Errorf("%s: help %q, group %q, run %v", v.Name, v.Help, v.Group, v.Run != nil)
		}
		for i, a := range v.Args {
			if a.Many && i != len(v.Args)-1 {
				t.Errorf("%s: %s takes many words but is not last", v.Name, a.Name)
			}
		}
		line := strings.NewReplacer(ExampleFile, "./f", ExamplePlan, "p1").Replace(v.Example())
		call, err := tb.Parse(words(t, line), nil)
		if err != nil || call.Verb != v {
			t.Errorf("%s: its example %q does not parse: %v", v.Name, line, err)
		}
	}
	// Every registered kind has its staging verb.
	for _, k := range allKinds() {
		if _, ok := tb.Lookup(k.Spec().Verb); !ok {
			t.Errorf("kind %s: no verb %q", k.Name(), k.Spec().Verb)
		}
	}
}

// TestUsageErrors keeps testdata/usage-errors.txt true: the faces' tests
// check that each prints exactly these errors.
func TestUsageErrors(t *testing.T) {
	cases, err := ReadUsageErrors("testdata/usage-errors.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cases {
		_, err := Default().Parse(words(t, c.Line), nil)
		if err == nil {
			t.Errorf("%q was accepted", c.Line)
			continue
		}
		if !IsUsage(err) || !errors.Is(err, engine.ErrUsage) {
			t.Errorf("%q: %v is not a usage error", c.Line, err)
		}
		if !*update && err.Error() != c.Err {
			t.Errorf("%q:\n got  %s\n want %s", c.Line, err, c.Err)
		}
		out = append(out, c.Line+"\t"+err.Error())
	}
	if *update {
		data, _ := os.ReadFile("testdata/usage-errors.txt")
		var head []string
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() && strings.HasPrefix(sc.Text(), "#") {
			head = append(head, sc.Text())
		}
		if err := os.WriteFile("testdata/usage-errors.txt", []byte(strings.Join(append(head, out...), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzSplitLine(f *testing.F) {
	for _, s := range []string{`exec grep -q "Maintenance window" /etc/motd`, `printf "a = 0\n"`, `a\ b 'c d' "e\"f"`, `"`, `\`, "x\ty\nz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ws, err := SplitLine(line)
		if err != nil {
			return
		}
		for _, w := range ws {
			// Rest is always a suffix of the line that starts a word.
			if !strings.Contains(line, w.Rest) || w.Rest == "" {
				t.Fatalf("%q: rest %q", line, w.Rest)
			}
		}
		// Parsing never panics, whatever the words.
		_, _ = Default().Parse(ws, nil)
	})
}

// TestREADMEVerbTable: the README's verb table is the table's (a claim in
// the README is a promise). -update rewrites it.
func TestREADMEVerbTable(t *testing.T) {
	const path = "../../README.md"
	const begin, end = "<!-- verbs:begin (generated from engine/verbs: go test ./engine/verbs -run README -update) -->\n", "<!-- verbs:end -->"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no verb table between %q and %q", begin, end)
	}
	want := Default().Markdown()
	if got := s[i+len(begin) : j]; got != want {
		if *update {
			if err := os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's verb table differs from the verb table; run: go test ./engine/verbs -run README -update\n got:\n%s\nwant:\n%s", got, want)
	}
}

// A kind's Request error is what the operator typed wrong: a usage error
// (exit 2) with the kind's own words, its cause kept.
func TestKindErrorsAreUsage(t *testing.T) {
	cause := errors.New("remove needs one PATH")
	err := asUsage(cause)
	if !errors.Is(err, engine.ErrUsage) || !errors.Is(err, cause) || err.Error() != cause.Error() {
		t.Fatalf("asUsage: %v", err)
	}
	locked := fmt.Errorf("%w: you hold no lock", engine.ErrNotLocked)
	if asUsage(locked) != locked {
		t.Fatal("an error with a class was reclassified")
	}
}

package textsafe

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapes(t *testing.T) {
	cases := []struct{ in, line, text string }{
		{"web1", "web1", "web1"},
		{"héllo wörld ✓", "héllo wörld ✓", "héllo wörld ✓"},
		{"\x1b]2;pwned\x07", `\u001b]2;pwned\u0007`, `\u001b]2;pwned\u0007`},
		{"a\nb\tc\r", `a\u000ab\u0009c\u000d`, "a\nb\tc\\u000d"},
		{"csi\u009b31m", `csi\u009b31m`, `csi\u009b31m`},
		{"del\x7f", `del\u007f`, `del\u007f`},
		{"bad\xffbyte\xc2", `bad\xffbyte\xc2`, `bad\xffbyte\xc2`},
		{"rtl\u202eevil", `rtl\u202eevil`, `rtl\u202eevil`},
		{`back\slash \u001b`, `back\slash \u001b`, `back\slash \u001b`},
	}
	for _, c := range cases {
		if got := Line(c.in); got != c.line {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.line)
		}
		if got := Text(c.in); got != c.text {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.text)
		}
	}
}

// checkSafe fails when s holds anything a terminal could act on.
func checkSafe(t *testing.T, s string, multiline bool) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("escaped text is not UTF-8: %q", s)
	}
	for _, r := range s {
		if (r < 0x20 && !(multiline && (r == '\n' || r == '\t'))) || r == 0x7f || unsafeRune(r) {
			t.Fatalf("escaped text holds %U: %q", r, s)
		}
	}
}

func TestWriterSplitsAnywhere(t *testing.T) {
	in := "é ✓ 𝄞 \x1b[2J end\xff\n"
	want := Text(in)
	for cut := 0; cut <= len(in); cut++ {
		var out bytes.Buffer
		w := NewWriter(&out)
		w.Write([]byte(in[:cut]))
		w.Write([]byte(in[cut:]))
		w.Flush()
		if out.String() != want {
			t.Fatalf("split at %d: %q, want %q", cut, out.String(), want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "web1", "\x1b[31mred", "\u009b2J", "\xe2\x80", "a\r\nb", "\u202e"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, cut int) {
		checkSafe(t, Line(s), false)
		checkSafe(t, Text(s), true)
		if Safe(s) != (Text(s) == s) {
			t.Fatalf("Safe(%q) disagrees with Text", s)
		}
		if strings.ContainsAny(Line(s), "\n\t") {
			t.Fatalf("Line kept a newline or tab: %q", Line(s))
		}
		if cut < 0 {
			cut = -cut
		}
		if len(s) > 0 {
			cut %= len(s) + 1
		} else {
			cut = 0
		}
		var out bytes.Buffer
		w := NewWriter(&out)
		w.Write([]byte(s[:cut]))
		w.Write([]byte(s[cut:]))
		w.Flush()
		if out.String() != Text(s) {
			t.Fatalf("Writer(%q split at %d) = %q, want %q", s, cut, out.String(), Text(s))
		}
	})
}

func TestScrub(t *testing.T) {
	type change struct {
		Path string
		Diff string
	}
	type host struct {
		Name    string
		Vars    map[string]string
		Changes []change
		Ptr     *change
		Any     any
		Raw     []byte
		hidden  string
	}
	h := &host{Name: "evil\x1b]2;x\x07\nrow", Vars: map[string]string{"K": "v\x1b"},
		Changes: []change{{Path: "/etc/motd", Diff: "-a\x1b[2J\n+b\n"}}, Ptr: &change{Path: "p\x1b"},
		Any: change{Path: "q\x1b"}, Raw: []byte("\x1b"), hidden: "\x1b"}
	orig := h
	origVars := h.Vars
	Scrub(&h)
	Scrub(&h) // idempotent
	if orig.Name != "evil\x1b]2;x\x07\nrow" || origVars["K"] != "v\x1b" || orig.Changes[0].Diff != "-a\x1b[2J\n+b\n" || orig.Ptr.Path != "p\x1b" {
		t.Errorf("the original was modified: %+v", orig)
	}
	if h.Name != `evil\u001b]2;x\u0007\u000arow` {
		t.Errorf("name: %q", h.Name)
	}
	if h.Vars["K"] != `v\u001b` || h.Changes[0].Diff != "-a\\u001b[2J\n+b\n" || h.Ptr.Path != `p\u001b` || h.Any.(change).Path != `q\u001b` {
		t.Errorf("nested: %+v %+v %+v", h.Vars, h.Changes, h.Any)
	}
	if string(h.Raw) != "\x1b" || h.hidden != "\x1b" {
		t.Error("bytes and unexported fields are left alone")
	}
}

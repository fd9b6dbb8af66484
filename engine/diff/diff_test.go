package diff

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gnuDiff runs GNU diff -u and drops its header lines (they carry times).
func gnuDiff(t *testing.T, a, b string) string {
	t.Helper()
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("GNU diff not installed (apt-get install diffutils)")
	}
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(pa, []byte(a), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pb, []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("diff", "-u", pa, pb).Output()
	lines := strings.SplitAfter(string(out), "\n")
	if len(lines) < 2 {
		return ""
	}
	return strings.Join(lines[2:], "")
}

func body(u string) string {
	lines := strings.SplitAfter(u, "\n")
	if len(lines) < 2 {
		return ""
	}
	return strings.Join(lines[2:], "")
}

func TestUnifiedMatchesGNUDiff(t *testing.T) {
	many := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(f(i))
		}
		return b.String()
	}
	cases := map[string][2]string{
		"new file":             {"", "one\ntwo\n"},
		"deleted file":         {"one\ntwo\n", ""},
		"no trailing newline":  {"a\nb\nc", "a\nb\nc\n"},
		"both no newline":      {"a\nb", "a\nc"},
		"middle change":        {"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n"},
		"two hunks":            {many(30, func(i int) string { return string(rune('a'+i%26)) + "\n" }), strings.Replace(strings.Replace(many(30, func(i int) string { return string(rune('a'+i%26)) + "\n" }), "b\n", "B\n", 1), "x\n", "X\n", 1)},
		"adjacent merge":       {"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nII\n3\n4\n5\n6\n7\n8\nIX\n10\n"},
		"append at end":        {"a\nb\n", "a\nb\nc\n"},
		"insert at start":      {"a\nb\n", "z\na\nb\n"},
		"single line replaced": {"x\n", "y\n"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := body(Unified("a", "b", c[0], c[1]))
			want := gnuDiff(t, c[0], c[1])
			if got != want {
				t.Errorf("diff mismatch\n--- ours\n%s--- GNU diff -u\n%s", got, want)
			}
		})
	}
}

// apply replays a unified diff onto a, to check diffs whose alignment may
// legitimately differ from GNU diff's (repeated lines).
func apply(t *testing.T, a, u string) string {
	t.Helper()
	old := strings.SplitAfter(a, "\n")
	if len(old) > 0 && old[len(old)-1] == "" {
		old = old[:len(old)-1]
	}
	var out []string
	pos := 0
	lines := strings.Split(u, "\n")
	for i := 2; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "@@") {
			var os1, on, ns, nn int
			spec := strings.Fields(l)
			parse := func(s string, start, n *int) {
				p := strings.SplitN(s[1:], ",", 2)
				*start = atoi(p[0])
				*n = 1
				if len(p) == 2 {
					*n = atoi(p[1])
				}
			}
			parse(spec[1], &os1, &on)
			parse(spec[2], &ns, &nn)
			from := os1 - 1
			if on == 0 {
				from = os1
			}
			out = append(out, old[pos:from]...)
			pos = from
			continue
		}
		if l == "" {
			continue
		}
		switch l[0] {
		case ' ':
			out = append(out, old[pos])
			pos++
		case '-':
			pos++
		case '+':
			out = append(out, l[1:]+"\n")
		case '\\':
			if n := len(out) - 1; n >= 0 && strings.HasPrefix(lines[i-1], "+") {
				out[n] = strings.TrimSuffix(out[n], "\n")
			}
		}
	}
	out = append(out, old[pos:]...)
	return strings.Join(out, "")
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestUnifiedRepeatedLinesApplies(t *testing.T) {
	cases := [][2]string{
		{"a\na\na\nb\na\na\n", "a\nb\na\na\nb\na\n"},
		{"}\n}\n}\n", "}\n{\n}\n}\n"},
		{strings.Repeat("x\n", 20), strings.Repeat("x\n", 10) + "y\n" + strings.Repeat("x\n", 10)},
	}
	for _, c := range cases {
		u := Unified("a", "b", c[0], c[1])
		if got := apply(t, c[0], u); got != c[1] {
			t.Errorf("applying\n%s\nto %q gives %q, want %q", u, c[0], got, c[1])
		}
		ga, gr := Stat(gnuDiff(t, c[0], c[1]))
		oa, or := Stat(u)
		if ga+gr != oa+or {
			t.Errorf("not minimal: ours +%d -%d, GNU +%d -%d", oa, or, ga, gr)
		}
	}
}

func TestIsBinary(t *testing.T) {
	if IsBinary([]byte("plain text ✓\n")) {
		t.Error("UTF-8 text is not binary")
	}
	if !IsBinary([]byte("a\x00b")) || !IsBinary([]byte{0xff, 0xfe, 'a'}) {
		t.Error("NUL or invalid UTF-8 is binary")
	}
}

func TestEqualIsEmpty(t *testing.T) {
	if Unified("a", "b", "x\n", "x\n") != "" {
		t.Error("equal content must give no diff")
	}
}

func BenchmarkUnified20kLines(b *testing.B) {
	var a, c strings.Builder
	for i := 0; i < 20000; i++ {
		line := "line " + string(rune('a'+i%26)) + strings.Repeat("x", i%40) + "\n"
		a.WriteString(line)
		if i%200 == 0 {
			c.WriteString("changed " + line)
		} else {
			c.WriteString(line)
		}
	}
	for b.Loop() {
		Unified("a", "b", a.String(), c.String())
	}
}

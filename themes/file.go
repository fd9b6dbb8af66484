package themes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Parse reads a theme file: one `key = "value"` per line, `#` comments and
// blank lines ignored. The optional key `base` names the built-in theme the
// file starts from (default: dark or light for the terminal background);
// every other key overrides one palette entry (see KnownKeys). Every bad
// line is reported, each as `file:line: problem`.
func Parse(file string, data []byte, hasDarkBG bool) (*Theme, error) {
	type setting struct {
		line       int
		key, value string
	}
	var (
		errs     []error
		settings []setting
		base     = "auto"
		seen     = map[string]int{}
	)
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(stripComment(sc.Text()))
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			fail(n, "expected key = \"value\", got %q", line)
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else if strings.HasPrefix(v, `"`) {
			fail(n, "unterminated quoted value %s", v)
			continue
		}
		if v == "" {
			fail(n, "%q has no value (quote colours: %s = \"#rrggbb\")", k, k)
			continue
		}
		if first, dup := seen[k]; dup {
			fail(n, "%q is already set on line %d", k, first)
			continue
		}
		seen[k] = n
		if k == "base" {
			if _, ok := Builtin(v, hasDarkBG); !ok {
				fail(n, "unknown base theme %q; built-in themes: %s", v, strings.Join(Names, ", "))
				continue
			}
			base = v
			continue
		}
		settings = append(settings, setting{n, k, v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	t, _ := Builtin(base, hasDarkBG)
	p := t.Palette
	var overrides [][2]string
	for _, s := range settings {
		if err := p.Set(s.key, s.value); err != nil {
			fail(s.line, "%v", err)
			continue
		}
		overrides = append(overrides, [2]string{s.key, s.value})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := New(file, t.Dark, p)
	out.base, out.overrides = t.base, overrides
	return out, nil
}

// stripComment cuts a trailing # comment, leaving a # inside quotes alone
// (colours are written "#rrggbb").
func stripComment(s string) string {
	in := false
	for i, r := range s {
		switch {
		case r == '"':
			in = !in
		case r == '#' && !in:
			return s[:i]
		}
	}
	return s
}

// Format writes a palette as a theme file, the inverse of Parse.
func Format(base string, p Palette) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# discoterm theme\nbase = %q\n", base)
	for _, e := range p.Entries() {
		fmt.Fprintf(&b, "%s = %q\n", e[0], e[1])
	}
	return b.String()
}

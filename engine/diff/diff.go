// Package diff produces unified diffs (GNU `diff -u` format) of text
// content, using sergi/go-diff's line mode for the edit script.
package diff

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	dmp "github.com/sergi/go-diff/diffmatchpatch"
)

// Limit bounds the time spent looking for a minimal diff. Content comes
// from hosts, which are not trusted, and a minimal line diff of two large
// files with little in common is quadratic; past Limit the diff is still
// correct but may not be minimal. Every ordinary file finishes far below it
// (20,000 lines with 100 changes: ~12 ms), so diffs stay deterministic.
var Limit = 2 * time.Second

// Context is the number of unchanged lines around each change, as diff -u.
const Context = 3

// IsBinary reports whether content should be shown as a hash change rather
// than a text diff: it has a NUL byte or is not valid UTF-8 (as git and
// GNU diff decide, roughly).
func IsBinary(b []byte) bool {
	n := len(b)
	if n > 8000 {
		n = 8000
	}
	return bytes.IndexByte(b[:n], 0) >= 0 || !utf8.Valid(b)
}

type op struct {
	kind byte // ' ', '-', '+'
	text string
	noNL bool // the line has no trailing newline
}

// lines splits text into lines, remembering whether the last one ended.
func edits(a, b string) []op {
	d := dmp.New()
	d.DiffTimeout = Limit // minimal unless it takes longer than Limit
	ca, cb, arr := d.DiffLinesToChars(a, b)
	diffs := d.DiffCharsToLines(d.DiffMain(ca, cb, false), arr)
	var ops []op
	for _, df := range diffs {
		kind := byte(' ')
		switch df.Type {
		case dmp.DiffDelete:
			kind = '-'
		case dmp.DiffInsert:
			kind = '+'
		}
		text := df.Text
		for text != "" {
			i := strings.IndexByte(text, '\n')
			if i < 0 {
				ops = append(ops, op{kind: kind, text: text, noNL: true})
				break
			}
			ops = append(ops, op{kind: kind, text: text[:i]})
			text = text[i+1:]
		}
	}
	return ops
}

// Unified returns a unified diff of a → b with the given file labels, or ""
// when they are equal.
func Unified(labelA, labelB, a, b string) string {
	if a == b {
		return ""
	}
	ops := edits(a, b)
	// oldAt[i], newAt[i]: lines of each side before op i.
	oldAt := make([]int, len(ops)+1)
	newAt := make([]int, len(ops)+1)
	for i, o := range ops {
		oldAt[i+1], newAt[i+1] = oldAt[i], newAt[i]
		if o.kind != '+' {
			oldAt[i+1]++
		}
		if o.kind != '-' {
			newAt[i+1]++
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", labelA, labelB)
	i := 0
	for i < len(ops) {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-Context, 0)
		// Extend the hunk while the next change is within 2*Context lines.
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
				continue
			}
			if j-end > 2*Context {
				break
			}
		}
		stop := min(end+Context+1, len(ops))
		oldN, newN := oldAt[stop]-oldAt[start], newAt[stop]-newAt[start]
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", rangeSpec(oldAt[start], oldN), rangeSpec(newAt[start], newN))
		for _, o := range ops[start:stop] {
			out.WriteByte(o.kind)
			out.WriteString(o.text)
			out.WriteByte('\n')
			if o.noNL {
				out.WriteString("\\ No newline at end of file\n")
			}
		}
		i = stop
	}
	return out.String()
}

// rangeSpec formats a hunk range as GNU diff does: "l" for one line,
// "l,n" otherwise, and the line before for an empty range.
func rangeSpec(before, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", before)
	case 1:
		return fmt.Sprintf("%d", before+1)
	}
	return fmt.Sprintf("%d,%d", before+1, n)
}

// Stat counts added and removed lines of a unified diff.
func Stat(unified string) (added, removed int) {
	for _, l := range strings.Split(unified, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			added++
		case strings.HasPrefix(l, "-"):
			removed++
		}
	}
	return
}

package ui

import (
	"strings"
	"unicode"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/discoterm/discoterm/themes"
)

// Limits that keep review fast on huge or pathological diffs.
const (
	maxDiffLines     = 400  // lines of one group's diff shown before "… more"
	maxWordDiffWidth = 1000 // longer lines are coloured whole
	minSharedRatio   = 0.4  // below this, a line pair is a rewrite: no word highlights
)

// renderDiff colours a unified diff: headers, hunk lines, context, and
// inside each pair of removed/added lines the words that changed.
func renderDiff(t *themes.Theme, diff string) []string {
	src := strings.Split(strings.TrimRight(diff, "\n"), "\n")
	out := make([]string, 0, min(len(src), maxDiffLines+1))
	for i := 0; i < len(src) && len(out) < maxDiffLines; {
		l := expandTabs(src[i])
		switch {
		case strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++"):
			out = append(out, t.Bold.Render(l))
			i++
		case strings.HasPrefix(l, "@@"):
			out = append(out, t.DiffHunk.Render(l))
			i++
		case strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+"):
			// A run of removed lines and the added lines after it: pair
			// them in order and highlight the words that differ.
			j := i
			for j < len(src) && strings.HasPrefix(src[j], "-") && !strings.HasPrefix(src[j], "---") {
				j++
			}
			k := j
			for k < len(src) && strings.HasPrefix(src[k], "+") && !strings.HasPrefix(src[k], "+++") {
				k++
			}
			if j == i { // added lines with no removed lines before them
				for ; i < k; i++ {
					out = append(out, t.DiffAdd.Render(expandTabs(src[i])))
				}
				continue
			}
			dels, adds := src[i:j], src[j:k]
			delOut := make([]string, len(dels))
			addOut := make([]string, len(adds))
			for n := range dels {
				delOut[n] = t.DiffDel.Render(expandTabs(dels[n]))
			}
			for n := range adds {
				addOut[n] = t.DiffAdd.Render(expandTabs(adds[n]))
			}
			for n := 0; n < len(dels) && n < len(adds); n++ {
				if d, a, ok := wordDiff(t, expandTabs(dels[n][1:]), expandTabs(adds[n][1:])); ok {
					delOut[n] = t.DiffDel.Render("-") + d
					addOut[n] = t.DiffAdd.Render("+") + a
				}
			}
			out = append(out, delOut...)
			out = append(out, addOut...)
			i = k
		case strings.HasPrefix(l, `\`):
			out = append(out, t.Muted.Render(l))
			i++
		default:
			out = append(out, t.DiffContext.Render(l))
			i++
		}
	}
	if len(out) >= maxDiffLines && len(src) > maxDiffLines {
		out = append(out[:maxDiffLines], t.Muted.Render("… the diff goes on (z folds diffs)"))
	}
	return out
}

func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	return strings.ReplaceAll(s, "\t", "    ")
}

// wordDiff styles the removed and added versions of one line, marking the
// words that differ. ok is false when the lines share too little for word
// highlights to help (the whole line is simply replaced).
func wordDiff(t *themes.Theme, old, new string) (string, string, bool) {
	if len(old) > maxWordDiffWidth || len(new) > maxWordDiffWidth {
		return "", "", false
	}
	toks := map[string]rune{}
	var words []string
	encode := func(s string) []rune {
		var rs []rune
		for _, w := range tokens(s) {
			r, ok := toks[w]
			if !ok {
				r = tokenRune(len(words))
				toks[w] = r
				words = append(words, w)
			}
			rs = append(rs, r)
		}
		return rs
	}
	a, b := encode(old), encode(new)
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0
	diffs := dmp.DiffCleanupSemantic(dmp.DiffMainRunes(a, b, false))
	decode := func(s string) string {
		var sb strings.Builder
		for _, r := range s {
			sb.WriteString(words[runeToken(r)])
		}
		return sb.String()
	}
	var dl, al strings.Builder
	shared := 0
	for _, d := range diffs {
		text := decode(d.Text)
		switch d.Type {
		case diffmatchpatch.DiffEqual:
			shared += len(text)
			dl.WriteString(t.DiffDel.Render(text))
			al.WriteString(t.DiffAdd.Render(text))
		case diffmatchpatch.DiffDelete:
			dl.WriteString(t.DiffDelWord.Render(text))
		case diffmatchpatch.DiffInsert:
			al.WriteString(t.DiffAddWord.Render(text))
		}
	}
	if longest := max(len(old), len(new)); longest > 0 && float64(shared)/float64(longest) < minSharedRatio {
		return "", "", false
	}
	return dl.String(), al.String(), true
}

// tokens splits a line into words, runs of spaces and single other
// characters, so a changed number or name highlights alone.
func tokens(s string) []string {
	var out []string
	rs := []rune(s)
	for i := 0; i < len(rs); {
		j := i + 1
		switch {
		case isWord(rs[i]):
			for j < len(rs) && isWord(rs[j]) {
				j++
			}
		case unicode.IsSpace(rs[i]):
			for j < len(rs) && unicode.IsSpace(rs[j]) {
				j++
			}
		}
		out = append(out, string(rs[i:j]))
		i = j
	}
	return out
}

func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// Tokens are diffed as runes from the private use areas, one per distinct
// token.
func tokenRune(i int) rune {
	if i < 0x1900 {
		return rune(0xE000 + i)
	}
	return rune(0xF0000 + i - 0x1900)
}

func runeToken(r rune) int {
	if r >= 0xF0000 {
		return int(r-0xF0000) + 0x1900
	}
	return int(r - 0xE000)
}

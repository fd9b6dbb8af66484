package ui

import (
	"regexp"
	"strings"
)

// matcher is the / filter, as k9s has it: the text is a case-insensitive
// regular expression (plain words are one) matched against every visible
// column of a row; "!" in front inverts it. Words of the form field:value
// look at one named column only. Several words must all match.
type matcher struct {
	invert bool
	words  []matchWord
}

type matchWord struct {
	field string // "" for any column
	re    *regexp.Regexp
	plain string // when the word is not a valid expression
}

func newMatcher(text string) matcher {
	text = strings.TrimSpace(text)
	var m matcher
	if rest, ok := strings.CutPrefix(text, "!"); ok {
		m.invert, text = true, strings.TrimSpace(rest)
	}
	for _, w := range strings.Fields(text) {
		mw := matchWord{}
		if f, v, ok := strings.Cut(w, ":"); ok && f != "" && v != "" && !strings.ContainsAny(f, `\^$.[(|*+?{`) {
			mw.field, w = strings.ToLower(f), v
		}
		if re, err := regexp.Compile("(?i)" + w); err == nil {
			mw.re = re
		} else {
			mw.plain = strings.ToLower(w)
		}
		m.words = append(m.words, mw)
	}
	return m
}

// empty reports whether the filter lets everything through.
func (m matcher) empty() bool { return len(m.words) == 0 }

// match tests a row: cells are its visible columns by lower-case title
// ("name", "state", …); fields unknown to the row match nothing.
func (m matcher) match(cells map[string]string) bool {
	if m.empty() {
		return true
	}
	all := true
	for _, w := range m.words {
		if !w.matchAny(cells) {
			all = false
			break
		}
	}
	return all != m.invert
}

func (w matchWord) matchAny(cells map[string]string) bool {
	test := func(s string) bool {
		if w.re != nil {
			return w.re.MatchString(s)
		}
		return strings.Contains(strings.ToLower(s), w.plain)
	}
	if w.field != "" {
		for title, v := range cells {
			if strings.Contains(title, w.field) && test(v) {
				return true
			}
		}
		return false
	}
	for _, v := range cells {
		if test(v) {
			return true
		}
	}
	return false
}

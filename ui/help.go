package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// helpView is the ? overlay, generated from the key map (with the reason
// beside every disabled key) and the command table.
type helpView struct {
	c      *Common
	focus  view
	offset int
}

func newHelpView(c *Common, focus view) *helpView { return &helpView{c: c, focus: focus} }

func (h *helpView) Update(msg tea.KeyPressMsg) {
	switch {
	case msg.String() == "down" || msg.String() == "j":
		h.offset++
	case msg.String() == "up" || msg.String() == "k":
		h.offset = max(h.offset-1, 0)
	}
}

// sections renders help: one block of lines per key group, then the
// commands.
func (h *helpView) sections(col int) (groups [][]string, cmds []string) {
	t := h.c.Theme
	k := h.c.Keys
	for _, g := range k.groups() {
		out := []string{t.Title.Render(g.title)}
		for _, b := range g.keys {
			hp := b.Help()
			keyCol := fit(hp.Key, 10)
			if !b.Enabled() {
				out = append(out, "  "+t.KeyOff.Render(keyCol+hp.Desc))
				for _, l := range strings.Split(ansi.Wordwrap("↳ "+k.Why(b), col-6, " "), "\n") {
					out = append(out, "    "+t.Muted.Render(l))
				}
				continue
			}
			out = append(out, "  "+t.Key.Render(keyCol)+t.KeyDesc.Render(hp.Desc))
		}
		groups = append(groups, append(out, ""))
	}
	cmds = append(cmds, t.Title.Render("commands (:) — the --batch verbs, plus the console's own"))
	for _, v := range commandTable().Verbs() {
		usage := ":" + v.Usage()
		if ansi.StringWidth(usage) <= 34 {
			cmds = append(cmds, "  "+t.Key.Render(fit(usage, 34))+t.KeyDesc.Render(v.Help))
			continue
		}
		// A long synopsis gets its own lines: cut, it would hide flags.
		for _, l := range strings.Split(ansi.Wordwrap(usage, col-2, " "), "\n") {
			cmds = append(cmds, "  "+t.Key.Render(l))
		}
		cmds = append(cmds, "  "+strings.Repeat(" ", 34)+t.KeyDesc.Render(v.Help))
	}
	return groups, cmds
}

func (h *helpView) View(w, maxH int) string {
	w = min(w, 110)
	col := w - 4
	if w >= 90 {
		col = (w - 6) / 2
	}
	groups, cmds := h.sections(col)
	var body []string
	if w >= 90 {
		// Two columns: fill the left one with groups up to half the lines.
		total := 0
		for _, g := range groups {
			total += len(g)
		}
		var left, right []string
		for _, g := range groups {
			if len(left) < total/2 {
				left = append(left, g...)
			} else {
				right = append(right, g...)
			}
		}
		for i := 0; i < max(len(left), len(right)); i++ {
			var l, r string
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			body = append(body, fit(l, col)+"  "+r)
		}
	} else {
		for _, g := range groups {
			body = append(body, g...)
		}
	}
	body = append(body, cmds...)
	room := max(maxH-6, 3)
	h.offset = min(h.offset, max(len(body)-room, 0))
	body = body[h.offset:min(h.offset+room, len(body))]
	body = append(body, "", h.c.Theme.Muted.Render("j/k scroll · esc or ? closes"))
	return frame(h.c, "discoterm — keys and commands", w, body)
}

package ui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/engine/verbs"
)

// helpView is the ? overlay, generated from the key map (with the reason
// beside every disabled key) and the command table.
type helpView struct {
	c      *Common
	focus  view
	offset int
	room   int // body lines the last View showed, for paging
	// status is the status bar in full (the bar itself cuts at the edge).
	status []string
	verb   *verbs.Verb // :help VERB: that verb's arguments, flags and example
}

func newHelpView(c *Common, focus view) *helpView { return &helpView{c: c, focus: focus} }

func (h *helpView) Update(msg tea.KeyPressMsg) {
	k := h.c.Keys
	page := max(h.room-1, 1)
	switch {
	case key.Matches(msg, k.Down):
		h.offset++
	case key.Matches(msg, k.Up):
		h.offset--
	case key.Matches(msg, k.PageDown), msg.String() == "space":
		h.offset += page
	case key.Matches(msg, k.PageUp):
		h.offset -= page
	case key.Matches(msg, k.Top):
		h.offset = 0
	case key.Matches(msg, k.Bottom):
		h.offset = 1 << 30
	}
	h.offset = max(h.offset, 0) // the upper bound needs the layout: View clamps it
}

// viewGroup is the key group of each view's own keys.
var viewGroup = [viewCount]string{viewHosts: "hosts", viewJournal: "journal", viewPlan: "plan review", viewPush: "push", viewActivity: "activity", viewDrift: "drift", viewMachines: "machines"}

// sections renders help: one block of lines per key group, then the
// commands.
func (h *helpView) sections(col, full int) (groups [][]string, cmds []string) {
	t := h.c.Theme
	k := h.c.Keys
	// Contextual, as k9s' help is: the focused view's own keys first,
	// then the keys that work everywhere; other views' keys show there.
	var ordered []helpGroup
	for _, g := range k.groups() {
		if g.title == viewGroup[h.focus] {
			g.title = viewNames[h.focus] + " view"
			ordered = append([]helpGroup{g}, ordered...)
		} else if !slices.Contains(viewGroup[:], g.title) {
			ordered = append(ordered, g)
		}
	}
	for _, g := range ordered {
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
	descW := max(full-2-34, 20)
	indent := "  " + strings.Repeat(" ", 34)
	for _, v := range commandTable().Verbs() {
		usage := ":" + v.Usage()
		desc := strings.Split(ansi.Wordwrap(v.Help, descW, " "), "\n")
		if ansi.StringWidth(usage) <= 34 {
			cmds = append(cmds, "  "+t.Key.Render(fit(usage, 34))+t.KeyDesc.Render(desc[0]))
			desc = desc[1:]
		} else {
			// A long synopsis gets its own lines: cut, it would hide flags.
			for _, l := range wrapAtSpaces(usage, full-2) {
				cmds = append(cmds, "  "+t.Key.Render(l))
			}
		}
		for _, l := range desc {
			cmds = append(cmds, indent+t.KeyDesc.Render(l))
		}
	}
	return groups, cmds
}

func (h *helpView) View(w, maxH int) string {
	w = min(w, 110)
	col := w - 4
	if w >= 90 {
		col = (w - 6) / 2
	}
	if h.verb != nil {
		return h.scrolled("help :"+h.verb.Name, w, maxH, h.verbLines(w))
	}
	groups, cmds := h.sections(col, w-4)
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
	if len(h.status) > 0 {
		top := []string{h.c.Theme.Title.Render("status")}
		for _, l := range h.status {
			top = append(top, wrapLines("  "+l, w-6)...)
		}
		body = append(append(top, ""), body...)
	}
	// Wrap first, so the window below counts the lines frame will draw.
	var lines []string
	for _, l := range body {
		lines = append(lines, wrapLines(l, w-4)...)
	}
	return h.scrolled("discoterm — keys in "+viewNames[h.focus]+" and commands", w, maxH, lines)
}

// scrolled frames the lines that fit from the scroll offset on.
func (h *helpView) scrolled(title string, w, maxH int, body []string) string {
	room := max(maxH-6, 3)
	h.room = room
	h.offset = min(h.offset, max(len(body)-room, 0))
	where := "all shown"
	if len(body) > room {
		where = fmt.Sprintf("lines %d–%d of %d", h.offset+1, min(h.offset+room, len(body)), len(body))
	}
	body = body[h.offset:min(h.offset+room, len(body))]
	body = append(body, "", h.c.Theme.Muted.Render("↑/↓ pgup/pgdn g/G scroll · esc or ? closes · "+where))
	return frame(h.c, title, w, body)
}

// verbLines are :help VERB — the table's text of one verb, wrapped at
// spaces (a flag such as --mode is never split) with hanging indents.
func (h *helpView) verbLines(w int) []string {
	var body []string
	for i, l := range strings.Split(strings.TrimRight(h.verb.VerbText(), "\n"), "\n") {
		if i == 0 {
			l = ":" + l
		}
		lead := len(l) - len(strings.TrimLeft(l, " "))
		hang := lead + 2
		if strings.HasPrefix(l, "  --") {
			hang = 27 // under the flag's help, as VerbText lays it out
		}
		text := strings.TrimLeft(l, " ")
		lines := wrapAtSpaces(text, w-6-lead)
		if len(lines) > 1 { // the rest goes under the hanging indent
			rest := strings.TrimPrefix(strings.TrimPrefix(text, lines[0]), " ")
			lines = append(lines[:1], wrapAtSpaces(rest, w-6-hang)...)
		}
		for j, wl := range lines {
			pad := hang
			if j == 0 {
				pad = lead
			}
			wl = strings.Repeat(" ", pad) + wl
			if i == 0 {
				wl = h.c.Theme.Key.Render(wl)
			}
			body = append(body, wl)
		}
	}
	return body
}

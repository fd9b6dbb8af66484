package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/engine"
)

// Flash messages stay this long, the last part of it faded.
const (
	flashLife = 6 * time.Second
	flashFade = 2 * time.Second
)

// flash is a transient message in the bottom line.
type flash struct {
	id    int
	level engine.Level
	text  string
	faded bool
}

// flashMsg ages the flash with that id: first it fades, then it goes.
type flashMsg struct {
	id   int
	gone bool
}

// setFlash shows a message without logging it.
func (m *Model) setFlash(level engine.Level, text string) {
	m.flashSeq++
	m.flashNow = &flash{id: m.flashSeq, level: level, text: text}
	m.flashPending = true
}

// flash shows a message and records it in the activity log, so every
// answer can be read again after it fades. The timers that fade it are
// issued at the end of Update (flashTimers).
func (m *Model) flash(level engine.Level, text string) {
	m.setFlash(level, text)
	m.activity.add(m.c.Now(), level, text)
}

func (m *Model) flashTimers() tea.Cmd {
	if !m.flashPending || m.flashNow == nil {
		return nil
	}
	m.flashPending = false
	id := m.flashNow.id
	life := flashLife
	if m.flashNow.level == engine.LevelError {
		life *= 2 // errors stay long enough to read twice
	}
	return tea.Batch(
		tea.Tick(life-flashFade, func(time.Time) tea.Msg { return flashMsg{id: id} }),
		tea.Tick(life, func(time.Time) tea.Msg { return flashMsg{id: id, gone: true} }),
	)
}

func (m *Model) ageFlash(msg flashMsg) {
	if m.flashNow == nil || m.flashNow.id != msg.id {
		return
	}
	if msg.gone {
		m.flashNow = nil
		return
	}
	m.flashNow.faded = true
}

// statusRowsMax is how many lines the status bar may take; past it the
// last line says where the rest is (help shows every item whole).
const statusRowsMax = 4

// statusBar is the store, scan state, branch, lock and jobs: one line
// when they fit, else wrapped between items (an item wider than the
// screen wraps inside), so nothing is cut at 80 columns.
func (m *Model) statusBar() []string {
	t := m.c.Theme
	sep := t.BarKey.Render(" │ ")
	w := max(m.width, 10)
	type item struct{ k, v string }
	items := []item{{"branch", m.branch}}
	if l := m.lockInfo(); l != "" {
		items = append(items, item{"lock", l})
	} else {
		items = append(items, item{"lock", "free"})
	}
	if len(m.jobs) > 0 {
		items = append(items, item{"jobs", m.jobsText()})
	}
	if m.scan != "" {
		items = append(items, item{"", m.scan})
	}
	if m.storePath != "" {
		items = append(items, item{"store", m.storePath})
	}
	var lines []string
	cur, curW := t.BarAccent.Render(" discoterm"), len(" discoterm")
	put := func(s string, sw int) {
		if curW > 0 && curW+3+sw > w { // " │ " is 3 wide
			lines = append(lines, cur)
			cur, curW = "", 0
		}
		if curW > 0 {
			cur, curW = cur+sep, curW+3
		} else {
			cur, curW = " ", 1
		}
		cur, curW = cur+s, curW+sw
	}
	for _, it := range items {
		key := ""
		if it.k != "" {
			key = it.k + " "
		}
		parts := []string{it.v}
		if ansi.StringWidth(key+it.v)+1 > w {
			parts = wrapLines(it.v, w-ansi.StringWidth(key)-2)
		}
		for n, p := range parts {
			k := key
			if n > 0 {
				k = strings.Repeat(" ", len(key))
			}
			styled := t.Bar.Render(p)
			if k != "" {
				styled = t.BarKey.Render(k) + styled
			}
			put(styled, ansi.StringWidth(k+p))
		}
	}
	lines = append(lines, cur)
	if len(lines) > statusRowsMax {
		lines = lines[:statusRowsMax]
		const more = " … (? shows all of it)"
		lines[statusRowsMax-1] = cut(lines[statusRowsMax-1], w-len(more)) + t.BarKey.Render(more)
	}
	for i := range lines {
		lines[i] = fill(lines[i], m.width, t.Bar)
	}
	return lines
}

// lockInfo is "you: msg" or "bob@jump2: msg" for the current branch.
func (m *Model) lockInfo() string {
	if m.journal.view == nil || m.journal.view.Lock == nil {
		return ""
	}
	l := m.journal.view.Lock
	who := l.Holder
	if who == m.operator {
		who = "you"
	}
	if l.Message != "" {
		return fmt.Sprintf("%s %q", who, l.Message)
	}
	return who
}

// lockedByMe reports whether the operator holds the current branch's lock.
func (m *Model) lockedByMe() bool {
	v := m.journal.view
	return v != nil && v.Lock != nil && v.Lock.Holder == m.operator
}

func (m *Model) jobsText() string {
	ids := make([]string, 0, len(m.jobs))
	for id := range m.jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	texts := make([]string, 0, len(ids))
	for _, id := range ids {
		s := m.jobs[id].text
		if id == m.planning.job {
			s += " " + m.planning.String()
		}
		if id == m.pushJob {
			s += " " + m.pushes.progress()
		}
		texts = append(texts, s)
	}
	return strings.Join(texts, ", ")
}

// bottomLine is the command line or filter while typing, else the flash,
// else short help for the focused pane.
func (m *Model) bottomLine() string {
	t := m.c.Theme
	switch {
	case m.input.active():
		return fit(m.input.View(), m.width)
	case m.flashNow != nil:
		f := m.flashNow
		style := t.FlashInfo
		switch {
		case f.faded:
			style = t.FlashFaded
		case f.level == engine.LevelWarn:
			style = t.FlashWarn
		case f.level == engine.LevelError:
			style = t.FlashError
		}
		text := f.text
		if ansi.StringWidth(text) > m.width {
			// Cut, but say where the whole of it is.
			const more = " (5: all of it)" // after cut's …
			text = cut(text, max(m.width-ansi.StringWidth(more), 10)) + more
		}
		return fit(style.Render(text), m.width)
	}
	return fit(m.shortHelp(), m.width)
}

// statusDetail is every item of the status bar, whole, for help.
func (m *Model) statusDetail() []string {
	out := []string{"branch " + m.branch}
	if l := m.lockInfo(); l != "" {
		out = append(out, "lock "+l)
	} else {
		out = append(out, "lock free")
	}
	if len(m.jobs) > 0 {
		out = append(out, "jobs "+m.jobsText())
	}
	if m.scan != "" {
		out = append(out, m.scan)
	}
	if m.storePath != "" {
		out = append(out, "store "+m.storePath)
	}
	return out
}

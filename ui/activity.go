package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
)

// activityCap bounds the event log kept in memory.
const activityCap = 5000

type activityLine struct {
	time  time.Time
	level engine.Level
	text  string
}

// activityPane is the event log: what the engine reported and what the
// operator started from here (lines beginning "›"), newest at the bottom.
type activityPane struct {
	c        *Common
	w, h     int
	lines    []activityLine // ring buffer once full
	start    int
	minLevel engine.Level
	nav      listNav
	follow   bool // stick to the newest line
	shown    []int
	dirty    bool
}

func newActivityPane(c *Common) *activityPane { return &activityPane{c: c, follow: true} }

func (p *activityPane) SetSize(w, h int) { p.w, p.h = w, h; p.dirty = true }

func (p *activityPane) bodyHeight() int { return max(p.h-1, 1) }

func (p *activityPane) add(t time.Time, level engine.Level, text string) {
	l := activityLine{time: t, level: level, text: text}
	if len(p.lines) < activityCap {
		p.lines = append(p.lines, l)
	} else {
		p.lines[p.start] = l
		p.start = (p.start + 1) % activityCap
	}
	p.dirty = true
}

func (p *activityPane) at(i int) activityLine { return p.lines[(p.start+i)%len(p.lines)] }

// addEvent records an engine event as one readable line.
func (p *activityPane) addEvent(ev engine.Event) {
	h := ev.Meta()
	p.add(h.Time, h.Level, eventText(ev))
}

// eventText describes an event for the log: its type, its message, and
// the error it carries.
func eventText(ev engine.Event) string {
	msg := ev.Meta().Message
	if p, ok := ev.(*engine.PushHostEvent); ok && msg == "" {
		msg = fmt.Sprintf("%s %s at position %d", p.Host, p.Status, p.Position)
	}
	// "staged: staged …" says it twice: the type goes in front only
	// when the message does not start with it already.
	typ := ev.Type().String()
	text := msg
	if stem, _, _ := strings.Cut(typ, "."); !strings.HasPrefix(msg, stem) {
		text = typ + ": " + msg
	}
	if err := engine.EventErr(ev); err != "" && !strings.Contains(text, err) {
		text += " — " + err
	}
	return text
}

// prepare recomputes which lines pass the level filter.
func (p *activityPane) prepare() {
	if !p.dirty {
		return
	}
	p.dirty = false
	p.shown = p.shown[:0]
	for i := range p.lines {
		if p.at(i).level >= p.minLevel {
			p.shown = append(p.shown, i)
		}
	}
	if p.follow {
		p.nav.cursor = len(p.shown) - 1
	}
	p.nav.clamp(len(p.shown), p.bodyHeight())
}

// current is the line under the cursor (the newest while following).
func (p *activityPane) current() (activityLine, bool) {
	if p.nav.cursor < 0 || p.nav.cursor >= len(p.shown) {
		return activityLine{}, false
	}
	return p.at(p.shown[p.nav.cursor]), true
}

func (p *activityPane) Update(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	k := p.c.Keys
	switch {
	case p.nav.handle(msg, k, len(p.shown), p.bodyHeight()):
		p.follow = p.nav.cursor == len(p.shown)-1
	case key.Matches(msg, k.Level):
		p.minLevel = (p.minLevel + 1) % 3
		p.dirty = true
	default:
		return false, nil
	}
	return true, nil
}

func (p *activityPane) View() string {
	t := p.c.Theme
	detail := fmt.Sprintf("%s lines · level ≥ %s", count(len(p.shown)), p.minLevel)
	if !p.follow {
		detail += " · paused (G follows)"
	}
	detail += " · enter shows a line whole"
	lines := []string{p.c.titleLine("Activity", detail, p.w)}
	from, to := p.nav.window(len(p.shown), p.bodyHeight())
	for i := from; i < to; i++ {
		l := p.at(p.shown[i])
		lvl := fmt.Sprintf("%-5s", l.level)
		switch l.level {
		case engine.LevelWarn:
			lvl = t.Warn.Render(lvl)
		case engine.LevelError:
			lvl = t.Error.Render(lvl)
		default:
			lvl = t.Muted.Render(lvl)
		}
		stamp := t.Muted.Render(l.time.Format("15:04:05"))
		row := stamp + " " + lvl + " " + l.text
		if i == p.nav.cursor && !p.follow {
			row = t.Selected.Render(fit("› "+l.time.Format("15:04:05")+" "+fmt.Sprintf("%-5s", l.level)+" "+l.text, p.w))
		}
		lines = append(lines, row)
	}
	return block(lines, p.w, p.h)
}

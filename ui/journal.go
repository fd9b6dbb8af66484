package ui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// Journal rows are staged entries first (they are the future), then
// committed entries newest first, then the hosts that applied nothing.
type jrowKind uint8

const (
	jrStagedHeader jrowKind = iota
	jrStaged
	jrHeader
	jrEntry
	jrZero
)

type jrow struct {
	kind jrowKind
	idx  int // into Staged or Entries
}

// Journal columns.
const (
	jcSeq = iota
	jcKind
	jcWhat
	jcAuthor
	jcMessage
	jcTime
	jcHosts
)

var journalColumns = []column{
	jcSeq:     {title: "SEQ", min: 5, max: 6, prio: 0, right: true},
	jcKind:    {title: "KIND", min: 8, max: 8, prio: 1},
	jcWhat:    {title: "PATH / COMMAND", min: 16, want: 28, max: 160, prio: 0},
	jcAuthor:  {title: "AUTHOR", min: 8, want: 11, max: 16, prio: 4},
	jcMessage: {title: "MESSAGE", min: 10, want: 24, max: 120, prio: 3},
	jcTime:    {title: "TIME", min: 4, max: 4, prio: 5, right: true},
	jcHosts:   {title: "HOSTS HERE", min: 10, want: 20, max: 80, prio: 2},
}

// journalPane shows one branch's journal with where each host stands and
// the staged entries under the lock, apart from the committed ones.
type journalPane struct {
	c      *Common
	w, h   int
	view   *engine.JournalView
	at     map[uint64][]string // seq → hosts whose position is that seq
	rows   []jrow
	nav    listNav
	filter string
	dirty  bool
	widths []int
	need   []int // widest cell of each column, for the layout
}

func newJournalPane(c *Common) *journalPane { return &journalPane{c: c} }

func (p *journalPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.widths = fitContent(journalColumns, w-2, p.need)
	p.nav.clamp(len(p.rows), p.bodyHeight())
}

func (p *journalPane) bodyHeight() int { return max(p.h-2, 1) }

// setView takes a fresh read of the journal.
func (p *journalPane) setView(v *engine.JournalView) {
	p.view = v
	p.at = map[uint64][]string{}
	if v != nil {
		for host, pos := range v.Positions {
			p.at[pos] = append(p.at[pos], host)
		}
		for _, hs := range p.at {
			slices.SortFunc(hs, engine.NaturalCompare)
		}
	}
	p.dirty = true
}

func (p *journalPane) setFilter(s string) {
	if s != p.filter {
		p.filter = s
		p.dirty = true
	}
}

func (p *journalPane) prepare() {
	if !p.dirty {
		return
	}
	p.dirty = false
	p.rows = p.rows[:0]
	v := p.view
	if v == nil {
		p.nav.clamp(0, p.bodyHeight())
		return
	}
	// Every visible column, as the hosts filter does (see matcher).
	m := newMatcher(p.filter)
	match := func(e *journal.Entry) bool {
		if m.empty() {
			return true
		}
		here := ""
		if e.Seq > 0 {
			here = strings.Join(p.at[e.Seq], " ")
		}
		return m.match(map[string]string{"seq": fmt.Sprint(e.Seq), "kind": string(e.Kind), "path / command": entryWhat(*e),
			"author": e.Author, "message": e.Message, "hosts here": here})
	}
	if len(v.Staged) > 0 {
		p.rows = append(p.rows, jrow{kind: jrStagedHeader})
		for i := range v.Staged {
			if match(&v.Staged[i]) {
				p.rows = append(p.rows, jrow{kind: jrStaged, idx: i})
			}
		}
		p.rows = append(p.rows, jrow{kind: jrHeader})
	}
	for i := len(v.Entries) - 1; i >= 0; i-- {
		if match(&v.Entries[i]) {
			p.rows = append(p.rows, jrow{kind: jrEntry, idx: i})
		}
	}
	if len(p.at[0]) > 0 {
		p.rows = append(p.rows, jrow{kind: jrZero})
	}
	p.measure()
	p.nav.clamp(len(p.rows), p.bodyHeight())
	p.skipHeader(1)
}

// measure finds the widest cell of the columns whose text varies and lays
// the columns out for it.
func (p *journalPane) measure() {
	need := make([]int, len(journalColumns))
	for i, c := range journalColumns {
		need[i] = ansi.StringWidth(c.title)
	}
	grow := func(col int, s string) { need[col] = max(need[col], ansi.StringWidth(s)) }
	for _, r := range p.rows {
		var e journal.Entry
		switch r.kind {
		case jrStaged:
			e = p.view.Staged[r.idx]
		case jrEntry:
			e = p.view.Entries[r.idx]
			grow(jcHosts, hostsHere(p.at[e.Seq]))
		default:
			continue
		}
		grow(jcWhat, entryWhat(e))
		grow(jcAuthor, e.Author)
		grow(jcMessage, e.Message)
	}
	p.need = need
	p.widths = fitContent(journalColumns, p.w-2, p.need)
}

// skipHeader moves the cursor off a section header, in direction dir.
func (p *journalPane) skipHeader(dir int) {
	for {
		c := p.nav.cursor
		if c < 0 || c >= len(p.rows) || (p.rows[c].kind != jrStagedHeader && p.rows[c].kind != jrHeader) {
			return
		}
		next := c + dir
		if next < 0 || next >= len(p.rows) {
			if dir < 0 {
				dir = 1 // at the top: go down instead
				continue
			}
			return
		}
		p.nav.cursor = next
		p.nav.clamp(len(p.rows), p.bodyHeight())
	}
}

// currentStaged is the staged entry under the cursor, ok false when the
// cursor is elsewhere. Its Seq is the one approve will give it.
func (p *journalPane) currentStaged() (journal.Entry, bool) {
	if p.nav.cursor < len(p.rows) && p.rows[p.nav.cursor].kind == jrStaged {
		return p.view.Staged[p.rows[p.nav.cursor].idx], true
	}
	return journal.Entry{}, false
}

// current is the entry under the cursor and whether it is staged (its
// Seq then the one approve will give it).
func (p *journalPane) current() (e journal.Entry, staged bool, ok bool) {
	if p.view == nil || p.nav.cursor >= len(p.rows) {
		return e, false, false
	}
	switch r := p.rows[p.nav.cursor]; r.kind {
	case jrStaged:
		return p.view.Staged[r.idx], true, true
	case jrEntry:
		return p.view.Entries[r.idx], false, true
	}
	return e, false, false
}

func (p *journalPane) Update(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	old := p.nav.cursor
	if !p.nav.handle(msg, p.c.Keys, len(p.rows), p.bodyHeight()) {
		return false, nil
	}
	dir := 1
	if p.nav.cursor < old {
		dir = -1
	}
	p.skipHeader(dir)
	return true, nil
}

// hostsHere summarises the hosts standing at a position.
func hostsHere(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return "◀ " + names[0]
	case 2, 3:
		return "◀ " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("◀ %d: %s, %s, …", len(names), names[0], names[1])
}

func (p *journalPane) View() string {
	t := p.c.Theme
	v := p.view
	if v == nil {
		return block([]string{p.c.titleLine("Journal", "reading…", p.w)}, p.w, p.h)
	}
	detail := fmt.Sprintf("%s · head %d · %s · %s", v.Branch.Name, v.Branch.Head, plural(len(v.Positions), "host"), plural(len(v.Staged), "staged entry"))
	if v.Branch.Parent != "" {
		detail += fmt.Sprintf(" · forked from %s at %d", v.Branch.Parent, v.Branch.ForkSeq)
	}
	if p.filter != "" {
		detail += fmt.Sprintf(" · filter %q", p.filter)
	}
	lines := []string{p.c.titleLine("Journal", detail, p.w), t.Header.Render("  " + header(journalColumns, p.widths))}
	if len(v.Entries) == 0 && len(v.Staged) == 0 {
		lines = append(lines, t.Muted.Render("  empty journal — L locks "+v.Branch.Name+" (creating it), s stages the first change"))
	}
	from, to := p.nav.window(len(p.rows), p.bodyHeight())
	now := p.c.Now()
	cells := make([]string, len(journalColumns))
	for i := from; i < to; i++ {
		r := p.rows[i]
		sel := i == p.nav.cursor
		var row string
		switch r.kind {
		case jrStagedHeader:
			holder := "nobody"
			if v.Lock != nil {
				holder = v.Lock.Holder + fmt.Sprintf(" %q", v.Lock.Message)
			}
			seqs := engine.SeqRange(v.Branch.Head, len(v.Staged))
			row = t.Warn.Render(fmt.Sprintf("  ── staged, not committed · approve commits them as %s · lock %s ──", seqs, holder))
		case jrHeader:
			row = t.Muted.Render("  ── committed ──")
		case jrZero:
			row = t.Muted.Render(fmt.Sprintf("  %5s %s", "0", hostsHere(p.at[0])+" (nothing applied yet)"))
		case jrStaged, jrEntry:
			var e journal.Entry
			if r.kind == jrStaged {
				e = v.Staged[r.idx]
				// The seq approve will give it (the engine numbers
				// them): the number the plan review and drop use too.
				cells[jcSeq] = fmt.Sprint(e.Seq)
				cells[jcHosts] = ""
			} else {
				e = v.Entries[r.idx]
				cells[jcSeq] = fmt.Sprint(e.Seq)
				cells[jcHosts] = hostsHere(p.at[e.Seq])
			}
			cells[jcKind] = string(e.Kind)
			cells[jcWhat] = entryWhat(e)
			cells[jcAuthor] = e.Author
			cells[jcMessage] = e.Message
			cells[jcTime] = ago(now, e.Time)
			if !sel {
				if r.kind == jrStaged {
					cells[jcSeq] = t.Warn.Render(cells[jcSeq])
				}
				cells[jcKind] = t.Accent.Render(cells[jcKind])
				cells[jcAuthor] = t.Muted.Render(cells[jcAuthor])
				cells[jcTime] = t.Muted.Render(cells[jcTime])
				cells[jcHosts] = t.Info.Render(cells[jcHosts])
			}
			row = "  " + renderCells(journalColumns, p.widths, cells)
		}
		if sel {
			row = t.Selected.Render(fit("›"+ansiStrip(row)[1:], p.w))
		}
		lines = append(lines, row)
	}
	return block(lines, p.w, p.h)
}

// entryWhat is the path or command with the attributes that matter.
func entryWhat(e journal.Entry) string {
	switch e.Kind {
	case journal.KindFile, journal.KindTemplate:
		s := e.Path
		if e.Mode != 0 {
			s += fmt.Sprintf(" %04o", e.Mode)
		}
		if e.Owner != "" || e.Group != "" {
			s += " " + e.Owner + ":" + e.Group
		}
		if e.AllowUserDir {
			s += " user-dir"
		}
		return s
	}
	return e.Summary()
}

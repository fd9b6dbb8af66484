package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
)

// driftItem is one drifted path on one host: what r repairs and A adopts.
type driftItem struct {
	host   string // display name, as the verbs take it
	hostID string
	d      engine.PathDrift
	// fixed: the host's drift summary no longer lists the path (a pushed
	// repair put it back, or a newer check found it clean).
	fixed bool
}

// driftPane shows the last drift check: each drifted path of each host
// with its diff journal → host, the cursor on one of them.
type driftPane struct {
	c      *Common
	w, h   int
	report *engine.DriftReport
	items  []driftItem
	lines  []string // rendered, one terminal line each
	anchor []int    // line of each item's header
	cursor int
	offset int
	folded bool
	// checking is the branch being checked now, "" when none.
	checking string
	diffs    map[string][]string // rendered diffs by text
}

func newDriftPane(c *Common) *driftPane { return &driftPane{c: c, diffs: map[string][]string{}} }

func (p *driftPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.render()
}

func (p *driftPane) bodyHeight() int { return max(p.h-1, 1) }

// setReport shows a fresh check, the cursor on the same path of the same
// host when it is still drifted.
func (p *driftPane) setReport(r *engine.DriftReport) {
	var was driftItem
	if it, ok := p.current(); ok {
		was = it
	}
	p.report, p.items, p.cursor = r, nil, 0
	clear(p.diffs)
	for _, h := range r.Hosts {
		for _, d := range h.Paths {
			if h.HostID == was.hostID && d.Path == was.d.Path {
				p.cursor = len(p.items)
			}
			p.items = append(p.items, driftItem{host: h.Name, hostID: h.HostID, d: d})
		}
	}
	p.render()
	p.follow()
}

// sync marks the paths the hosts' drift summaries no longer list, as
// host reads and events bring them; summary gives a host's by its id.
func (p *driftPane) sync(summary func(id string) (*store.DriftSummary, bool)) {
	if p.report == nil {
		return
	}
	changed := false
	for i := range p.items {
		it := &p.items[i]
		sum, ok := summary(it.hostID)
		fixed := ok && sum != nil && sum.Err == "" && !sum.Checked.Before(p.report.Checked) && !slices.Contains(sum.Paths, it.d.Path)
		if fixed != it.fixed {
			it.fixed, changed = fixed, true
		}
	}
	if changed {
		p.render()
	}
}

// current is the drifted path under the cursor.
func (p *driftPane) current() (driftItem, bool) {
	if p.cursor < len(p.items) {
		return p.items[p.cursor], true
	}
	return driftItem{}, false
}

// driftedHosts are the hosts of the paths shown, for R.
func (p *driftPane) driftedHosts() (hosts []string) {
	for _, it := range p.items {
		if !slices.Contains(hosts, it.host) {
			hosts = append(hosts, it.host)
		}
	}
	return hosts
}

func (p *driftPane) Update(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	k := p.c.Keys
	switch {
	case key.Matches(msg, k.Up), key.Matches(msg, k.PrevEntry):
		p.move(-1)
	case key.Matches(msg, k.Down), key.Matches(msg, k.NextEntry):
		p.move(1)
	case key.Matches(msg, k.PageUp):
		p.offset -= max(p.bodyHeight()-1, 1)
	case key.Matches(msg, k.PageDown):
		p.offset += max(p.bodyHeight()-1, 1)
	case key.Matches(msg, k.Top):
		p.move(-len(p.items))
	case key.Matches(msg, k.Bottom):
		p.move(len(p.items))
	case key.Matches(msg, k.Fold):
		p.folded = !p.folded
		p.render()
		p.follow()
	default:
		return false, nil
	}
	p.clampOffset()
	return true, nil
}

// move puts the cursor on another path and scrolls to it.
func (p *driftPane) move(by int) {
	c := max(min(p.cursor+by, len(p.items)-1), 0)
	if c != p.cursor {
		p.cursor = c
		p.render()
	}
	p.follow()
}

// follow scrolls so the cursor's header is on screen, with as much of its
// diff as fits.
func (p *driftPane) follow() {
	if p.cursor >= len(p.anchor) {
		p.clampOffset()
		return
	}
	top := p.anchor[p.cursor]
	end := len(p.lines)
	if p.cursor+1 < len(p.anchor) {
		end = p.anchor[p.cursor+1]
	}
	h := p.bodyHeight()
	switch {
	case top < p.offset:
		p.offset = top
	case end > p.offset+h:
		p.offset = min(top, end-h)
	}
	p.clampOffset()
}

func (p *driftPane) clampOffset() {
	p.offset = max(min(p.offset, len(p.lines)-p.bodyHeight()), 0)
}

// render lays the report out as lines: on a new report, cursor move,
// fold or resize — never per frame.
func (p *driftPane) render() {
	p.lines, p.anchor = p.lines[:0], p.anchor[:0]
	r := p.report
	if r == nil {
		return
	}
	t := p.c.Theme
	add := func(s string) { p.lines = append(p.lines, s) }
	var sum []string
	drifted := r.Drifted()
	if drifted > 0 {
		sum = append(sum, t.Warn.Render(fmt.Sprintf("%s drifted on %s", plural(len(p.items), "path"), plural(drifted, "host"))))
	}
	var clean []string
	for _, h := range r.Hosts {
		if h.Err == "" && len(h.Paths) == 0 {
			clean = append(clean, h.Name)
		}
	}
	if len(clean) > 0 {
		sum = append(sum, t.Ok.Render(fmt.Sprintf("%d match the journal", len(clean))))
	}
	if f := r.Failed(); f > 0 {
		sum = append(sum, t.Error.Render(fmt.Sprintf("%d could not be checked", f)))
	}
	if len(sum) == 0 {
		sum = append(sum, t.Muted.Render("no host of "+r.Branch+" to check"))
	}
	add(" " + strings.Join(sum, t.Muted.Render(" · ")))
	if len(p.items) == 0 && len(clean) > 0 {
		add(t.Muted.Render(" every owned path matches what the journal put there"))
	}
	room := p.w - 7
	for i, it := range p.items {
		d := it.d
		add("")
		p.anchor = append(p.anchor, len(p.lines))
		what := strings.Join(d.What, ", ")
		word := what
		state := t.Warn.Render(what)
		if it.fixed {
			word = "✓ matches the journal again"
			state = t.Ok.Render(word)
		}
		seq := fmt.Sprintf(" · seq %d %s", d.Seq, d.Kind)
		who := it.host + " " + d.Path
		// The path is what r and A act on: never cut. When the line is too
		// narrow for it, what drifted goes on the next line.
		if ansi.StringWidth("› "+who+"  "+word+seq) <= p.w {
			if i == p.cursor {
				add(t.Selected.Render(fit("› "+who+"  "+word+seq, p.w)))
			} else {
				add("  " + t.Bold.Render(it.host) + " " + t.Accent.Render(d.Path) + "  " + state + t.Muted.Render(seq))
			}
		} else {
			for j, l := range wrapLines(who, p.w-2) {
				lead := "  "
				if j == 0 && i == p.cursor {
					lead = "› "
				}
				if i == p.cursor {
					add(t.Selected.Render(fit(lead+l, p.w)))
				} else {
					add(lead + t.Accent.Render(l))
				}
			}
			add("     " + state + t.Muted.Render(seq))
		}
		ind := "     "
		var attrs []string
		if d.WantMode != d.HostMode && d.WantMode != "" && d.HostMode != "" {
			attrs = append(attrs, fmt.Sprintf("mode %s → %s", d.WantMode, d.HostMode))
		}
		if d.WantOwner != d.HostOwner && d.WantOwner != "" && d.HostOwner != "" {
			attrs = append(attrs, fmt.Sprintf("owner %s → %s", d.WantOwner, d.HostOwner))
		}
		if len(attrs) > 0 {
			add(ind + t.Warn.Render(strings.Join(attrs, " · ")+" (journal → host)"))
		}
		for _, note := range driftNotes(d) {
			for _, l := range wrapLines(note, room) {
				add(ind + t.Muted.Render(l))
			}
		}
		if d.Diff == "" || p.folded || it.fixed {
			continue
		}
		lines, ok := p.diffs[d.Diff]
		if !ok {
			lines = renderDiff(t, screenText(d.Diff))
			p.diffs[d.Diff] = lines
		}
		for _, l := range lines {
			add(ind + l)
		}
	}
	var failed []engine.HostDrift
	for _, h := range r.Hosts {
		if h.Err != "" {
			failed = append(failed, h)
		}
	}
	if len(failed) > 0 {
		add("")
		add(t.Error.Render(fmt.Sprintf(" hosts that could not be checked (%d)", len(failed))))
		for _, h := range failed {
			for j, l := range wrapLines(h.Name+": "+h.Err, p.w-5) {
				if j == 0 {
					add("   " + t.Error.Render(l))
				} else {
					add("     " + t.Error.Render(l))
				}
			}
		}
	}
	if len(clean) > 0 && len(p.items) > 0 {
		add("")
		add(t.Muted.Render(" no drift: " + joinNames(clean, 8)))
	}
	p.clampOffset()
}

// agoText is "3m ago", or "just now".
func agoText(now, t time.Time) string {
	if a := ago(now, t); a != "now" {
		return a + " ago"
	}
	return "just now"
}

// driftNotes say what the diff cannot: a file gone, back, no longer a
// file, or content not shown.
func driftNotes(d engine.PathDrift) []string {
	var out []string
	for _, w := range d.What {
		switch w {
		case engine.DriftMissing:
			out = append(out, "the journal installed it; it is gone from the host")
		case engine.DriftPresent:
			out = append(out, "the journal removed it; it is back on the host")
		case engine.DriftType:
			out = append(out, "no longer a regular file on the host (a directory, a symlink…): look at it there")
		}
	}
	if d.Binary {
		out = append(out, fmt.Sprintf("binary or large: sha256 %s → %s", shortHash(d.WantHash), shortHash(d.HostHash)))
	}
	if d.Secret && d.Diff == "" && slices.Contains(d.What, engine.DriftContent) {
		out = append(out, "secret content differs (not shown)")
	}
	return out
}

func (p *driftPane) View() string {
	t := p.c.Theme
	r := p.report
	switch {
	case r == nil && p.checking != "":
		return block([]string{p.c.titleLine("Drift", "checking "+p.checking+"…", p.w)}, p.w, p.h)
	case r == nil:
		return block([]string{
			p.c.titleLine("Drift", "not checked yet", p.w),
			t.Muted.Render(" D compares what the journal put on the selected hosts (none: the branch) with what is there now."),
		}, p.w, p.h)
	}
	detail := fmt.Sprintf("%s · head %d · checked %s (%s) · %s", r.Branch, r.Head, r.Checked.Format("15:04:05"), agoText(p.c.Now(), r.Checked), plural(len(r.Hosts), "host"))
	if p.checking != "" {
		detail += " · checking again…"
	}
	lines := []string{p.c.titleLine("Drift", detail, p.w)}
	to := min(p.offset+p.bodyHeight(), len(p.lines))
	lines = append(lines, p.lines[p.offset:to]...)
	return block(lines, p.w, p.h)
}

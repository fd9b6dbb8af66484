package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// namesShown is how many host names a group lists before "+N more".
const namesShown = 6

// planPane is the review of a dry-run: per entry, each distinct effect
// once with its host count, odd ones out listed apart, diffs coloured.
type planPane struct {
	c      *Common
	w, h   int
	plan   *engine.Plan
	groups engine.Review
	lines  []string // rendered review, one terminal line each
	anchor []int    // line index of each entry's header, for n / N
	offset int
	folded bool
	// planning is the progress of a plan being computed, nil when none.
	planning []string
	diffs    map[string][]string // rendered diffs by diff text, kept across re-renders
	// live: plan is one still being computed, grouped from the hosts
	// that answered so far (answered says how many); it cannot be
	// approved. before is what was on screen, back if it fails.
	live     bool
	answered string
	before   *engine.Plan
}

func newPlanPane(c *Common) *planPane { return &planPane{c: c, diffs: map[string][]string{}} }

func (p *planPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.clampOffset()
}

func (p *planPane) bodyHeight() int { return max(p.h-1-len(p.planning), 1) }

// setLive shows the review of a plan still running, as far as its hosts
// have answered.
func (p *planPane) setLive(plan *engine.Plan, g engine.Review, answered string) {
	if !p.live {
		p.before, p.offset = p.plan, 0
	}
	p.live, p.answered = true, answered
	p.plan, p.groups = plan, g
	p.render()
}

// endLive puts back the plan that was on screen before a plan that
// failed or was cancelled.
func (p *planPane) endLive() {
	if !p.live {
		return
	}
	p.live = false
	p.plan = p.before
	p.before = nil
	if p.plan != nil {
		p.groups = engine.GroupPlan(p.plan)
	}
	p.offset = 0
	p.render()
}

// setPlan shows a new plan (or the same plan after approval).
func (p *planPane) setPlan(plan *engine.Plan) {
	same := p.plan != nil && plan != nil && p.plan.ID == plan.ID
	p.live, p.before = false, nil
	p.plan = plan
	if plan != nil {
		p.groups = engine.GroupPlan(plan)
	}
	if !same {
		p.offset = 0
		clear(p.diffs)
	}
	p.render()
}

// restyle re-renders after a theme change.
func (p *planPane) restyle() {
	clear(p.diffs)
	p.render()
}

func (p *planPane) clampOffset() {
	p.offset = max(min(p.offset, len(p.lines)-p.bodyHeight()), 0)
}

func (p *planPane) Update(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	k := p.c.Keys
	h := p.bodyHeight()
	switch {
	case key.Matches(msg, k.Up):
		p.offset--
	case key.Matches(msg, k.Down):
		p.offset++
	case key.Matches(msg, k.PageUp):
		p.offset -= max(h-1, 1)
	case key.Matches(msg, k.PageDown):
		p.offset += max(h-1, 1)
	case key.Matches(msg, k.Top):
		p.offset = 0
	case key.Matches(msg, k.Bottom):
		p.offset = len(p.lines)
	case key.Matches(msg, k.NextEntry):
		for _, a := range p.anchor {
			if a > p.offset {
				p.offset = a
				break
			}
		}
	case key.Matches(msg, k.PrevEntry):
		for i := len(p.anchor) - 1; i >= 0; i-- {
			if p.anchor[i] < p.offset {
				p.offset = p.anchor[i]
				break
			}
		}
	case key.Matches(msg, k.Fold):
		p.folded = !p.folded
		p.render()
	default:
		return false, nil
	}
	p.clampOffset()
	return true, nil
}

// hostList is "×48 hosts" for big groups, the names for small ones.
func hostList(hosts []string) string {
	n := len(hosts)
	if n <= namesShown {
		return fmt.Sprintf("×%d: %s", n, strings.Join(hosts, ", "))
	}
	return fmt.Sprintf("×%s hosts (%s, …)", count(n), strings.Join(hosts[:2], ", "))
}

// render lays the review out as lines. It runs when the plan, the theme
// or folding changes — never per frame.
func (p *planPane) render() {
	p.lines, p.anchor = p.lines[:0], p.anchor[:0]
	if p.plan == nil {
		return
	}
	t := p.c.Theme
	g := p.groups
	add := func(s string) { p.lines = append(p.lines, s) }
	var sum []string
	sum = append(sum, t.Ok.Render(fmt.Sprintf("%d would change", g.Changing)))
	if n := len(g.UpToDate); n > 0 {
		sum = append(sum, t.Muted.Render(fmt.Sprintf("%d up to date", n)))
	}
	if n := g.FailedHosts(); n > 0 {
		sum = append(sum, t.Error.Render(fmt.Sprintf("%d could not be planned", n)))
	}
	if n := len(p.plan.Skipped); n > 0 {
		sum = append(sum, t.Warn.Render(fmt.Sprintf("%d skipped", n)))
	}
	add(" " + strings.Join(sum, t.Muted.Render(" · ")))
	for _, s := range p.plan.Skipped {
		seen := "never seen"
		if !s.LastSeen.IsZero() {
			seen = "last seen " + ago(p.c.Now(), s.LastSeen) + " ago"
		}
		add(t.Warn.Render(fmt.Sprintf(" skipped %s: the scanner marked it %s (%s) — :plan %s includes it", s.Name, s.Liveness, seen, s.Name)))
	}
	// What to know of some hosts before approving (not simulated, clock
	// off, a revert armed), as batch plan says it.
	for _, n := range engine.PlanNotes(p.plan) {
		add(t.Warn.Render(" ! " + hostList(n.Hosts)))
		for _, l := range wrapLines(n.Text, p.w-5) {
			add("   " + t.Warn.Render(l))
		}
	}
	if len(g.Entries) == 0 && len(g.Failed) == 0 {
		add(t.Muted.Render(" nothing to do: every planned host is at the head of " + p.plan.Branch))
	}
	for _, e := range g.Entries {
		add("")
		p.anchor = append(p.anchor, len(p.lines))
		head := t.Accent.Render(fmt.Sprintf(" #%d", e.Seq)) + " " + t.Bold.Render(title(e.Kind, e.Summary))
		if e.Staged && !p.plan.Approved { // approving committed them
			head += " " + t.Warn.Render("staged")
		}
		add(head)
		for _, v := range e.Variants {
			p.renderGroup(v)
		}
	}
	if len(g.Failed) > 0 {
		add("")
		p.anchor = append(p.anchor, len(p.lines))
		add(t.Error.Render(fmt.Sprintf(" hosts that could not be planned (%d)", g.FailedHosts())))
		for _, eg := range g.Failed {
			// The error as the first host said it (Err, with its
			// placeholders, is a grouping key, not any host's words).
			add("   " + t.Muted.Render(hostList(eg.Hosts)))
			for _, l := range wrapLines(eg.First, p.w-7) {
				add("     " + t.Error.Render(l))
			}
			if len(eg.Hosts) > 1 {
				add("     " + t.Muted.Render(fmt.Sprintf("(as %s said it; the others said the same of themselves)", eg.Hosts[0])))
			}
		}
	}
	p.clampOffset()
}

// renderGroup adds one distinct effect: what it does, on which hosts, and
// its diff.
func (p *planPane) renderGroup(cg engine.Variant) {
	t := p.c.Theme
	c := cg.Change
	add := func(s string) { p.lines = append(p.lines, s) }
	effect := string(c.Effect)
	style := t.Info
	switch c.Effect {
	case engine.EffectCreate:
		style = t.Ok
	case engine.EffectDelete, engine.EffectReboot:
		style = t.Warn
	case engine.EffectError, engine.EffectFail:
		style = t.Error
	case engine.EffectUnchanged, engine.EffectSkip:
		style = t.Muted
	}
	if c.Effect == engine.EffectFail && c.Cap == "" {
		effect = fmt.Sprintf("would fail (exit %d)", c.ExitCode)
	}
	add("   " + style.Render(effect) + " " + t.Muted.Render(hostList(cg.Hosts)))
	ind := "     "
	room := p.w - len(ind) - 2
	// Commands, guards and errors wrap: a reviewer must see all of what
	// will run, however narrow the terminal.
	if c.Err != "" {
		for _, l := range wrapLines(c.Err, room) {
			add(ind + t.Error.Render(l))
		}
	}
	if c.Guard != "" {
		for _, l := range wrapLines("guard: "+c.Guard, room) {
			add(ind + t.Muted.Render(l))
		}
	}
	if c.Kind == journal.KindExec && (c.Effect == engine.EffectRun || c.Effect == engine.EffectFail) {
		for i, l := range wrapLines(c.Command, room) {
			lead := t.Muted.Render("$ ")
			if i > 0 {
				lead = "  "
			}
			add(ind + lead + l)
		}
		p.renderExec(c, ind, room)
	}
	var attrs []string
	if c.OldMode != c.NewMode && c.NewMode != "" {
		attrs = append(attrs, fmt.Sprintf("mode %s → %s", orNone(c.OldMode), c.NewMode))
	}
	if c.OldOwner != c.NewOwner && c.NewOwner != "" {
		attrs = append(attrs, fmt.Sprintf("owner %s → %s", orNone(c.OldOwner), c.NewOwner))
	}
	if len(attrs) > 0 {
		add(ind + t.Warn.Render(strings.Join(attrs, " · ")))
	}
	if c.AllowUserDir {
		for _, l := range wrapLines(engine.UserDirNote, room) {
			add(ind + t.Warn.Render(l))
		}
	}
	if c.Binary {
		add(ind + t.Warn.Render(fmt.Sprintf("binary content %s → %s", shortHash(c.OldHash), shortHash(c.NewHash))))
	}
	if c.Diff == "" || p.folded {
		return
	}
	lines, ok := p.diffs[c.Diff]
	if !ok {
		lines = renderDiff(t, c.Diff)
		p.diffs[c.Diff] = lines
	}
	for _, l := range lines {
		add(ind + l)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func shortHash(h string) string {
	if h == "" {
		return "none"
	}
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (p *planPane) View() string {
	t := p.c.Theme
	if p.planning != nil && (!p.live || p.plan == nil) {
		return block(append([]string{p.c.titleLine("Plan", "planning…", p.w)}, p.planning...), p.w, p.h)
	}
	if p.live {
		// The hosts still awaited on top, the review so far below it.
		title := p.c.titleLine("Plan", fmt.Sprintf("%s · %s · planning: %s answered · ", p.plan.ID, p.plan.Branch, p.answered), p.w)
		lines := []string{cut(title+t.Warn.Render("not complete: cannot be approved yet"), p.w)}
		lines = append(lines, p.planning...)
		to := min(p.offset+p.bodyHeight(), len(p.lines))
		lines = append(lines, p.lines[p.offset:to]...)
		return block(lines, p.w, p.h)
	}
	if p.plan == nil {
		return block([]string{
			p.c.titleLine("Plan", "no plan yet", p.w),
			t.Muted.Render(" p dry-runs the pending entries on the selected hosts (space selects; none: the whole branch)."),
		}, p.w, p.h)
	}
	pl := p.plan
	state := t.Warn.Render("not approved")
	switch {
	case pl.Pushed:
		state = t.Ok.Render("pushed")
	case pl.Approved:
		state = t.Ok.Render("approved")
	}
	detail := fmt.Sprintf("%s · %s · head %d · %s · %s · ", pl.ID, pl.Branch, pl.Head, plural(len(pl.Hosts), "host"), plural(len(p.groups.Entries), "entry"))
	title := p.c.titleLine("Plan", detail, p.w)
	title = cut(title+state, p.w)
	lines := []string{title}
	to := min(p.offset+p.bodyHeight(), len(p.lines))
	lines = append(lines, p.lines[p.offset:to]...)
	return block(lines, p.w, p.h)
}

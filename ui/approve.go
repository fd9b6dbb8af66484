package ui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// planFacts are the numbers both confirmations state.
type planFacts struct {
	hosts, change, upToDate, broken int
	entries                         []engine.Change // one per seq, in order
	reboots                         int
}

func factsOf(p *engine.Plan) planFacts {
	var f planFacts
	seen := map[uint64]bool{}
	f.hosts = len(p.Hosts)
	for _, h := range p.Hosts {
		switch {
		case h.Err != "":
			f.broken++
		case h.Pending() == 0:
			f.upToDate++
		default:
			f.change++
		}
		for _, c := range h.Changes {
			if !seen[c.Seq] {
				seen[c.Seq] = true
				f.entries = append(f.entries, c)
				if c.Effect == engine.EffectReboot { // the kind predicts a reboot: a push stops before it
					f.reboots++
				}
			}
		}
	}
	slices.SortFunc(f.entries, func(a, b engine.Change) int { return int(a.Seq) - int(b.Seq) })
	return f
}

// entryLines lists the entries a plan covers: all of them when there are
// at most n, else the newest n-1 under one line for the earlier ones
// (which only hosts that are behind still need).
func entryLines(entries []engine.Change, n int, approved bool) []string {
	var out []string
	if len(entries) > n {
		skip := len(entries) - (n - 1)
		out = append(out, fmt.Sprintf("  #%d–#%d: %d earlier entries, for hosts that are behind", entries[0].Seq, entries[skip-1].Seq, skip))
		entries = entries[skip:]
	}
	for _, c := range entries {
		staged := ""
		if c.Staged && !approved { // approving committed them
			staged = " (staged)"
		}
		out = append(out, fmt.Sprintf("  #%d %s%s", c.Seq, title(c.Kind, c.Summary()), staged))
	}
	return out
}

func (f planFacts) hostLine() string {
	s := fmt.Sprintf("%s planned: %d would change", plural(f.hosts, "host"), f.change)
	if f.upToDate > 0 {
		s += fmt.Sprintf(", %d up to date", f.upToDate)
	}
	if f.broken > 0 {
		s += fmt.Sprintf(", %d could not be planned", f.broken)
	}
	return s
}

// title names an entry by kind and subject: "file /etc/motd", "reboot".
func title(kind journal.Kind, summary string) string {
	if summary == "" || summary == string(kind) {
		return string(kind)
	}
	return string(kind) + " " + summary
}

// askApprove opens the approve confirmation for p, or says why it cannot.
func (m *Model) askApprove(p *engine.Plan) {
	switch {
	case p == nil:
		m.flash(engine.LevelWarn, "approve: no plan yet — p makes one")
		return
	case p.Approved:
		m.flash(engine.LevelWarn, fmt.Sprintf("approve: plan %s is approved already — :push %s pushes it", p.ID, p.ID))
		return
	}
	f := factsOf(p)
	body := []string{}
	if n := len(p.Staged); n > 0 {
		seqs := fmt.Sprintf("seq %d", p.Head+1)
		if n > 1 {
			seqs = fmt.Sprintf("seq %d–%d", p.Head+1, p.Head+uint64(n))
		}
		body = append(body, fmt.Sprintf("Commits %s to %s as %s;", plural(n, "staged entry"), p.Branch, seqs),
			"the lock is released unless you keep it (k).")
	} else {
		body = append(body, "Nothing staged: marks the plan of committed entries approved.")
	}
	body = append(body, f.hostLine())
	if len(f.entries) == 0 {
		body = append(body, "No entries: every planned host is at the head of "+p.Branch+".")
	} else {
		body = append(body, plural(len(f.entries), "entry")+":")
		body = append(body, entryLines(f.entries, 6, p.Approved)...)
	}
	body = append(body, "", "Nothing is applied yet: P pushes an approved plan.")
	id := p.ID
	d := newConfirm(m.c, "Approve plan "+id+" on "+p.Branch+"?", body, "approve",
		func(o confirmOptions) tea.Cmd { return m.approve(id, o.KeepLock) })
	if len(p.Staged) > 0 {
		d.withToggle("k", "keep the lock after approving", func(o *confirmOptions) *bool { return &o.KeepLock })
	}
	m.dialog = d
}

// askPush opens the push confirmation for p, or says why it cannot.
func (m *Model) askPush(p *engine.Plan) {
	if why := m.pushRefusal("push", p); why != "" {
		m.flash(engine.LevelWarn, why)
		return
	}
	f := factsOf(p)
	body := []string{
		fmt.Sprintf("Applies %s to %s on %s.", plural(len(f.entries), "entry"), plural(f.change, "host"), p.Branch),
	}
	body = append(body, entryLines(f.entries, 6, p.Approved)...)
	var skipped []string
	if f.upToDate > 0 {
		skipped = append(skipped, fmt.Sprintf("%d up to date", f.upToDate))
	}
	if f.broken > 0 {
		skipped = append(skipped, fmt.Sprintf("%d that could not be planned", f.broken))
	}
	if len(skipped) > 0 {
		body = append(body, "Skipped: "+strings.Join(skipped, ", ")+".")
	}
	if f.reboots > 0 {
		body = append(body, fmt.Sprintf("%s: hosts stop before a reboot unless reboots are allowed (r).", plural(f.reboots, "reboot entry")))
	}
	body = append(body, "A host whose state changed since the plan is refused as stale.",
		"x on the Push view stops it (after asking): hosts finish their current entry.")
	id := p.ID
	d := newConfirm(m.c, "Push plan "+id+"?", body, "push",
		func(o confirmOptions) tea.Cmd { return m.startPush(p, engine.PushOptions{AllowReboot: o.AllowReboot}) })
	if f.reboots > 0 {
		d.withToggle("r", "allow reboots", func(o *confirmOptions) *bool { return &o.AllowReboot })
	}
	// Or upload it now for the hosts to apply by themselves in the
	// branch's next window (the dialog it opens names the window).
	d.withAlt("w", "prepare for window", func(o confirmOptions) { m.askPrepare(p, o.AllowReboot) })
	m.dialog = d
}

// startPush prepares the progress pane from the plan and starts the push.
func (m *Model) startPush(p *engine.Plan, opts engine.PushOptions) tea.Cmd {
	m.pushes.start(p)
	opts = m.withRollout(opts)
	m.focusView(viewPush)
	return m.push(p.ID, opts)
}

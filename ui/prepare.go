package ui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
)

// branchWindow is the next (or open) maintenance window of branch as the
// journal view last read it; nil when unknown or the branch has none.
func (m *Model) branchWindow(branch string) (w *engine.WindowView, known bool) {
	v := m.journal.view
	if v == nil || v.Branch.Name != branch {
		return nil, false
	}
	return v.NextWindow, true
}

// pushRefusal says why plan p cannot be pushed (or prepared) now; "" if
// it can.
func (m *Model) pushRefusal(verb string, p *engine.Plan) string {
	switch {
	case p == nil:
		return verb + ": no plan yet — p makes one"
	case m.pushJob != "":
		return verb + ": a push is running already (4 shows it)"
	case !p.Approved:
		return fmt.Sprintf("%s: plan %s is not approved — :approve %s first", verb, p.ID, p.ID)
	case p.Pushed:
		return fmt.Sprintf("%s: plan %s was pushed already — plan again (p) for hosts that did not finish", verb, p.ID)
	}
	return ""
}

// askPrepare opens the "prepare for window" confirmation for p (w on the
// push confirmation, or :push ID --prepare): yes runs the verb table's
// `push ID --prepare`, the call --batch makes.
func (m *Model) askPrepare(p *engine.Plan, allowReboot bool) {
	if why := m.pushRefusal("prepare", p); why != "" {
		m.flash(engine.LevelWarn, why)
		return
	}
	win, known := m.branchWindow(p.Branch)
	if known && win == nil {
		m.flash(engine.LevelWarn, fmt.Sprintf("prepare: %s has no maintenance window — :policy %s --window 'Sat 02:00-04:00 UTC' sets one", p.Branch, p.Branch))
		return
	}
	f := factsOf(p)
	when := "  at the start of " + p.Branch + "'s next maintenance window."
	if win != nil {
		when = "  " + win.Label(m.c.Now()) + ": " + win.Window + "."
	}
	body := []string{
		fmt.Sprintf("Uploads %s to %s on %s now. Each", plural(len(f.entries), "entry"), plural(f.change, "host"), p.Branch),
		"applies them by itself, by its own clock, in the window",
		when,
	}
	body = append(body, entryLines(f.entries, 4, p.Approved)...)
	body = append(body, "No connection is needed then: the next plan, scan or :collect",
		"gathers the results. A host changed since the plan applies nothing.")
	if f.reboots > 0 {
		body = append(body, fmt.Sprintf("%s: hosts stop before a reboot unless reboots are allowed (r).", plural(f.reboots, "reboot entry")))
	}
	id := p.ID
	d := newConfirm(m.c, "Prepare plan "+id+" for its window?", body, "prepare",
		func(o confirmOptions) tea.Cmd { return m.prepare(id, o.AllowReboot) })
	if f.reboots > 0 {
		d.withToggle("r", "allow reboots", func(o *confirmOptions) *bool { return &o.AllowReboot })
	}
	d.opts.AllowReboot = allowReboot
	m.dialog = d
}

// prepare runs `push ID --prepare` through the verb table, as a job.
func (m *Model) prepare(id string, allowReboot bool) tea.Cmd {
	line := "push " + id + " --prepare"
	if allowReboot {
		line += " --allow-reboot"
	}
	c, err := parseCommand(line)
	if err != nil { // the table's own verb and flags: cannot happen
		m.flash(engine.LevelError, err.Error())
		return nil
	}
	c.DefaultBranch, c.Help = m.branch, commandTable()
	return m.runVerb(c)
}

// preparedText is a prepared push's state for the hosts table, short
// enough for 80 columns: "prepared Sat 02:00", "applied 02:00:03 ok",
// "stale: …", "failed at seq 7", "lost: re-prepare".
func preparedText(ps *store.Prepared, lastErr string) string {
	switch ps.State {
	case "armed":
		return "prepared " + ps.For.Format("Mon 15:04")
	case "applied":
		if ps.At.IsZero() {
			return "applied ok"
		}
		return "applied " + ps.At.Format("15:04:05") + " ok"
	case "stale":
		return "stale: " + lastErr
	case "failed":
		if ps.Seq > 0 {
			return fmt.Sprintf("failed at seq %d", ps.Seq)
		}
		return "failed: " + lastErr
	case "lost":
		return "lost: re-prepare"
	}
	return ps.State + ": " + lastErr
}

// windowCell is a host's next window for the hosts table: "Sat 02:00",
// "open", "-" (none), "never" (stored windows that no longer parse).
func windowCell(v engine.HostView) string {
	switch {
	case v.WindowErr != "":
		return "never"
	case v.NextWindow == nil:
		return "-"
	case v.NextWindow.Open:
		return "open"
	}
	return v.NextWindow.Start.Format("Mon 15:04")
}

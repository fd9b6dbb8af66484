package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/verbs"
	"github.com/discoterm/discoterm/store"
)

// The drift operations run the engine calls the drift verbs make
// (verbs.DriftBackend, through safeBackend), with the same requests:
// D and :drift HOST… → Drift; r, R and :repair HOST… --path P → Repair;
// A and :adopt HOST --path P → Adopt.

type driftMsg struct {
	job    string
	report *engine.DriftReport
	err    error
}

type repairMsg struct {
	job  string
	plan *engine.Plan
	err  error
}

type adoptMsg struct {
	job    string
	host   string
	staged []journal.Entry
	err    error
}

// drifts is the backend's drift part: safeBackend always has it (and
// says so when the engine behind it has not).
func (m *Model) drifts() verbs.DriftBackend {
	return m.backend.(verbs.DriftBackend)
}

// checkDrift checks the hosts named (none: every host of the branch).
func (m *Model) checkDrift(branch string, hosts []string) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	who := "every host of " + branch
	if len(hosts) > 0 {
		who = joinNames(hosts, 4)
	}
	id := m.startJob("drift "+branch+" ("+who+")", cancel)
	m.drift.checking = branch
	b := m.drifts()
	return func() tea.Msg {
		defer cancel()
		r, err := b.Drift(ctx, engine.DriftRequest{Branch: branch, Hosts: hosts})
		return driftMsg{job: id, report: r, err: err}
	}
}

// repair plans the journal's version back: req as `repair HOST… --path P`.
func (m *Model) repair(req engine.FixRequest) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	text := "repair " + strings.Join(req.Hosts, " ")
	for _, p := range req.Paths {
		text += " --path " + p
	}
	id := m.startJob(strings.TrimSpace(text), cancel)
	b := m.drifts()
	return func() tea.Msg {
		defer cancel()
		p, err := b.Repair(ctx, req)
		return repairMsg{job: id, plan: p, err: err}
	}
}

// adopt stages the host's version: `adopt HOST --path P`.
func (m *Model) adopt(host string, req engine.FixRequest) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	text := "adopt " + host
	for _, p := range req.Paths {
		text += " --path " + p
	}
	id := m.startJob(text, cancel)
	b := m.drifts()
	return func() tea.Msg {
		defer cancel()
		_, es, err := b.Adopt(ctx, host, req)
		return adoptMsg{job: id, host: host, staged: es, err: err}
	}
}

// driftResult folds the drift operations' answers into the console.
func (m *Model) driftResult(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case driftMsg:
		m.endJob(msg.job)
		m.drift.checking = ""
		if msg.err != nil {
			m.flash(engine.LevelError, "drift: "+opError(msg.err))
			return nil
		}
		m.drift.setReport(msg.report)
		m.focusView(viewDrift)
		s := verbs.DriftDone{Report: msg.report}.Summary()
		if msg.report.Drifted() > 0 || msg.report.Failed() > 0 {
			m.flash(engine.LevelWarn, s+" — r repairs the path under the cursor, A adopts it")
		} else {
			m.flash(engine.LevelInfo, s)
		}
		return m.refreshHosts()
	case repairMsg:
		m.endJob(msg.job)
		if msg.err != nil {
			m.flash(engine.LevelError, "repair: "+opError(msg.err))
			return nil
		}
		m.review.setPlan(msg.plan)
		m.focusView(viewPlan)
		m.flash(engine.LevelInfo, fmt.Sprintf("repair plan %s: %s back to the journal's version — a approves, P pushes",
			msg.plan.ID, plural(len(msg.plan.Hosts), "host")))
		return nil
	case adoptMsg:
		m.endJob(msg.job)
		refresh := tea.Batch(m.refreshJournal(), m.fetchBranches())
		if msg.err != nil {
			m.flash(engine.LevelError, "adopt: "+opError(msg.err))
			return refresh
		}
		m.flash(engine.LevelInfo, fmt.Sprintf("staged %s from %s on %s — p plans it, a approves", plural(len(msg.staged), "entry"), msg.host, m.branch))
		return refresh
	}
	return nil
}

// The ":" line's drift verbs, shown in the drift view and the review.

func cmdDrift(m *Model, c *verbs.Call) (tea.Cmd, error) {
	hosts := c.Args
	if len(hosts) == 0 {
		hosts = m.hosts.selection()
	}
	return m.checkDrift(c.Branch(), hosts), nil
}

func cmdRepair(m *Model, c *verbs.Call) (tea.Cmd, error) {
	return m.repair(engine.FixRequest{Branch: c.Branch(), Hosts: c.Args, Paths: c.List("path")}), nil
}

func cmdAdopt(m *Model, c *verbs.Call) (tea.Cmd, error) {
	return m.adopt(c.Arg(0), engine.FixRequest{Branch: c.Branch(), Paths: c.List("path")}), nil
}

// driftKey handles the drift view's keys: r repairs the path under the
// cursor on its host, R every drifted path shown, A adopts the path.
func (m *Model) driftKey(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	k := m.c.Keys
	for _, b := range []struct {
		b    *key.Binding
		name string
	}{{&k.Repair, "r repair"}, {&k.RepairAll, "R repair all"}, {&k.Adopt, "A adopt"}} {
		if why, ok := k.refused(msg, b.b); ok {
			m.flash(engine.LevelWarn, b.name+" — "+why)
			return true, nil
		}
	}
	branch := m.branch
	if r := m.drift.report; r != nil {
		branch = r.Branch
	}
	it, _ := m.drift.current()
	switch {
	case key.Matches(msg, k.Repair):
		return true, m.repair(engine.FixRequest{Branch: branch, Hosts: []string{it.host}, Paths: []string{it.d.Path}})
	case key.Matches(msg, k.RepairAll):
		return true, m.repair(engine.FixRequest{Branch: branch, Hosts: m.drift.driftedHosts()})
	case key.Matches(msg, k.Adopt):
		return true, m.adopt(it.host, engine.FixRequest{Branch: branch, Paths: []string{it.d.Path}})
	}
	return m.drift.Update(msg)
}

// gateDriftKeys says why r, R and A cannot act.
func (m *Model) gateDriftKeys(mine bool) {
	k := m.c.Keys
	it, ok := m.drift.current()
	switch {
	case m.drift.report == nil:
		k.gate(&k.Repair, "no drift check yet (D checks)")
		k.gate(&k.RepairAll, "no drift check yet (D checks)")
		k.gate(&k.Adopt, "no drift check yet (D checks)")
		return
	case !ok:
		k.gate(&k.Repair, "nothing drifted in the last check")
		k.gate(&k.RepairAll, "nothing drifted in the last check")
		k.gate(&k.Adopt, "nothing drifted in the last check")
		return
	}
	k.gate(&k.RepairAll, "")
	if it.fixed {
		k.gate(&k.Repair, it.d.Path+" on "+it.host+" matches the journal again (D checks again)")
		k.gate(&k.Adopt, it.d.Path+" on "+it.host+" matches the journal again (D checks again)")
		return
	}
	k.gate(&k.Repair, "")
	switch {
	case slices.Contains(it.d.What, engine.DriftType):
		k.gate(&k.Adopt, it.d.Path+" is no longer a regular file: adopt takes files only")
	case !mine:
		k.gate(&k.Adopt, "adopting stages an entry: needs your lock on "+m.drift.report.Branch+" (press L)")
	default:
		k.gate(&k.Adopt, "")
	}
}

// driftDetail is the drift part of a host's details: when it was last
// checked and what was found.
func driftDetail(c *Common, d *store.DriftSummary) []string {
	t := c.Theme
	if d == nil {
		return []string{t.Muted.Render("drift: never checked (D checks the selected hosts)")}
	}
	when := fmt.Sprintf("checked %s (%s) at position %d", d.Checked.Format("2006-01-02 15:04:05"), agoText(c.Now(), d.Checked), d.Position)
	switch {
	case d.Err != "":
		return []string{t.Error.Render("drift: the check failed, " + when), "  " + t.Error.Render(d.Err)}
	case len(d.Paths) == 0:
		return []string{t.Ok.Render("drift: none, " + when)}
	}
	out := []string{t.Warn.Render(fmt.Sprintf("drift: %s, %s", plural(len(d.Paths), "file"), when))}
	for _, p := range d.Paths {
		out = append(out, "  "+p)
	}
	return out
}

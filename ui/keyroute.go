package ui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/kinds"
)

// handleKey routes a key: dialog, help, input line, then cancel, the
// focused pane, and the global keys.
func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if d := m.dialog; d != nil {
		done, cmd := d.Update(msg)
		if done && m.dialog == d { // not replaced by another (an alt key)
			m.dialog = nil
		}
		return cmd
	}
	if m.help != nil {
		if key.Matches(msg, k.Help, k.Back, k.Quit) {
			m.help = nil
		} else {
			m.help.Update(msg)
		}
		return nil
	}
	if m.input.active() {
		return m.inputKey(msg)
	}
	if key.Matches(msg, k.Back) {
		return m.cancelKey(msg)
	}
	if handled, cmd := m.paneKey(msg); handled {
		return cmd
	}
	return m.globalKey(msg)
}

// cancelKey is Esc / Ctrl-C outside dialogs: it clears what narrows the
// view, then goes back to the hosts. It never stops a push (x does, after
// asking); Ctrl-C during a push asks whether to stop it, otherwise quits.
func (m *Model) cancelKey(msg tea.KeyPressMsg) tea.Cmd {
	if msg.String() == "ctrl+c" {
		if m.pushJob != "" && !m.pushes.cancelling {
			m.askStopPush()
			return nil
		}
		return m.quit()
	}
	switch {
	case m.focus == viewHosts && m.hosts.filter != "":
		m.hosts.setFilter("")
	case m.focus == viewHosts && len(m.hosts.marked) > 0:
		clear(m.hosts.marked)
	case m.focus == viewJournal && m.journal.filter != "":
		m.journal.setFilter("")
	case m.focus == viewPush && m.pushJob != "":
		m.flash(engine.LevelInfo, "the push goes on — x stops it (asks first); 1–5 switch views")
	case m.focus != viewHosts:
		m.focusView(viewHosts)
	}
	return nil
}

// askStopPush asks before stopping the running push, saying what stops
// and what has been applied already (and stays so).
func (m *Model) askStopPush() {
	p := m.pushes
	applied, hostsApplied := 0, 0
	var applying []string
	waiting := 0
	for _, r := range p.rows {
		n := r.applied()
		applied += n
		if n > 0 {
			hostsApplied++
		}
		switch r.status {
		case engine.PushApplying:
			applying = append(applying, fmt.Sprintf("%s (%d/%d)", r.name, r.step, r.steps))
		case engine.PushWaiting:
			waiting++
		}
	}
	body := []string{fmt.Sprintf("Push %s: %s.", p.planID, p.progress())}
	if len(applying) > 0 {
		body = append(body, "Applying now: "+joinNames(applying, 4)+" — each finishes the entry it is on, then stops.")
	}
	if waiting > 0 {
		body = append(body, plural(waiting, "waiting host")+" will not be started.")
	}
	if applied > 0 {
		body = append(body, fmt.Sprintf("Already applied and kept: %s on %s; each host's position says how far it got.",
			plural(applied, "entry"), plural(hostsApplied, "host")))
	} else {
		body = append(body, "Nothing has been applied yet.")
	}
	body = append(body, "A new plan (p) continues from where each host stopped.")
	m.stopAsk = newConfirm(m.c, "Stop push "+p.planID+"?", body, "stop the push", func(confirmOptions) tea.Cmd {
		if j := m.jobs[m.pushJob]; j != nil && j.cancel != nil && !m.pushes.cancelling {
			j.cancel()
			m.pushes.cancelling = true
			m.flash(engine.LevelWarn, "stopping push "+p.planID+": hosts finish the entry they are on, then stop")
		}
		return nil
	})
	m.dialog = m.stopAsk
}

// joinNames lists up to n names, then "+K more".
func joinNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" +%d more", len(names)-n)
}

// quit leaves, asking first during a push: quitting then cancels the push
// and waits for the hosts to finish the entry they are on.
func (m *Model) quit() tea.Cmd {
	if m.pushJob == "" {
		return tea.Quit
	}
	m.dialog = newConfirm(m.c, "Quit while pushing?", []string{
		"A push is running. Quitting cancels it: hosts finish the entry",
		"they are on and stop; the rest stay where they are.",
		"discoterm leaves when the push has stopped.",
	}, "quit", func(confirmOptions) tea.Cmd {
		if j := m.jobs[m.pushJob]; j != nil && j.cancel != nil {
			j.cancel()
		}
		m.pushes.cancelling, m.quitAfterPush = true, true
		m.flash(engine.LevelWarn, "cancelling the push; quitting when hosts have finished their current entry")
		return nil
	})
	return nil
}

// inputKey handles keys while the command line or filter is open.
func (m *Model) inputKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "enter":
		mode, value := m.input.mode, strings.TrimSpace(m.input.Value())
		m.input.close()
		if mode == inputCommand {
			return m.runCommand(value)
		}
		return nil
	case "esc", "ctrl+c":
		if m.input.mode == inputFilter {
			m.setFilter("")
		}
		m.input.close()
		return nil
	}
	cmd := m.input.Update(msg)
	m.inputChanged()
	return cmd
}

// inputChanged applies the filter as it is typed.
func (m *Model) inputChanged() {
	if m.input.mode == inputFilter {
		m.setFilter(m.input.Value())
	}
}

func (m *Model) setFilter(s string) {
	switch m.focus {
	case viewJournal:
		m.journal.setFilter(s)
	default:
		m.hosts.setFilter(s)
	}
}

// paneKey gives the focused pane its keys, plus the pane keys whose
// action is the root's (dialogs, engine calls).
func (m *Model) paneKey(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	k := m.c.Keys
	switch m.focus {
	case viewHosts:
		if why, ok := k.refused(msg, &k.Trust); ok {
			m.flash(engine.LevelWarn, "T accept host key — "+why)
			return true, nil
		}
		switch {
		case key.Matches(msg, k.Trust):
			return true, m.trustKey()
		case key.Matches(msg, k.Details):
			if r := m.hosts.current(); r != nil {
				return true, m.report(r.displayName())
			}
			return true, nil
		}
		return m.hosts.Update(msg)
	case viewJournal:
		if why, ok := k.refused(msg, &k.Drop); ok {
			m.flash(engine.LevelWarn, "d drop — "+why)
			return true, nil
		}
		if key.Matches(msg, k.Open) {
			return true, m.openEntry()
		}
		if key.Matches(msg, k.Drop) {
			e, _ := m.journal.currentStaged()
			m.dialog = newConfirm(m.c, "Drop a staged entry?", []string{
				fmt.Sprintf("Staged seq %d (%s %s) leaves the staged list of %s; the staged entries after it move up one seq.", e.Seq, e.Kind, e.Summary(), m.branch),
				"It was never committed, so no host has it.",
			}, "drop", func(confirmOptions) tea.Cmd { return m.drop(m.branch, e.Seq) })
			return true, nil
		}
		return m.journal.Update(msg)
	case viewPlan:
		return m.review.Update(msg)
	case viewPush:
		// A paused wave: c continues, x stops the push before it.
		// (By their keys: the gates may date from before the pause.)
		if m.pushes.waves.paused {
			switch {
			case slices.Contains(k.ContinueWave.Keys(), msg.String()):
				return true, m.answerWave(true)
			case slices.Contains(k.StopPush.Keys(), msg.String()):
				return true, m.answerWave(false)
			}
		}
		if why, ok := k.refused(msg, &k.ContinueWave); ok {
			m.flash(engine.LevelWarn, "c continue — "+why)
			return true, nil
		}
		if why, ok := k.refused(msg, &k.StopPush); ok {
			m.flash(engine.LevelWarn, "x stop the push — "+why)
			return true, nil
		}
		if key.Matches(msg, k.StopPush) {
			m.askStopPush()
			return true, nil
		}
		return m.pushes.Update(msg)
	case viewDrift:
		return m.driftKey(msg)
	case viewActivity:
		if key.Matches(msg, k.Open) {
			if l, ok := m.activity.current(); ok {
				m.dialog = newDetailDialog(m.c, "Activity at "+l.time.Format("15:04:05")+" ("+l.level.String()+")", []string{screenText(l.text)})
			}
			return true, nil
		}
		return m.activity.Update(msg)
	case viewMachines:
		return m.machineKey(msg)
	}
	return false, nil
}

// globalKey handles the keys that work in every pane.
func (m *Model) globalKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	for _, b := range []*key.Binding{&k.Lock, &k.Unlock, &k.Stage, &k.Plan, &k.Approve, &k.Push, &k.CheckDrift} {
		if why, ok := k.refused(msg, b); ok {
			h := b.Help()
			m.flash(engine.LevelWarn, h.Key+" "+h.Desc+" — "+why)
			return nil
		}
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.help = newHelpView(m.c, m.focus)
	case key.Matches(msg, k.Command):
		return m.input.open(inputCommand, "", commandNames(), m.width)
	case key.Matches(msg, k.Filter):
		if m.focus != viewHosts && m.focus != viewJournal {
			m.focusView(viewHosts)
		}
		cur := m.hosts.filter
		if m.focus == viewJournal {
			cur = m.journal.filter
		}
		return m.input.open(inputFilter, cur, nil, m.width)
	case key.Matches(msg, k.NextView):
		m.focusView((m.focus + 1) % viewCount)
	case key.Matches(msg, k.PrevView):
		m.focusView((m.focus + viewCount - 1) % viewCount)
	case key.Matches(msg, k.Hosts):
		m.focusView(viewHosts)
	case key.Matches(msg, k.Journal):
		m.focusView(viewJournal)
	case key.Matches(msg, k.Review):
		m.focusView(viewPlan)
	case key.Matches(msg, k.Progress):
		m.focusView(viewPush)
	case key.Matches(msg, k.Events):
		m.focusView(viewActivity)
	case key.Matches(msg, k.DriftView):
		m.focusView(viewDrift)
	case key.Matches(msg, k.CheckDrift):
		return m.checkDrift(m.branch, m.hosts.selection())
	case key.Matches(msg, k.MachinesView):
		m.focusView(viewMachines)
	case key.Matches(msg, k.Branch):
		return m.nextBranch()
	case key.Matches(msg, k.Lock):
		m.dialog = newLockDialog(m.c, m.branch, func(message string) tea.Cmd { return m.lock(m.branch, message) })
	case key.Matches(msg, k.Unlock):
		return m.askUnlock()
	case key.Matches(msg, k.Stage):
		branch := m.branch
		m.dialog = newStageDialog(m.c, branch, func(k kinds.Kind, in kinds.Input) (string, tea.Cmd) { return m.stageJob(branch, k, in) })
	case key.Matches(msg, k.Plan):
		return m.plan(engine.PlanRequest{Branch: m.branch, Hosts: m.hosts.selection()})
	case key.Matches(msg, k.Approve):
		m.askApprove(m.review.plan)
	case key.Matches(msg, k.Push):
		m.askPush(m.review.plan)
	}
	return nil
}

func (m *Model) nextBranch() tea.Cmd {
	if len(m.branches) < 2 {
		m.flash(engine.LevelInfo, "only one branch — :fork NEW makes another")
		return nil
	}
	for i, b := range m.branches {
		if b.Name == m.branch {
			next := m.branches[(i+1)%len(m.branches)].Name
			m.flash(engine.LevelInfo, "branch "+next)
			return m.setBranch(next)
		}
	}
	return m.setBranch(m.branches[0].Name)
}

func (m *Model) askUnlock() tea.Cmd {
	if m.lockedByMe() {
		return m.unlock(m.branch, false)
	}
	l := m.journal.view.Lock
	branch := m.branch
	m.dialog = newConfirm(m.c, "Break someone else's lock?", []string{
		fmt.Sprintf("%s is locked by %s since %s:", branch, l.Holder, l.Time.Format("2006-01-02 15:04")),
		fmt.Sprintf("  %q", l.Message),
		"Breaking it is recorded in the audit trail with your name.",
	}, "break lock", func(confirmOptions) tea.Cmd { return m.unlock(branch, true) })
	return nil
}

// gateKeys enables each action key or disables it with the reason the
// operator sees in help and when pressing it anyway.
func (m *Model) gateKeys() {
	k := m.c.Keys
	v := m.journal.view
	locked := v != nil && v.Lock != nil
	mine := m.lockedByMe()
	switch {
	case mine:
		k.gate(&k.Lock, "you hold the lock on "+m.branch+" already (U releases it)")
	case locked:
		k.gate(&k.Lock, fmt.Sprintf("%s is locked by %s", m.branch, v.Lock.Holder))
	default:
		k.gate(&k.Lock, "")
	}
	if !locked {
		k.gate(&k.Unlock, m.branch+" is not locked")
	} else {
		k.gate(&k.Unlock, "")
	}
	if !mine {
		k.gate(&k.Stage, "needs your lock on "+m.branch+" (press L)")
	} else {
		k.gate(&k.Stage, "")
	}
	if m.planning.job != "" {
		k.gate(&k.Plan, "a plan is running already")
	} else {
		k.gate(&k.Plan, "")
	}
	p := m.review.plan
	switch {
	case m.review.live && p != nil:
		k.gate(&k.Approve, fmt.Sprintf("plan %s is still running (%s answered): a approves it once every host has answered", p.ID, m.planning.String()))
	case p == nil:
		k.gate(&k.Approve, "no plan yet (press p)")
	case p.Approved:
		k.gate(&k.Approve, "plan "+p.ID+" is approved already (P pushes it)")
	case len(p.Staged) > 0 && !mine:
		k.gate(&k.Approve, "approving commits staged entries: needs your lock on "+p.Branch+" (press L)")
	default:
		k.gate(&k.Approve, "")
	}
	switch {
	case m.pushJob != "":
		k.gate(&k.Push, "a push is running (4 shows it)")
	case m.review.live && p != nil:
		k.gate(&k.Push, fmt.Sprintf("plan %s is still running: approve it once every host has answered, then P pushes it", p.ID))
	case p == nil:
		k.gate(&k.Push, "no plan yet (press p)")
	case !p.Approved:
		k.gate(&k.Push, "plan "+p.ID+" is not approved (press a)")
	case p.Pushed:
		k.gate(&k.Push, "plan "+p.ID+" was pushed already — plan again (p)")
	default:
		k.gate(&k.Push, "")
	}
	if m.pushes.waves.paused {
		k.gate(&k.ContinueWave, "")
	} else {
		k.gate(&k.ContinueWave, "no wave is waiting (push with --confirm to be asked before each)")
	}
	switch {
	case m.pushJob == "":
		k.gate(&k.StopPush, "no push is running")
	case m.pushes.cancelling:
		k.gate(&k.StopPush, "already stopping: hosts finish the entry they are on")
	default:
		k.gate(&k.StopPush, "")
	}
	if m.drift.checking != "" {
		k.gate(&k.CheckDrift, "a drift check is running already")
	} else {
		k.gate(&k.CheckDrift, "")
	}
	m.gateDriftKeys(mine)
	if r := m.hosts.current(); len(m.hosts.marked) == 0 && (r == nil || r.state != stateUntrusted) {
		k.gate(&k.Trust, "the host under the cursor has no unknown key (or select hosts with space: T lists each)")
	} else {
		k.gate(&k.Trust, "")
	}
	m.machineKeys()
	if _, ok := m.journal.currentStaged(); !ok {
		k.gate(&k.Drop, "put the cursor on a staged entry")
	} else if !mine {
		k.gate(&k.Drop, "needs your lock on "+m.branch+" (press L)")
	} else {
		k.gate(&k.Drop, "")
	}
}

// openEntry shows the journal entry under the cursor whole; its content
// is read in a command and arrives in the open dialog.
func (m *Model) openEntry() tea.Cmd {
	e, staged, ok := m.journal.current()
	if !ok {
		return nil
	}
	v := m.journal.view
	title := fmt.Sprintf("Entry %d of %s", e.Seq, v.Branch.Name)
	if staged {
		title = fmt.Sprintf("Staged entry %d of %s", e.Seq, v.Branch.Name)
	}
	d := newDetailDialog(m.c, title, entryDetail(m.c, e, staged))
	m.dialog = d
	if e.Blob == "" {
		return nil
	}
	d.wait = fmt.Sprintf("%s/%d/%v", v.Branch.Name, e.Seq, staged)
	b, branch, wait := m.backend, v.Branch.Name, d.wait
	return func() tea.Msg {
		c, err := b.Content(branch, e)
		return contentMsg{key: wait, content: c, err: err}
	}
}

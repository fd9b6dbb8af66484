package ui

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
)

// handleResult folds the answer of a read or an operation into the model.
func (m *Model) handleResult(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case machinesMsg:
		m.machinesRefresh.inFlight = false
		m.machines.apply(msg)
	case hostsMsg:
		m.hostsRefresh.inFlight = false
		if msg.err != nil {
			m.flash(engine.LevelError, "reading hosts: "+msg.err.Error())
			return nil
		}
		m.hosts.setHosts(msg.hosts, m.pushJob != "")
	case branchesMsg:
		if msg.err != nil {
			m.flash(engine.LevelError, "reading branches: "+msg.err.Error())
			return nil
		}
		m.branches = msg.branches
		if m.branch == "main" && len(m.branches) > 0 && !slices.ContainsFunc(m.branches, func(b store.Branch) bool { return b.Name == "main" }) {
			return m.setBranch(m.branches[0].Name)
		}
	case journalMsg:
		if msg.branch != m.branch {
			return nil // answer for a branch we left
		}
		m.journalRefresh.inFlight = false
		if errors.Is(msg.err, engine.ErrNotFound) {
			// A fresh store has no branch yet; locking creates it.
			m.journal.setView(&engine.JournalView{Branch: store.Branch{Name: msg.branch}, Positions: map[string]uint64{}})
			return nil
		}
		if msg.err != nil {
			m.flash(engine.LevelError, "reading the journal of "+msg.branch+": "+msg.err.Error())
			return nil
		}
		m.journal.setView(msg.view)
	case opMsg:
		m.endJob(msg.job)
		refresh := tea.Batch(m.refreshJournal(), m.refreshHosts())
		var focus tea.Cmd
		if d, ok := m.dialog.(*stageDialog); ok && d.job == msg.job {
			// The dialog that asked: closed when staged, kept open with
			// every field as typed when not.
			var done bool
			if done, focus = d.staged(msg.err); done {
				m.dialog = nil
			}
		}
		if msg.err != nil {
			m.flash(engine.LevelError, msg.what+": "+opError(msg.err))
			return tea.Batch(refresh, focus)
		}
		m.flash(engine.LevelInfo, msg.done)
		return tea.Batch(refresh, m.fetchBranches())
	case planMsg:
		m.endJob(msg.job)
		m.planning = planProgress{}
		if msg.err != nil {
			m.review.endLive() // what was on screen before it
			m.flash(engine.LevelError, "plan: "+opError(msg.err))
			return nil
		}
		m.review.setPlan(msg.plan)
		m.focusView(viewPlan)
		m.flash(engine.LevelInfo, planSummary(msg.plan))
		return nil
	case approveMsg:
		m.endJob(msg.job)
		refresh := m.refreshJournal()
		if msg.err != nil {
			m.flash(engine.LevelError, "approve: "+opError(msg.err))
			return refresh
		}
		m.review.setPlan(msg.plan)
		m.flash(engine.LevelInfo, fmt.Sprintf("plan %s approved — P pushes it to %s", msg.plan.ID, plural(pushableHosts(msg.plan), "host")))
		return refresh
	case pushMsg:
		return m.pushFinished(msg.job, msg.result, msg.err)
	case upMsg:
		if msg.plan != nil {
			m.review.setPlan(msg.plan)
		}
		return m.pushFinished(msg.job, msg.result, msg.err)
	case verbMsg:
		return m.verbDone(msg)
	case planLoadedMsg:
		return m.planLoaded(msg)
	case reportMsg:
		if msg.err != nil {
			m.flash(engine.LevelError, "report: "+opError(msg.err))
			return nil
		}
		m.dialog = newReportDialog(m.c, msg.host, msg.results)
		if r := m.hosts.byName(msg.host); r != nil {
			m.dialog.(*reportDialog).drift = driftDetail(m.c, r.Drift)
		}
	case driftMsg, repairMsg, adoptMsg:
		return m.driftResult(msg)
	default:
		if m.dialog != nil {
			_, cmd := m.dialog.Update(msg)
			return cmd
		}
		if m.input.active() {
			return m.input.Update(msg)
		}
	}
	return nil
}

func (m *Model) pushFinished(id string, r *engine.PushResult, err error) tea.Cmd {
	m.endJob(id)
	if m.pushJob == id {
		m.pushJob = ""
	}
	cmds := []tea.Cmd{m.refreshHosts(), m.refreshJournal()}
	if r != nil {
		m.pushes.setResult(r)
		if m.review.plan != nil && m.review.plan.ID == r.PlanID {
			m.review.plan.Pushed = true
		}
	}
	m.pushes.running = false
	if m.dialog != nil && m.dialog == m.stopAsk {
		m.dialog = nil // nothing left to stop
	}
	m.stopAsk = nil
	if m.quitAfterPush {
		return tea.Quit
	}
	switch {
	case errors.Is(err, engine.ErrCancelled):
		m.flash(engine.LevelWarn, "push cancelled: "+m.pushes.progress())
	case err != nil && r == nil:
		m.flash(engine.LevelError, "push: "+opError(err))
	case r != nil && r.Failed() > 0:
		m.flash(engine.LevelError, fmt.Sprintf("push finished, %s did not: %s", plural(r.Failed(), "host"), m.pushes.progress()))
	default:
		m.flash(engine.LevelInfo, "push finished: "+m.pushes.progress())
	}
	return tea.Batch(cmds...)
}

// opError words the engine's sentinel errors for the operator: without
// the category word the engine puts in front ("usage: ", "not found: "),
// with what to do next where the category says it.
func opError(err error) string {
	s := err.Error()
	for _, sentinel := range []error{engine.ErrUsage, engine.ErrLockHeld, engine.ErrNotLocked, engine.ErrStale,
		engine.ErrHostsFail, engine.ErrNotFound, engine.ErrCancelled} {
		if errors.Is(err, sentinel) {
			s = strings.Replace(s, sentinel.Error()+": ", "", 1)
		}
	}
	switch {
	case errors.Is(err, engine.ErrLockHeld):
		return s + " — wait for it, or :unlock --force to break it (recorded)"
	case errors.Is(err, engine.ErrNotLocked):
		return s + " — press L to take the lock first"
	case errors.Is(err, engine.ErrStale) && !strings.Contains(s, "plan again") && !strings.Contains(s, "re-plan"):
		return s + " — plan again (p)"
	}
	return s
}

func planSummary(p *engine.Plan) string {
	s := fmt.Sprintf("plan %s: %s, %s, %s would change", p.ID, plural(len(p.Hosts), "host"),
		plural(p.Entries(), "entry"), plural(pushableHosts(p), "host"))
	if n := len(p.Skipped); n > 0 {
		s += fmt.Sprintf("; %s skipped (lost)", plural(n, "host"))
	}
	return s
}

// pushableHosts counts hosts a push would touch.
func pushableHosts(p *engine.Plan) int {
	n := 0
	for _, h := range p.Hosts {
		if h.Err == "" && h.Pending() > 0 {
			n++
		}
	}
	return n
}

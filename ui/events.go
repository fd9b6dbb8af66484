package ui

import (
	"github.com/discoterm/discoterm/engine/textsafe"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
)

// maxBurst bounds how many queued events one message carries, so a flood
// still yields to key presses between bursts.
const maxBurst = 8192

// eventsMsg is a burst of engine events: the first one the bridge waited
// for and every other already queued behind it.
type eventsMsg []engine.Event

// eventsClosedMsg says the engine ended the subscription.
type eventsClosedMsg struct{}

// listen waits for the next event and drains whatever else is queued, so
// ten thousand host updates cost one Update and one frame, not ten
// thousand. The root issues it again after each burst.
func listen(ch <-chan engine.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		burst := eventsMsg{ev}
		for len(burst) < maxBurst {
			select {
			case ev, ok := <-ch:
				if !ok {
					return burst
				}
				burst = append(burst, ev)
			default:
				return burst
			}
		}
		return burst
	}
}

// refresher rate-limits re-reading something the events said changed: at
// most one read in flight, and no more than one per interval. It keeps
// real (monotonic) time: it schedules work, it does not display time, so
// it ignores the clock tests pin.
type refresher struct {
	interval  time.Duration
	want      bool // something changed since the last read began
	inFlight  bool
	scheduled bool // a timer will say when the interval has passed
	last      time.Time
}

func (r *refresher) started() {
	r.want, r.inFlight, r.last = false, true, time.Now()
}

// fired is the timer's word that the interval has passed.
func (r *refresher) fired() {
	r.scheduled, r.last = false, time.Time{}
}

// due reports whether to read now; otherwise, if a read is wanted later,
// wait is how long until it may start.
func (r *refresher) due() (read bool, wait time.Duration) {
	if !r.want || r.inFlight || r.scheduled {
		return false, 0
	}
	if gap := time.Since(r.last); !r.last.IsZero() && gap < r.interval {
		return false, r.interval - gap
	}
	return true, 0
}

// refreshMsg fires when a rate-limited refresh may run.
type refreshMsg struct{ what string }

// applyEvents folds a burst into the panes. It does no IO: host events
// carry their record; what needs a read (the journal) is only marked
// wanted, and the end of Update issues reads.
func (m *Model) applyEvents(burst eventsMsg) {
	textsafe.Scrub(&burst) // host text, escaped: see safeBackend
	for _, ev := range burst {
		switch ev := ev.(type) {
		case *engine.HostEvent:
			m.hosts.applyHost(ev.Host)
			switch ev.Change {
			case engine.HostAssigned, engine.HostLearned, engine.HostAdded, engine.HostTrusted:
				m.journalRefresh.want = true // positions of the branch's hosts
			}
			m.machinesRefresh.want = true // a machine's host: sshd up, trusted, position
			if ev.Change != engine.HostUpdated {
				m.activity.addEvent(ev)
			}
		case *engine.LockEvent:
			m.onBranchEvent(ev.Branch, ev)
		case *engine.StagedEvent:
			m.onBranchEvent(ev.Branch, ev)
		case *engine.JournalEvent:
			m.onBranchEvent(ev.Branch, ev)
			m.hostsRefresh.want = true // heads moved, so "behind" did
		case *engine.PlanHostEvent:
			m.planning.step(ev, m.c.Now())
		case *engine.PushHostEvent:
			m.machinesRefresh.want = true // a machine's position
			m.hosts.applyPush(ev)
			m.pushes.apply(ev)
			if ev.Status == engine.PushFailed || ev.Status == engine.PushStale || ev.Status == engine.PushRolledBack {
				m.activity.addEvent(ev)
			}
		case *engine.PushEntryEvent:
			m.pushes.apply(ev)
		case *engine.WaveEvent:
			m.pushes.applyWave(ev)
			m.activity.addEvent(ev)
		case *engine.ScanEvent:
			m.scan = scanText(ev)
			if ev.State == "round" {
				// Every round moves "last seen" of the hosts that answered:
				// re-read (rate-limited) so SEEN is live, not the age of
				// the last transition.
				m.hostsRefresh.want = true
				m.machinesRefresh.want = true // sshd up, trusted: from the hosts' state
			}
			if ev.Level > engine.LevelInfo || ev.Err != "" {
				m.activity.addEvent(ev)
			}
		case *engine.BootEvent:
			m.machinesRefresh.want = true // its stage may have moved
			m.activity.addEvent(ev)
			if ev.Hardware != nil && ev.Machine == "" {
				m.machines.addDiscovered(ev)
			}
			if ev.Level == engine.LevelWarn && ev.Service == "watch" {
				m.setFlash(engine.LevelWarn, ev.Message)
			}
		case *engine.JobEvent:
			// The engine's job for an operation started here is already
			// shown as ours; its other jobs (catch-up pushes, another
			// face's work) are listed as they come and go.
			if ev.Done {
				delete(m.jobs, ev.JobID)
			} else if !m.ownJobRunning() {
				m.jobs[ev.JobID] = &job{text: ev.Message}
			}
			m.activity.addEvent(ev)
		default:
			if l, ok := ev.(*engine.LogEvent); ok {
				m.planning.note(l, m.c.Now()) // a host the plan skipped
			}
			m.activity.addEvent(ev)
			if h := ev.Meta(); h.Level == engine.LevelError {
				m.setFlash(engine.LevelError, h.Message+errSuffix(engine.EventErr(ev)))
			}
		}
	}
}

// onBranchEvent re-reads the journal when the event is about the branch
// on screen, and logs it.
func (m *Model) onBranchEvent(branch string, ev engine.Event) {
	if branch == "" || branch == m.branch {
		m.journalRefresh.want = true
	}
	m.activity.addEvent(ev)
}

// ownJobRunning reports whether an operation started from the UI runs.
func (m *Model) ownJobRunning() bool {
	for id := range m.jobs {
		if strings.HasPrefix(id, "ui-") {
			return true
		}
	}
	return false
}

func errSuffix(err string) string {
	if err == "" {
		return ""
	}
	return ": " + err
}

// scanText is the status bar's scan state from the latest scan event.
func scanText(ev *engine.ScanEvent) string {
	switch {
	case ev.Err != "":
		return "scan " + ev.State + ": " + ev.Err
	case ev.Message != "":
		return "scan: " + ev.Message
	}
	return "scan " + ev.State
}

// refreshHosts re-reads the hosts now (after the operator's own
// operations, which should show at once), or as soon as the read in
// flight returns.
func (m *Model) refreshHosts() tea.Cmd {
	if m.hostsRefresh.inFlight {
		m.hostsRefresh.want = true
		return nil
	}
	return m.fetchHosts()
}

// refreshJournal is refreshHosts for the journal.
func (m *Model) refreshJournal() tea.Cmd {
	if m.journalRefresh.inFlight {
		m.journalRefresh.want = true
		return nil
	}
	return m.fetchJournal()
}

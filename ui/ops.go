package ui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// Every engine call runs inside a tea.Cmd and comes back as one of these
// messages; Update only ever reads them. Reads refresh panes; operations
// carry the job they ran as, so the status bar can drop it.

type hostsMsg struct {
	hosts []engine.HostView
	err   error
}

type branchesMsg struct {
	branches []store.Branch
	err      error
}

type journalMsg struct {
	branch string
	view   *engine.JournalView
	err    error
}

type planMsg struct {
	job  string
	plan *engine.Plan
	err  error
}

type approveMsg struct {
	job  string
	plan *engine.Plan
	err  error
}

type pushMsg struct {
	job    string
	planID string
	result *engine.PushResult
	err    error
}

type upMsg struct {
	job    string
	plan   *engine.Plan
	result *engine.PushResult
	err    error
}

type reportMsg struct {
	host    string
	results []store.RunResult
	err     error
}

// opMsg ends a short operation (lock, stage, assign, …). done is the flash
// text on success.
type opMsg struct {
	job  string
	what string // the operation, for error messages
	done string
	err  error
}

// job is a running operation as the status bar shows it.
type job struct {
	text   string
	cancel context.CancelFunc // nil when it cannot be cancelled
}

// startJob registers a running operation and returns its id.
func (m *Model) startJob(text string, cancel context.CancelFunc) string {
	m.jobSeq++
	id := fmt.Sprintf("ui-%d", m.jobSeq)
	m.jobs[id] = &job{text: text, cancel: cancel}
	m.activity.add(m.c.Now(), engine.LevelInfo, "› "+text)
	return id
}

func (m *Model) endJob(id string) { delete(m.jobs, id) }

// op runs a short engine call as a job and reports it with opMsg.
func (m *Model) op(text, done string, call func() error) tea.Cmd {
	_, cmd := m.opID(text, done, call)
	return cmd
}

// opID is op that also returns the job id.
func (m *Model) opID(text, done string, call func() error) (string, tea.Cmd) {
	id := m.startJob(text, nil)
	return id, func() tea.Msg { return opMsg{job: id, what: text, done: done, err: call()} }
}

func (m *Model) fetchHosts() tea.Cmd {
	m.hostsRefresh.started()
	b, ctx := m.backend, m.ctx
	return func() tea.Msg {
		hs, err := b.Hosts(ctx)
		return hostsMsg{hosts: hs, err: err}
	}
}

func (m *Model) fetchBranches() tea.Cmd {
	b := m.backend
	return func() tea.Msg {
		bs, err := b.Branches()
		return branchesMsg{branches: bs, err: err}
	}
}

func (m *Model) fetchJournal() tea.Cmd {
	m.journalRefresh.started()
	b, branch := m.backend, m.branch
	return func() tea.Msg {
		v, err := b.Log(branch)
		return journalMsg{branch: branch, view: v, err: err}
	}
}

func (m *Model) lock(branch, message string) tea.Cmd {
	b := m.backend
	return m.op(fmt.Sprintf("lock %s %q", branch, message), "locked "+branch,
		func() error { return b.Lock(branch, message) })
}

func (m *Model) unlock(branch string, force bool) tea.Cmd {
	b := m.backend
	text := "unlock " + branch
	if force {
		text += " --force"
	}
	return m.op(text, "unlocked "+branch, func() error { return b.Unlock(branch, force) })
}

// stageRequest is what the stage dialog and the :snap/:exec verbs
// collect. File contents are read inside the command, never in Update.
type stageRequest struct {
	engine.StageRequest
	local string // file to read for file and template entries
}

func (m *Model) stage(branch string, req stageRequest) tea.Cmd {
	_, cmd := m.stageJob(branch, req)
	return cmd
}

// sourceError is a local file that could not be read for staging: the
// stage dialog keeps its fields and points at that one.
type sourceError struct{ error }

func (e sourceError) Unwrap() error { return e.error }

// stageJob is stage that also returns the job it runs as, so the dialog
// that asked can wait for its answer.
func (m *Model) stageJob(branch string, req stageRequest) (string, tea.Cmd) {
	b := m.backend
	text := fmt.Sprintf("stage %s %s", req.Kind, stageSubject(req))
	return m.opID(text, "staged "+stageSubject(req), func() error {
		if req.local != "" {
			// The engine's checks: missing, a directory, too large.
			data, mode, err := engine.ReadSourceMode(req.local)
			if err != nil {
				return sourceError{err}
			}
			req.Content, req.Source = data, req.local
			if req.Mode == 0 && req.Kind == journal.KindFile {
				req.Mode = mode // a snapshot keeps the local file's mode
			}
		}
		_, err := b.Stage(branch, req.StageRequest)
		return err
	})
}

func stageSubject(req stageRequest) string {
	switch req.Kind {
	case journal.KindFile, journal.KindTemplate, journal.KindRemove:
		return req.Path
	case journal.KindExec:
		return req.Command
	}
	return string(req.Kind)
}

func (m *Model) drop(branch string, n int) tea.Cmd {
	b := m.backend
	return m.op(fmt.Sprintf("drop staged entry %d of %s", n, branch), fmt.Sprintf("dropped staged entry %d", n),
		func() error { return b.Drop(branch, n) })
}

func (m *Model) plan(req engine.PlanRequest) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	who := "every host of " + req.Branch
	if len(req.Hosts) > 0 {
		who = plural(len(req.Hosts), "host")
	}
	id := m.startJob("plan "+req.Branch+" ("+who+")", cancel)
	expect := req.Hosts
	if len(expect) == 0 {
		expect = m.hosts.namesOnBranch(req.Branch)
	}
	m.planning = newPlanProgress(id, m.c.Now(), expect)
	b := m.backend
	return tea.Batch(func() tea.Msg {
		defer cancel()
		p, err := b.Plan(ctx, req)
		return planMsg{job: id, plan: p, err: err}
	}, planTick(id))
}

func (m *Model) approve(planID string, keepLock bool) tea.Cmd {
	id := m.startJob("approve plan "+planID, nil)
	b := m.backend
	return func() tea.Msg {
		p, err := b.Approve(planID, keepLock)
		return approveMsg{job: id, plan: p, err: err}
	}
}

// push starts a push; its context is cancelled by Esc/Ctrl-C in the push
// pane, after which hosts finish the entry they are on.
func (m *Model) push(planID string, opts engine.PushOptions) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	id := m.startJob("push plan "+planID, cancel)
	m.pushJob = id
	b := m.backend
	return func() tea.Msg {
		defer cancel()
		r, err := b.Push(ctx, planID, opts)
		return pushMsg{job: id, planID: planID, result: r, err: err}
	}
}

func (m *Model) up(req engine.PlanRequest, opts engine.PushOptions) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	id := m.startJob("up "+req.Branch, cancel)
	m.pushJob = id
	b := m.backend
	return func() tea.Msg {
		defer cancel()
		p, r, err := b.Up(ctx, req, opts)
		return upMsg{job: id, plan: p, result: r, err: err}
	}
}

func (m *Model) fork(from, to string) tea.Cmd {
	b := m.backend
	return m.op("fork "+from+" → "+to, "forked "+to+" from "+from, func() error { return b.Fork(from, to) })
}

func (m *Model) assign(host, branch string) tea.Cmd {
	b := m.backend
	return m.op("assign "+host+" to "+branch, host+" now follows "+branch, func() error { return b.Assign(host, branch) })
}

func (m *Model) migrate(host, branch string) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	b := m.backend
	id := m.startJob("migrate "+host+" to "+branch, cancel)
	return func() tea.Msg {
		defer cancel()
		return opMsg{job: id, what: "migrate " + host, done: host + " migrated to " + branch, err: b.Migrate(ctx, host, branch)}
	}
}

func (m *Model) addHost(req engine.AddHostRequest) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	b := m.backend
	id := m.startJob("add host "+req.Addr, cancel)
	return func() tea.Msg {
		defer cancel()
		h, err := b.AddHost(ctx, req)
		return opMsg{job: id, what: "add host " + req.Addr, done: "added " + strings.TrimSpace(h.Name+" "+h.Addr), err: err}
	}
}

// trust accepts a host's key; the host is named by its id, which a host
// known only from a scan (no name yet) also has.
func (m *Model) trust(id, name, fingerprint string) tea.Cmd {
	b := m.backend
	return m.op("trust "+name+" "+fingerprint, "trusted "+name, func() error { return b.TrustHost(id, fingerprint) })
}

func (m *Model) report(host string) tea.Cmd {
	b := m.backend
	return func() tea.Msg {
		rs, err := b.Report(host)
		return reportMsg{host: host, results: rs, err: err}
	}
}

package ui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/kinds"
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

// sourceError is a local file that could not be read for staging: the
// stage dialog keeps its fields and points at the one that names it.
type sourceError struct {
	path string
	err  error
}

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

// readSource reads a local file to stage with the engine's checks
// (missing, a directory, too large), as the verb table does.
func readSource(path string) ([]byte, uint32, error) {
	data, mode, err := engine.ReadSourceMode(path)
	if err != nil {
		return nil, 0, sourceError{path, err}
	}
	return data, mode, nil
}

// stageJob stages what the stage dialog collected as a job, and returns
// the job so the dialog can wait for its answer. The kind builds the
// request inside the command, where it may read local files; Update
// never does.
func (m *Model) stageJob(branch string, k kinds.Kind, in kinds.Input) (string, tea.Cmd) {
	b := m.backend
	text := "stage " + stageLine(k, in)
	id := m.startJob(text, nil)
	return id, func() tea.Msg {
		in.ReadFile = readSource
		req, err := k.Request(in)
		if err != nil {
			return opMsg{job: id, what: text, err: err}
		}
		e, err := b.Stage(branch, req)
		done := "staged " + string(k.Name())
		if s := k.Summary(e); s != "" && err == nil {
			done = "staged " + s
		}
		return opMsg{job: id, what: text, done: done, err: err}
	}
}

// stageLine is the staging verb's command line for in, as the ":" line
// would take it: "snap ./motd --to /etc/motd".
func stageLine(k kinds.Kind, in kinds.Input) string {
	s := k.Spec()
	words := []string{s.Verb}
	args := in.Args
	var command string
	if s.Rest && len(args) > 0 {
		args, command = args[:len(args)-1], args[len(args)-1]
	}
	words = append(words, args...)
	for _, f := range s.Flags {
		v, ok := in.Flags[f.Name]
		switch {
		case !ok:
		case f.Bool:
			words = append(words, "--"+f.Name)
		default:
			words = append(words, "--"+f.Name, v)
		}
	}
	if command != "" {
		words = append(words, "--", command)
	}
	return strings.Join(words, " ")
}

func (m *Model) drop(branch string, seq uint64) tea.Cmd {
	b := m.backend
	return m.op(fmt.Sprintf("drop staged seq %d of %s", seq, branch), fmt.Sprintf("dropped staged seq %d of %s", seq, branch),
		func() error { return b.Drop(branch, seq) })
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

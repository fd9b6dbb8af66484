// Package ui is discoterm's terminal face: a Bubble Tea v2 program over the
// engine. It holds no business logic — every key calls an engine operation
// in a tea.Cmd, and engine events arrive as messages.
package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/themes"
)

// Options configure the UI.
type Options struct {
	Theme  string // built-in theme name or theme file; "" follows the terminal background
	Branch string // branch shown first; "" picks "main" or the first branch
	Store  string // store path for the status bar; "" asks the backend
	In     io.Reader
	Out    io.Writer
	// Now is the clock relative times are computed from; nil: time.Now.
	Now func() time.Time
}

// view is a full-screen pane; the root model shows one at a time.
type view int

const (
	viewHosts view = iota
	viewJournal
	viewPlan
	viewPush
	viewActivity
	viewDrift
	viewMachines
	viewCount
)

var viewNames = [viewCount]string{"Hosts", "Journal", "Plan", "Push", "Activity", "Drift", "Machines"}

// Intervals of the things that redraw on their own.
const (
	clockEvery       = 5 * time.Second // "last seen" ages
	hostsReadEvery   = time.Second     // re-read hosts at most this often during storms
	journalReadEvery = time.Second
)

// clockMsg re-renders relative times.
type clockMsg struct{}

// Model is the root model: it owns focus, routes keys (dialog, help,
// input line, focused pane, global keys, in that order) and turns engine
// results into pane state.
type Model struct {
	c           *Common
	backend     Backend
	ctx         context.Context
	cancel      context.CancelFunc
	events      <-chan engine.Event
	unsubscribe func()
	operator    string
	storePath   string

	themeName string
	themeData []byte // contents of a theme file; nil for built-in themes
	dark      bool   // the terminal background is dark (until it says otherwise)
	profile   colorprofile.Profile

	width, height int
	focus         view
	branch        string
	branches      []store.Branch

	hosts    *hostsPane
	journal  *journalPane
	review   *planPane
	pushes   *pushPane
	activity *activityPane
	drift    *driftPane
	machines *machinesPane
	input    lineInput
	dialog   dialog
	help     *helpView

	jobs     map[string]*job
	jobSeq   int
	planning planProgress
	// statusRows is how many lines the status bar took when the panes
	// were last laid out.
	statusRows int
	pushJob    string
	// The rollout flags of the :push line whose confirmation is open
	// (ui/waves.go).
	pushRollout engine.PushOptions
	pushConfirm bool
	scan        string
	// quitAfterPush: the operator quit during a push; leave once it ends.
	quitAfterPush bool
	// stopAsk is the "Stop push?" question while it is open: it goes when
	// the push ends first, its facts being stale by then.
	stopAsk dialog

	flashNow     *flash
	flashSeq     int
	flashPending bool

	hostsRefresh, journalRefresh refresher
	machinesRefresh              refresher
	// provisionJob is the job of the boot services started here (:provision,
	// or B in the Machines view); "" when they do not run.
	provisionJob string
}

// NewModel builds the root model and subscribes to the backend's events.
// Call Close when done with a model that was never Run.
func NewModel(b Backend, opts Options) (*Model, error) {
	return newModel(context.Background(), b, opts)
}

// newModel is NewModel whose operations end with ctx.
func newModel(ctx context.Context, b Backend, opts Options) (*Model, error) {
	if b == nil {
		return nil, errors.New("ui: no backend")
	}
	b = safeBackend{b}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	data, err := readTheme(opts.Theme)
	if err != nil {
		return nil, err
	}
	c := &Common{Keys: DefaultKeyMap(), Now: now}
	ctx, cancel := context.WithCancel(ctx)
	m := &Model{
		c: c, backend: b, ctx: ctx, cancel: cancel,
		operator: b.Operator(), storePath: opts.Store,
		themeName: opts.Theme, themeData: data, dark: true,
		profile: colorprofile.TrueColor,
		branch:  opts.Branch,
		jobs:    map[string]*job{},
		hosts:   newHostsPane(c), journal: newJournalPane(c), review: newPlanPane(c),
		pushes: newPushPane(c), activity: newActivityPane(c), drift: newDriftPane(c),
		machines:        newMachinesPane(c),
		input:           newLineInput(),
		hostsRefresh:    refresher{interval: hostsReadEvery},
		journalRefresh:  refresher{interval: journalReadEvery},
		machinesRefresh: refresher{interval: machinesReadEvery},
	}
	if c.Theme, err = m.buildTheme(); err != nil {
		return nil, err
	}
	m.input.restyle(c.Theme)
	if m.storePath == "" {
		m.storePath = b.StorePath()
	}
	if m.branch == "" {
		m.branch = "main"
	}
	m.events, m.unsubscribe = b.Subscribe()
	m.gateKeys()
	return m, nil
}

// Close ends the event subscription and cancels running operations.
func (m *Model) Close() {
	m.cancel()
	if m.unsubscribe != nil {
		m.unsubscribe()
		m.unsubscribe = nil
	}
}

// Init starts listening to events and reads what the panes show.
func (m *Model) Init() tea.Cmd {
	// The background is asked for even with a chosen theme: high-contrast
	// and theme files without a base follow it too.
	return tea.Batch(listen(m.events), m.fetchHosts(), m.fetchBranches(), m.fetchJournal(), m.clock(),
		tea.RequestBackgroundColor)
}

func (m *Model) clock() tea.Cmd {
	return tea.Tick(clockEvery, func(time.Time) tea.Msg { return clockMsg{} })
}

// Update handles one message. It never does IO: reads and operations are
// returned as commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	add := func(c tea.Cmd) { cmds = append(cmds, c) }
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.applyTheme()
	case themeMsg:
		if msg.err != nil {
			m.flash(engine.LevelError, msg.err.Error())
			break
		}
		m.themeName, m.themeData = msg.name, msg.data
		m.applyTheme()
	case tea.ColorProfileMsg:
		m.profile = msg.Profile
		m.applyTheme()
	case tea.KeyPressMsg:
		add(m.handleKey(msg))
	case tea.PasteMsg:
		switch {
		case m.dialog != nil:
			_, c := m.dialog.Update(msg)
			add(c)
		case m.input.active():
			add(m.input.Update(msg))
			m.inputChanged()
		}
	case eventsMsg:
		m.applyEvents(msg)
		add(listen(m.events))
	case eventsClosedMsg:
		m.flash(engine.LevelWarn, "the engine stopped sending events; the screen no longer updates by itself")
	case clockMsg:
		add(m.clock())
	case planTickMsg:
		if msg.job == m.planning.job {
			add(planTick(msg.job))
		}
	case refreshMsg:
		switch msg.what {
		case "hosts":
			m.hostsRefresh.fired()
		case "journal":
			m.journalRefresh.fired()
		case "machines":
			m.machinesRefresh.fired()
		}
	case flashMsg:
		m.ageFlash(msg)
	default:
		add(m.handleResult(msg))
	}
	add(m.afterUpdate())
	return m, tea.Batch(cmds...)
}

// afterUpdate brings derived state up to date once per message: pane
// views, key availability, due re-reads and flash timers.
func (m *Model) afterUpdate() tea.Cmd {
	var cmds []tea.Cmd
	if m.width > 0 && len(m.statusBar()) != m.statusRows {
		m.resize(m.width, m.height) // the status bar grew or shrank a line
	}
	if read, wait := m.hostsRefresh.due(); read {
		cmds = append(cmds, m.fetchHosts())
	} else if wait > 0 {
		m.hostsRefresh.scheduled = true
		cmds = append(cmds, tea.Tick(wait, func(time.Time) tea.Msg { return refreshMsg{"hosts"} }))
	}
	if read, wait := m.journalRefresh.due(); read {
		cmds = append(cmds, m.fetchJournal())
	} else if wait > 0 {
		m.journalRefresh.scheduled = true
		cmds = append(cmds, tea.Tick(wait, func(time.Time) tea.Msg { return refreshMsg{"journal"} }))
	}
	// The machines are read only while they are on screen.
	if m.focus == viewMachines {
		if read, wait := m.machinesRefresh.due(); read {
			cmds = append(cmds, m.fetchMachines())
		} else if wait > 0 {
			m.machinesRefresh.scheduled = true
			cmds = append(cmds, tea.Tick(wait, func(time.Time) tea.Msg { return refreshMsg{"machines"} }))
		}
	}
	m.review.planning = nil
	if m.planning.job != "" {
		if m.planning.dirty {
			// The review grows as hosts answer: grouped host by host,
			// re-laid out once per burst, diffs coloured once each.
			m.planning.dirty = false
			m.review.setLive(m.planning.livePlan(), m.planning.review.Review(), m.planning.String())
		}
		m.review.planning = m.planning.lines(m.c, m.c.Now(), max(m.review.h/3, 4))
	}
	if m.hosts.dirty {
		m.drift.sync(func(id string) (*store.DriftSummary, bool) {
			r := m.hosts.byID[id]
			if r == nil {
				return nil, false
			}
			return r.Drift, true
		})
	}
	m.hosts.prepare()
	m.journal.prepare()
	m.activity.prepare()
	m.pushes.prepare()
	m.gateKeys()
	if m.help != nil {
		m.help.status = m.statusDetail() // live, and whole where the bar cuts
	}
	cmds = append(cmds, m.flashTimers())
	return tea.Batch(cmds...)
}

func (m *Model) resize(w, h int) {
	m.width, m.height = w, h
	m.c.Width, m.c.Height = w, h
	// The status bar takes the lines it needs (afterUpdate re-lays the
	// panes out when that changes).
	m.statusRows = max(len(m.statusBar()), 1)
	bh := max(h-2-m.statusRows, 1)
	m.hosts.SetSize(w, bh)
	m.journal.SetSize(w, bh)
	m.review.SetSize(w, bh)
	m.pushes.SetSize(w, bh)
	m.activity.SetSize(w, bh)
	m.drift.SetSize(w, bh)
	m.machines.SetSize(w, bh)
	m.input.ti.SetWidth(max(w-2, 10))
}

// readTheme reads a theme file; built-in names need no reading.
func readTheme(name string) ([]byte, error) {
	if _, ok := themes.Builtin(name, true); ok {
		return nil, nil
	}
	data, err := themes.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if _, err := themes.Parse(name, data, true); err != nil { // validate once, here
		return nil, err
	}
	return data, nil
}

// themeMsg brings a theme file read for :theme.
type themeMsg struct {
	name string
	data []byte
	err  error
}

// buildTheme makes the styles for the chosen theme, the background and
// the colour profile. It does no IO: a theme file was read before.
func (m *Model) buildTheme() (*themes.Theme, error) {
	var th *themes.Theme
	if m.themeData == nil {
		t, ok := themes.Builtin(m.themeName, m.dark)
		if !ok {
			return nil, fmt.Errorf("unknown theme %q", m.themeName)
		}
		th = t
	} else {
		t, err := themes.Parse(m.themeName, m.themeData, m.dark)
		if err != nil {
			return nil, err
		}
		th = t
	}
	return th.ForProfile(m.profile), nil
}

// applyTheme rebuilds the styles after the background, the colour profile
// or the chosen theme changed.
func (m *Model) applyTheme() {
	th, err := m.buildTheme()
	if err != nil {
		m.flash(engine.LevelError, err.Error())
		return
	}
	m.c.Theme = th
	m.input.restyle(m.c.Theme)
	m.review.restyle()
	clear(m.drift.diffs)
	m.drift.render()
}

// setBranch switches the branch the journal, status bar and plans use.
func (m *Model) setBranch(name string) tea.Cmd {
	if name == m.branch {
		return nil
	}
	m.branch = name
	m.journal.setView(nil)
	m.journalRefresh.inFlight = false
	return m.fetchJournal()
}

func (m *Model) focusView(v view) {
	m.focus = v
	if v == viewMachines {
		m.machinesRefresh.want = true // read them now, then as boot events come
	}
}

// View draws the tabs, the focused pane, the status bar and the bottom
// line, with help or a dialog on top.
func (m *Model) View() tea.View {
	v := tea.NewView("")
	v.AltScreen = true
	v.WindowTitle = "discoterm — " + m.branch
	if m.width == 0 || m.height == 0 {
		return v
	}
	if m.width < 40 || m.height < 10 {
		v.SetContent(fmt.Sprintf("discoterm needs at least 40×10 (this is %d×%d)", m.width, m.height))
		return v
	}
	var body string
	switch m.focus {
	case viewHosts:
		body = m.hosts.View()
	case viewJournal:
		body = m.journal.View()
	case viewPlan:
		body = m.review.View()
	case viewPush:
		body = m.pushes.View()
	case viewActivity:
		body = m.activity.View()
	case viewDrift:
		body = m.drift.View()
	case viewMachines:
		body = m.machines.View()
	}
	screen := strings.Join([]string{m.tabs(), body, strings.Join(m.statusBar(), "\n"), m.bottomLine()}, "\n")
	if m.help != nil {
		screen = overlay(screen, m.help.View(m.width-4, m.height-2), m.width, m.height)
	}
	if m.dialog != nil {
		screen = overlay(screen, m.dialog.View(min(m.width-4, 76)), m.width, m.height)
	}
	v.SetContent(screen)
	return v
}

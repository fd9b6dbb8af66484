package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/verbs"
	"github.com/discoterm/discoterm/themes"
)

// The ":" line runs the verbs of engine/verbs — the batch verbs, parsed by
// the same parser with the same errors — plus the console's own commands
// below. A verb the console shows in its own way (plan → review, approve
// and push → a confirmation first …) has an override here; parsing and
// validation still come from the table.

const groupConsole = "console"

var consoleVerbs = []*verbs.Verb{
	{Name: "branch", Group: groupConsole, Help: "switch the console to a branch", Args: []verbs.Arg{{Name: "BRANCH"}}},
	{Name: "journal", Group: groupConsole, Help: "show the journal view", Args: []verbs.Arg{{Name: "BRANCH", Optional: true}}},
	{Name: "review", Group: groupConsole, Help: "show the plan review"},
	{Name: "progress", Group: groupConsole, Help: "show push progress"},
	{Name: "activity", Aliases: []string{"events"}, Group: groupConsole, Help: "show the activity log"},
	{Name: "theme", Group: groupConsole, Help: "switch theme (" + strings.Join(themes.Names, ", ") + ", or a file)",
		Args: []verbs.Arg{{Name: "NAME|FILE"}}},
	{Name: "quit", Aliases: []string{"q"}, Group: groupConsole, Help: "leave"},
}

// commandTable is the verb table plus the console's commands.
var commandTable = sync.OnceValue(func() *verbs.Table {
	t, err := verbs.Default().With(consoleVerbs...)
	if err != nil {
		panic(err) // a declaration error; TestCommandTable catches it first
	}
	return t
})

// commandNames feeds the command line's completion.
func commandNames() []string {
	var out []string
	for _, v := range commandTable().Verbs() {
		out = append(out, v.Name)
		out = append(out, v.Aliases...)
	}
	return out
}

// override is how the console runs a verb it shows in its own way.
type override func(m *Model, c *verbs.Call) (tea.Cmd, error)

var overrides map[string]override

func init() {
	overrides = map[string]override{
		"lock":      cmdLock,
		"plan":      cmdPlan,
		"drift":     cmdDrift,
		"repair":    cmdRepair,
		"adopt":     cmdAdopt,
		"approve":   func(m *Model, c *verbs.Call) (tea.Cmd, error) { return withPlan(m, c, "approve") },
		"push":      func(m *Model, c *verbs.Call) (tea.Cmd, error) { return withPlan(m, c, "push") },
		"up":        cmdUp,
		"hosts":     cmdView(viewHosts),
		"log":       cmdJournal,
		"journal":   cmdJournal,
		"scan":      cmdScan,
		"help":      cmdHelp,
		"branch":    cmdBranch,
		"review":    cmdView(viewPlan),
		"progress":  cmdView(viewPush),
		"activity":  cmdView(viewActivity),
		"theme":     cmdTheme,
		"quit":      func(m *Model, _ *verbs.Call) (tea.Cmd, error) { return m.quit(), nil },
		"provision": cmdProvision,
		"machines":  cmdView(viewMachines),
	}
}

// verbMsg is a verb's result, back from its command.
type verbMsg struct {
	job    string
	verb   string
	result verbs.Result
	err    error
}

// runCommand parses and runs one command line.
func (m *Model) runCommand(line string) tea.Cmd {
	c, err := parseCommand(line)
	if err != nil {
		m.flash(engine.LevelError, err.Error())
		return nil
	}
	if c == nil {
		return nil
	}
	c.DefaultBranch = m.branch
	c.Help = commandTable()
	if o := overrides[c.Verb.Name]; o != nil {
		cmd, err := o(m, c)
		if err != nil {
			m.flash(engine.LevelError, verbError(c.Verb.Name, err))
		}
		return cmd
	}
	if c.Verb.Command != "" {
		m.askCommand(c)
		return nil
	}
	return m.runVerb(c)
}

// parseCommand is the ":" line's parser: the verb table's, with its
// errors. A blank line is no command (nil, nil).
func parseCommand(line string) (*verbs.Call, error) {
	words, err := verbs.SplitLine(line)
	if err != nil || len(words) == 0 {
		return nil, err
	}
	c, err := commandTable().Parse(words, nil)
	if err != nil {
		return nil, err
	}
	if c.Verb == nil {
		return nil, errors.New("flags without a verb; :help lists the verbs")
	}
	return c, nil
}

// runVerb runs a verb's engine call as a job; the answer is a verbMsg.
func (m *Model) runVerb(c *verbs.Call) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	id := m.startJob(callText(c), cancel)
	b := m.backend
	return func() tea.Msg {
		defer cancel()
		r, err := c.Verb.Run(ctx, b, c)
		return verbMsg{job: id, verb: c.Verb.Name, result: r, err: err}
	}
}

// callText is a call as the Activity log shows it. A staged file is named
// by its target on the hosts, which is what the journal will show.
func callText(c *verbs.Call) string {
	parts := append([]string{c.Verb.Name}, c.Args...)
	if to := c.Str("to"); to != "" {
		parts = []string{c.Verb.Name, to}
	}
	if c.HasCommand {
		parts = append(parts, "--", c.Command)
	}
	return strings.Join(parts, " ")
}

// askCommand shows a command verb's command whole — wrapped, never cut —
// before it is staged: what the hosts will run is what was typed.
func (m *Model) askCommand(c *verbs.Call) {
	width := max(min(m.width-8, 100), 20)
	body := []string{fmt.Sprintf("Stages on %s, to run with sh on every host of the branch:", c.Branch()), ""}
	for _, l := range wrapAtSpaces(printable(c.Command), width-2) {
		body = append(body, "  "+l)
	}
	if g := c.Str("creates"); g != "" {
		body = append(body, "", "only where "+printable(g)+" does not exist")
	}
	if g := c.Str("unless"); g != "" {
		body = append(body, "", "only where this fails: "+printable(g))
	}
	m.dialog = newConfirm(m.c, "Stage this "+c.Verb.Name+"?", body, "stage",
		func(confirmOptions) tea.Cmd { return m.runVerb(c) })
}

// wrapAtSpaces breaks a command only where it has a space (the break
// stands for that one space), so a reader can put it back together; a
// word longer than a line is cut into pieces.
func wrapAtSpaces(s string, width int) []string {
	var lines []string
	cur := ""
	for i, w := range strings.Split(s, " ") {
		switch {
		case i == 0:
			cur = w
		case ansi.StringWidth(cur)+1+ansi.StringWidth(w) <= width:
			cur += " " + w
		default:
			lines = append(lines, cur)
			cur = w
		}
		for ansi.StringWidth(cur) > width {
			lines = append(lines, ansi.Cut(cur, 0, width))
			cur = ansi.Cut(cur, width, ansi.StringWidth(cur))
		}
	}
	return append(lines, cur)
}

// printable shows control characters as escapes, so what the dialog shows
// is every byte that will be staged.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// verbDone folds a verb's result into the console: a flash and an Activity
// line always, and the view that shows it.
func (m *Model) verbDone(msg verbMsg) tea.Cmd {
	m.endJob(msg.job)
	if msg.job == m.provisionJob {
		m.provisionJob, m.machines.serving = "", ""
	}
	m.machinesRefresh.want = true
	refresh := tea.Batch(m.refreshJournal(), m.refreshHosts(), m.fetchBranches())
	if msg.err != nil {
		m.flash(engine.LevelError, verbError(msg.verb, msg.err))
		return refresh
	}
	now := m.c.Now()
	switch r := msg.result.(type) {
	case verbs.Report:
		m.dialog = newReportDialog(m.c, orDash(r.Host), r.Results)
	case verbs.StagedList:
		m.focusView(viewJournal)
	case verbs.Reverted:
		for _, n := range r.Result.Notes {
			m.activity.add(now, engine.LevelInfo, "revert: "+n)
		}
		if r.Result.Plan != nil {
			m.review.setPlan(r.Result.Plan)
			m.focusView(viewPlan)
		}
	case verbs.MachineList:
		m.focusView(viewMachines) // every machine verb: the view shows the result
	case verbs.BranchList:
		for _, b := range r.Branches {
			line := fmt.Sprintf("branch %s: head %d", b.Branch.Name, b.Branch.Head)
			if b.Lock != nil {
				line += fmt.Sprintf(", locked by %s: %s", b.Lock.Holder, b.Lock.Message)
			}
			m.activity.add(now, engine.LevelInfo, line)
		}
		m.focusView(viewActivity)
	case verbs.Audit:
		for _, a := range r.Records {
			m.activity.add(now, engine.LevelInfo, fmt.Sprintf("audit %s %s %s: %s", a.Branch, a.Actor, a.Action, a.Message))
		}
		m.focusView(viewActivity)
	}
	if msg.result != nil {
		m.activity.add(now, engine.LevelInfo, msg.result.Summary())
		m.setFlash(engine.LevelInfo, msg.result.Summary())
	}
	return refresh
}

// verbError words a verb's failure: a refused command line as the table
// says it (the same sentence --batch prints), an engine error after the
// verb's name.
func verbError(verb string, err error) string {
	if verbs.IsUsage(err) {
		return err.Error()
	}
	return verb + ": " + opError(err)
}

func orDash(s string) string {
	if s == "" {
		return "every host"
	}
	return s
}

// cmdLock opens the lock dialog when no message is given, as L does.
func cmdLock(m *Model, c *verbs.Call) (tea.Cmd, error) {
	if len(c.Args) > 1 {
		return m.runVerb(c), nil
	}
	branch := c.Arg(0)
	m.dialog = newLockDialog(m.c, branch, func(s string) tea.Cmd { return m.lock(branch, s) })
	return nil, nil
}

func cmdPlan(m *Model, c *verbs.Call) (tea.Cmd, error) {
	hosts := c.Args
	if len(hosts) == 0 {
		hosts = m.hosts.selection()
	}
	return m.plan(engine.PlanRequest{Branch: c.Branch(), Hosts: hosts}), nil
}

// planLoadedMsg brings a saved plan named on the command line, and what
// to ask about it.
type planLoadedMsg struct {
	plan *engine.Plan
	then string // "approve" or "push"
	call *verbs.Call
	err  error
}

// withPlan asks about the plan named by the first argument (loading it
// in a command when it is not the one on screen) or the one on screen.
func withPlan(m *Model, c *verbs.Call, then string) (tea.Cmd, error) {
	id := c.Arg(0)
	if m.review.live && m.review.plan != nil && (id == "" || strings.HasPrefix(m.review.plan.ID, id)) {
		// What is on screen is part of a plan: approving it would be
		// approving hosts nobody has seen yet.
		return nil, fmt.Errorf("plan %s is still running (%s answered); %s it once every host has answered", m.review.plan.ID, m.planning.String(), then)
	}
	if id == "" || (m.review.plan != nil && strings.HasPrefix(m.review.plan.ID, id)) {
		if m.review.plan == nil {
			return nil, errors.New("no plan on screen; give a plan id or press p")
		}
		m.askAbout(m.review.plan, then, c)
		return nil, nil
	}
	b := m.backend
	return func() tea.Msg {
		p, err := b.GetPlan(id)
		return planLoadedMsg{plan: p, then: then, call: c, err: err}
	}, nil
}

// planLoaded answers :approve ID / :push ID for a plan not on screen: the
// confirmation for it, or the reason it cannot be had.
func (m *Model) planLoaded(msg planLoadedMsg) tea.Cmd {
	if msg.err != nil {
		m.flash(engine.LevelError, fmt.Sprintf("%s %s: %s", msg.then, msg.call.Arg(0), opError(msg.err)))
		return nil
	}
	// A plan named on the command line that was not on screen: show it,
	// then ask about it (or say why not).
	m.review.setPlan(msg.plan)
	m.focusView(viewPlan)
	m.askAbout(msg.plan, msg.then, msg.call)
	if m.dialog != nil {
		m.activity.add(m.c.Now(), engine.LevelInfo, fmt.Sprintf("› %s %s: asking to confirm", msg.then, msg.plan.ID))
	}
	return nil
}

// askAbout opens the approve or push confirmation, with toggles preset
// from the command's flags.
func (m *Model) askAbout(p *engine.Plan, then string, c *verbs.Call) {
	if then == "approve" {
		m.askApprove(p)
		if d, ok := m.dialog.(*confirmDialog); ok && c != nil {
			d.opts.KeepLock = c.Bool("keep-lock")
		}
		return
	}
	if c != nil && c.Bool("prepare") {
		m.askPrepare(p, c.Bool("allow-reboot"))
		return
	}
	m.askPush(p)
	if err := m.setRollout(c); err != nil {
		m.dialog = nil
		m.flash(engine.LevelError, "push: "+opError(err))
		return
	}
	if d, ok := m.dialog.(*confirmDialog); ok && c != nil {
		d.opts.AllowReboot = c.Bool("allow-reboot")
	}
}

func cmdUp(m *Model, c *verbs.Call) (tea.Cmd, error) {
	hosts := c.Args
	if len(hosts) == 0 {
		hosts = m.hosts.selection()
	}
	branch := c.Branch()
	who := "every host of " + branch
	if len(hosts) > 0 {
		who = strings.Join(hosts, ", ")
	}
	req := engine.PlanRequest{Branch: branch, Hosts: hosts}
	m.dialog = newConfirm(m.c, "Plan, approve and push in one go?", []string{
		"Dry-runs, commits what is staged on " + branch + " and pushes it to",
		cut(who, 70) + " without showing you the plan first.",
		"p then a then P lets you review each step instead.",
	}, "up", func(o confirmOptions) tea.Cmd {
		m.focusView(viewPush)
		return m.up(req, engine.PushOptions{AllowReboot: o.AllowReboot})
	}).withToggle("r", "allow reboots", func(o *confirmOptions) *bool { return &o.AllowReboot })
	m.dialog.(*confirmDialog).opts.AllowReboot = c.Bool("allow-reboot")
	return nil, nil
}

// cmdJournal shows the journal view, of the branch named if any.
func cmdJournal(m *Model, c *verbs.Call) (tea.Cmd, error) {
	m.focusView(viewJournal)
	branch := c.Arg(0)
	if branch == "" {
		branch = c.Str("branch")
	}
	if branch != "" && branch != m.branch {
		return cmdBranch(m, &verbs.Call{Verb: c.Verb, Args: []string{branch}})
	}
	return nil, nil
}

// cmdScan answers with the running scanner's state: the console scans
// all the time (unless started with --no-scan).
func cmdScan(m *Model, _ *verbs.Call) (tea.Cmd, error) {
	state := m.scan
	if state == "" {
		state = "no scanner is running (the console was started with --no-scan, or it has not reported yet)"
	}
	m.activity.add(m.c.Now(), engine.LevelInfo, "scan: "+state)
	m.setFlash(engine.LevelInfo, "scan: "+state)
	m.focusView(viewHosts)
	return nil, nil
}

func cmdHelp(m *Model, c *verbs.Call) (tea.Cmd, error) {
	m.help = newHelpView(m.c, m.focus)
	if c.Arg(0) != "" {
		r, err := c.Verb.Run(m.ctx, nil, c) // the table's help: reads nothing
		if err != nil {
			m.help = nil
			return nil, err
		}
		m.help.verb = r.(verbs.Help).Verb
	}
	return nil, nil
}

func cmdBranch(m *Model, c *verbs.Call) (tea.Cmd, error) {
	name := c.Arg(0)
	if len(m.branches) > 0 && !m.isBranch(name) {
		return nil, fmt.Errorf("no branch %q (:fork %s makes it)", name, name)
	}
	return m.setBranch(name), nil
}

func cmdView(v view) override {
	return func(m *Model, _ *verbs.Call) (tea.Cmd, error) { m.focusView(v); return nil, nil }
}

func cmdTheme(_ *Model, c *verbs.Call) (tea.Cmd, error) {
	name := c.Arg(0)
	return func() tea.Msg {
		data, err := readTheme(name)
		return themeMsg{name: name, data: data, err: err}
	}, nil
}

func (m *Model) isBranch(name string) bool {
	for _, b := range m.branches {
		if b.Name == name {
			return true
		}
	}
	return false
}

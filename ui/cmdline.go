package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/themes"
)

// command is one ":" verb. The verbs are the batch verbs, so what an
// operator learns in one face works in the other.
type command struct {
	name, alias string
	usage, help string
	run         func(m *Model, a *args) (tea.Cmd, error)
}

var commands = []command{
	{"lock", "", "lock [BRANCH] MESSAGE…", "take the branch lock", cmdLock},
	{"unlock", "", "unlock [BRANCH] [--force]", "release (or break) the lock", cmdUnlock},
	{"snap", "", "snap FILE --to PATH [--mode M] [--owner U:G]", "stage a file", cmdSnap(journal.KindFile)},
	{"template", "", "template FILE --to PATH [--mode M] [--owner U:G]", "stage a template", cmdSnap(journal.KindTemplate)},
	{"exec", "", "exec [--creates PATH] [--unless CMD] -- CMD…", "stage a command", cmdExec},
	{"reboot", "", "reboot", "stage a reboot", cmdReboot},
	{"drop", "", "drop N", "drop staged entry N", cmdDrop},
	{"plan", "", "plan [HOST…]", "dry-run (selected hosts, else the branch)", cmdPlan},
	{"approve", "", "approve [PLAN] [--keep-lock]", "approve a plan (asks first)", cmdApprove},
	{"push", "", "push [PLAN] [--allow-reboot]", "push an approved plan (asks first)", cmdPush},
	{"up", "", "up [HOST…] [--allow-reboot]", "plan, approve and push (asks first)", cmdUp},
	{"fork", "", "fork NEW [FROM]", "new branch copying a journal", cmdFork},
	{"migrate", "", "migrate HOST BRANCH", "move a host to another branch", cmdMigrate},
	{"assign", "", "assign HOST BRANCH", "set a host's branch", cmdAssign},
	{"add", "", "add ADDR [--name N] [--user U] [--port P]", "add a host by address", cmdAdd},
	{"branch", "", "branch NAME", "switch branch", cmdBranch},
	{"report", "", "report HOST", "a host's run results", cmdReport},
	{"hosts", "", "hosts", "show hosts", cmdView(viewHosts)},
	{"journal", "log", "journal", "show the journal", cmdView(viewJournal)},
	{"review", "", "review", "show the plan review", cmdView(viewPlan)},
	{"progress", "", "progress", "show push progress", cmdView(viewPush)},
	{"activity", "events", "activity", "show the event log", cmdView(viewActivity)},
	{"theme", "", "theme NAME|FILE", "switch theme (" + strings.Join(themes.Names, ", ") + ")", cmdTheme},
	{"help", "", "help", "keys and commands", cmdHelp},
	{"quit", "q", "quit", "leave", cmdQuit},
}

// commandNames feeds the command line's completion.
func commandNames() []string {
	out := make([]string, 0, len(commands))
	for _, c := range commands {
		out = append(out, c.name)
	}
	return out
}

// runCommand parses and runs one command line.
func (m *Model) runCommand(line string) tea.Cmd {
	if line == "" {
		return nil
	}
	words, err := splitWords(line)
	if err != nil {
		m.flash(engine.LevelError, err.Error())
		return nil
	}
	for _, c := range commands {
		if words[0] == c.name || (c.alias != "" && words[0] == c.alias) {
			a, err := parseArgs(words[1:])
			if err == nil {
				var cmd tea.Cmd
				if cmd, err = c.run(m, a); err == nil {
					return cmd
				}
			}
			m.flash(engine.LevelError, fmt.Sprintf(":%s: %v — usage: :%s", c.name, err, c.usage))
			return nil
		}
	}
	m.flash(engine.LevelError, fmt.Sprintf("unknown command %q — :help lists them", words[0]))
	return nil
}

// args are a command's words: positional ones, --flags, and what follows "--".
type args struct {
	pos   []string
	flags map[string]string // boolean flags map to ""
	rest  []string
}

// valueFlags take the next word as their value.
var valueFlags = map[string]bool{"to": true, "mode": true, "owner": true, "creates": true, "unless": true, "name": true, "user": true, "port": true}

func parseArgs(words []string) (*args, error) {
	a := &args{flags: map[string]string{}}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			a.rest = words[i+1:]
			return a, nil
		case strings.HasPrefix(w, "--"):
			name, val, hasVal := strings.Cut(w[2:], "=")
			if valueFlags[name] && !hasVal {
				if i+1 >= len(words) {
					return nil, fmt.Errorf("--%s needs a value", name)
				}
				i++
				val = words[i]
			}
			a.flags[name] = val
		default:
			a.pos = append(a.pos, w)
		}
	}
	return a, nil
}

func (a *args) has(flag string) bool { _, ok := a.flags[flag]; return ok }

// splitWords splits like a shell: spaces separate, quotes group, a
// backslash escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}

func (m *Model) isBranch(name string) bool {
	for _, b := range m.branches {
		if b.Name == name {
			return true
		}
	}
	return false
}

func cmdLock(m *Model, a *args) (tea.Cmd, error) {
	branch, words := m.branch, a.pos
	if len(words) > 0 && m.isBranch(words[0]) {
		branch, words = words[0], words[1:]
	}
	msg := strings.Join(append(words, a.rest...), " ")
	if msg == "" {
		m.dialog = newLockDialog(m.c, branch, func(s string) tea.Cmd { return m.lock(branch, s) })
		return nil, nil
	}
	return m.lock(branch, msg), nil
}

func cmdUnlock(m *Model, a *args) (tea.Cmd, error) {
	branch := m.branch
	if len(a.pos) > 0 {
		branch = a.pos[0]
	}
	return m.unlock(branch, a.has("force")), nil
}

func cmdSnap(kind journal.Kind) func(*Model, *args) (tea.Cmd, error) {
	return func(m *Model, a *args) (tea.Cmd, error) {
		if len(a.pos) != 1 || a.flags["to"] == "" {
			return nil, errors.New("give one local FILE and --to PATH")
		}
		if err := journal.ValidTargetPath(a.flags["to"]); err != nil {
			return nil, err
		}
		mode, err := parseMode(a.flags["mode"])
		if err != nil {
			return nil, err
		}
		owner, group := splitOwner(a.flags["owner"])
		req := stageRequest{local: a.pos[0], StageRequest: engine.StageRequest{
			Kind: kind, Path: a.flags["to"], Mode: mode, Owner: owner, Group: group}}
		return m.stage(m.branch, req), nil
	}
}

func cmdExec(m *Model, a *args) (tea.Cmd, error) {
	words := append(a.pos, a.rest...)
	if len(words) == 0 {
		return nil, errors.New("which command?")
	}
	g := journal.Guard{Creates: a.flags["creates"], Unless: a.flags["unless"]}
	if g.Creates != "" {
		if err := journal.ValidTargetPath(g.Creates); err != nil {
			return nil, fmt.Errorf("--creates: %w", err)
		}
	}
	req := stageRequest{StageRequest: engine.StageRequest{Kind: journal.KindExec, Command: strings.Join(words, " "), Guard: g}}
	return m.stage(m.branch, req), nil
}

func cmdReboot(m *Model, _ *args) (tea.Cmd, error) {
	return m.stage(m.branch, stageRequest{StageRequest: engine.StageRequest{Kind: journal.KindReboot}}), nil
}

func cmdDrop(m *Model, a *args) (tea.Cmd, error) {
	if len(a.pos) != 1 {
		return nil, errors.New("which staged entry?")
	}
	n, err := strconv.Atoi(a.pos[0])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("%q is not a staged entry number", a.pos[0])
	}
	return m.drop(m.branch, n), nil
}

func cmdPlan(m *Model, a *args) (tea.Cmd, error) {
	hosts := a.pos
	if len(hosts) == 0 {
		hosts = m.hosts.selection()
	}
	return m.plan(engine.PlanRequest{Branch: m.branch, Hosts: hosts}), nil
}

// planLoadedMsg brings a saved plan named on the command line, and what
// to ask about it.
type planLoadedMsg struct {
	plan *engine.Plan
	then string // "approve" or "push"
	err  error
}

// withPlan runs ask on the plan named by the first argument (loading it
// in a command when it is not the one on screen) or the one on screen.
func withPlan(m *Model, a *args, then string) (tea.Cmd, error) {
	if len(a.pos) == 0 || (m.review.plan != nil && strings.HasPrefix(m.review.plan.ID, a.pos[0])) {
		if m.review.plan == nil {
			return nil, errors.New("no plan on screen; give a plan id or press p")
		}
		m.askAbout(m.review.plan, then, a)
		return nil, nil
	}
	b, id := m.backend, a.pos[0]
	return func() tea.Msg {
		p, err := b.GetPlan(id)
		return planLoadedMsg{plan: p, then: then, err: err}
	}, nil
}

// askAbout opens the approve or push confirmation, with toggles preset
// from the command's flags.
func (m *Model) askAbout(p *engine.Plan, then string, a *args) {
	if then == "approve" {
		m.askApprove(p)
		if d, ok := m.dialog.(*confirmDialog); ok && a != nil {
			d.opts.KeepLock = a.has("keep-lock")
		}
		return
	}
	m.askPush(p)
	if d, ok := m.dialog.(*confirmDialog); ok && a != nil {
		d.opts.AllowReboot = a.has("allow-reboot")
	}
}

func cmdApprove(m *Model, a *args) (tea.Cmd, error) { return withPlan(m, a, "approve") }
func cmdPush(m *Model, a *args) (tea.Cmd, error)    { return withPlan(m, a, "push") }

func cmdUp(m *Model, a *args) (tea.Cmd, error) {
	hosts := a.pos
	if len(hosts) == 0 {
		hosts = m.hosts.selection()
	}
	who := "every host of " + m.branch
	if len(hosts) > 0 {
		who = strings.Join(hosts, ", ")
	}
	req := engine.PlanRequest{Branch: m.branch, Hosts: hosts}
	m.dialog = newConfirm(m.c, "Plan, approve and push in one go?", []string{
		"Dry-runs, commits what is staged on " + m.branch + " and pushes it to",
		cut(who, 70) + " without showing you the plan first.",
		"p then a then P lets you review each step instead.",
	}, "up", func(o confirmOptions) tea.Cmd {
		m.focusView(viewPush)
		return m.up(req, engine.PushOptions{AllowReboot: o.AllowReboot})
	}).withToggle("r", "allow reboots", func(o *confirmOptions) *bool { return &o.AllowReboot })
	if a.has("allow-reboot") {
		m.dialog.(*confirmDialog).opts.AllowReboot = true
	}
	return nil, nil
}

func cmdFork(m *Model, a *args) (tea.Cmd, error) {
	if len(a.pos) < 1 || len(a.pos) > 2 {
		return nil, errors.New("name the new branch")
	}
	from := m.branch
	if len(a.pos) == 2 {
		from = a.pos[1]
	}
	return m.fork(from, a.pos[0]), nil
}

func cmdMigrate(m *Model, a *args) (tea.Cmd, error) {
	if len(a.pos) != 2 {
		return nil, errors.New("give HOST and BRANCH")
	}
	return m.migrate(a.pos[0], a.pos[1]), nil
}

func cmdAssign(m *Model, a *args) (tea.Cmd, error) {
	if len(a.pos) != 2 {
		return nil, errors.New("give HOST and BRANCH")
	}
	return m.assign(a.pos[0], a.pos[1]), nil
}

func cmdAdd(m *Model, a *args) (tea.Cmd, error) {
	if len(a.pos) != 1 {
		return nil, errors.New("give one address")
	}
	req := engine.AddHostRequest{Addr: a.pos[0], Name: a.flags["name"], User: a.flags["user"]}
	if p := a.flags["port"]; p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--port %q is not a port", p)
		}
		req.Port = n
	}
	return m.addHost(req), nil
}

func cmdBranch(m *Model, a *args) (tea.Cmd, error) {
	if len(a.pos) != 1 {
		return nil, errors.New("which branch?")
	}
	if len(m.branches) > 0 && !m.isBranch(a.pos[0]) {
		return nil, fmt.Errorf("no branch %q (:fork %s makes it)", a.pos[0], a.pos[0])
	}
	return m.setBranch(a.pos[0]), nil
}

func cmdReport(m *Model, a *args) (tea.Cmd, error) {
	if len(a.pos) != 1 {
		return nil, errors.New("which host?")
	}
	return m.report(a.pos[0]), nil
}

func cmdView(v view) func(*Model, *args) (tea.Cmd, error) {
	return func(m *Model, _ *args) (tea.Cmd, error) { m.focusView(v); return nil, nil }
}

func cmdTheme(m *Model, a *args) (tea.Cmd, error) {
	if len(a.pos) != 1 {
		return nil, errors.New("which theme?")
	}
	name := a.pos[0]
	return func() tea.Msg {
		data, err := readTheme(name)
		return themeMsg{name: name, data: data, err: err}
	}, nil
}

func cmdHelp(m *Model, _ *args) (tea.Cmd, error) { m.help = newHelpView(m.c, m.focus); return nil, nil }

func cmdQuit(m *Model, _ *args) (tea.Cmd, error) { return m.quit(), nil }

package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/store"
)

// dialog is a modal on top of the panes: it gets every key until done.
type dialog interface {
	// Update handles a message; done closes the dialog, cmd runs after.
	Update(msg tea.Msg) (done bool, cmd tea.Cmd)
	// View is the dialog box at most w cells wide.
	View(w int) string
}

// overlay draws box centred over screen (w×h cells).
func overlay(screen, box string, w, h int) string {
	lines := strings.Split(screen, "\n")
	boxLines := strings.Split(box, "\n")
	bw := lipgloss.Width(box)
	x := max((w-bw)/2, 0)
	y := max((h-len(boxLines))/2, 0)
	for i, bl := range boxLines {
		row := y + i
		if row >= len(lines) {
			break
		}
		base := lines[row]
		left := ansi.Cut(base, 0, x)
		if pad := x - ansi.StringWidth(left); pad > 0 {
			left += strings.Repeat(" ", pad)
		}
		lines[row] = left + "\x1b[m" + bl + "\x1b[m" + ansi.Cut(base, x+bw, w)
	}
	return strings.Join(lines, "\n")
}

// frame wraps dialog content in the theme's dialog box. Long sentences
// wrap; on a screen too short for the box, lines go from the middle of the
// body so the title and the answer keys at the bottom stay visible.
func frame(c *Common, title string, w int, body []string) string {
	inner := max(w-4, 10)
	var wrapped []string
	for _, l := range body {
		wrapped = append(wrapped, strings.Split(ansi.Wrap(l, inner, " "), "\n")...)
	}
	if room := c.Height - 4; c.Height > 0 && len(wrapped)+2 > room {
		keep := max(room-2-3, 1) // title, blank; "…" and the last two lines
		tail := wrapped[max(len(wrapped)-2, keep):]
		wrapped = append(append(wrapped[:keep:keep], c.Theme.Muted.Render("…")), tail...)
	}
	lines := append([]string{c.Theme.DialogTitle.Render(cut(title, inner)), ""}, wrapped...)
	return c.Theme.Dialog.Width(inner + 4).Render(strings.Join(lines, "\n"))
}

// confirmOptions are the toggles a confirmation may offer.
type confirmOptions struct {
	AllowReboot bool
	KeepLock    bool
}

type toggle struct {
	key, label string
	val        *bool
}

// confirmDialog asks before anything irreversible, saying exactly what
// will happen.
type confirmDialog struct {
	c       *Common
	title   string
	body    []string
	yes     string
	opts    confirmOptions
	toggles []toggle
	onYes   func(confirmOptions) tea.Cmd
}

func newConfirm(c *Common, title string, body []string, yes string, onYes func(confirmOptions) tea.Cmd) *confirmDialog {
	return &confirmDialog{c: c, title: title, body: body, yes: yes, onYes: onYes}
}

func (d *confirmDialog) withToggle(key, label string, val func(*confirmOptions) *bool) *confirmDialog {
	d.toggles = append(d.toggles, toggle{key: key, label: label, val: val(&d.opts)})
	return d
}

func (d *confirmDialog) Update(msg tea.Msg) (bool, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	switch k.String() {
	case "y", "enter":
		return true, d.onYes(d.opts)
	case "n", "esc", "q", "ctrl+c":
		return true, nil
	}
	for _, t := range d.toggles {
		if k.String() == t.key {
			*t.val = !*t.val
		}
	}
	return false, nil
}

func (d *confirmDialog) View(w int) string {
	t := d.c.Theme
	body := append([]string(nil), d.body...)
	if len(d.toggles) > 0 {
		body = append(body, "")
		for _, tg := range d.toggles {
			v := t.Muted.Render("no")
			if *tg.val {
				v = t.Warn.Render("yes")
			}
			body = append(body, t.Key.Render(tg.key)+" "+tg.label+": "+v)
		}
	}
	body = append(body, "", t.ButtonFocused.Render("y "+d.yes)+"  "+t.Button.Render("n cancel"))
	return frame(d.c, d.title, w, body)
}

// lockDialog asks for the lock message: ISconf's "why are you changing
// this", shown to everyone else while you hold the lock.
type lockDialog struct {
	c      *Common
	branch string
	in     textinput.Model
	err    string
	submit func(string) tea.Cmd
}

func newLockDialog(c *Common, branch string, submit func(string) tea.Cmd) *lockDialog {
	in := textinput.New()
	in.Prompt = "message: "
	in.Placeholder = "why you are changing " + branch
	in.SetStyles(inputStyles(c.Theme))
	in.Focus()
	return &lockDialog{c: c, branch: branch, in: in, submit: submit}
}

func (d *lockDialog) Update(msg tea.Msg) (bool, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "esc", "ctrl+c":
			return true, nil
		case "enter":
			v := strings.TrimSpace(d.in.Value())
			if v == "" {
				d.err = "a lock needs a message: others see it while you hold the lock"
				return false, nil
			}
			return true, d.submit(v)
		}
	}
	var cmd tea.Cmd
	before := d.in.Value()
	d.in, cmd = d.in.Update(msg)
	if d.in.Value() != before {
		d.err = "" // being fixed: the complaint goes
	}
	return false, cmd
}

func (d *lockDialog) View(w int) string {
	d.in.SetWidth(max(w-16, 10))
	body := []string{
		"Staging on " + d.branch + " needs its lock; others cannot stage",
		"until you approve or unlock.",
		"",
		d.in.View(),
	}
	if d.err != "" {
		body = append(body, d.c.Theme.Error.Render(d.err))
	}
	body = append(body, "", d.c.Theme.Muted.Render("enter lock · esc cancel"))
	return frame(d.c, "Lock "+d.branch, w, body)
}

// newTrustDialog asks whether to trust a host key the operator has not
// seen before, showing the fingerprint to compare out of band.
func newTrustDialog(c *Common, name, addr, fingerprint string, onYes func() tea.Cmd) *confirmDialog {
	t := c.Theme
	return newConfirm(c, "Accept a new host key?", []string{
		fmt.Sprintf("%s (%s) presented a key that is not in known_hosts:", name, addr),
		"",
		"  " + t.Bold.Render(fingerprint),
		"",
		"Compare it with the host's console (ssh-keygen -lf",
		"/etc/ssh/ssh_host_ed25519_key.pub) before accepting.",
		"Accepting lets discoterm plan and push to this host.",
	}, "accept key", func(confirmOptions) tea.Cmd { return onYes() })
}

// reportDialog lists a host's recent run results (disco's report).
type reportDialog struct {
	c       *Common
	host    string
	results []store.RunResult
	nav     listNav
	drift   []string // the host's last drift check (driftDetail)
}

func newReportDialog(c *Common, host string, rs []store.RunResult) *reportDialog {
	d := &reportDialog{c: c, host: host, results: rs}
	d.nav.cursor = len(rs) - 1
	return d
}

const reportRows = 12

func (d *reportDialog) Update(msg tea.Msg) (bool, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	switch k.String() {
	case "esc", "q", "enter", "ctrl+c":
		return true, nil
	}
	d.nav.handle(k, d.c.Keys, len(d.results), reportRows)
	return false, nil
}

func (d *reportDialog) View(w int) string {
	t := d.c.Theme
	body := d.drift
	if len(body) > 0 {
		body = append(body[:len(body):len(body)], "")
	}
	if len(d.results) == 0 {
		body = append(body, t.Muted.Render("nothing was ever applied to this host"))
	}
	d.nav.clamp(len(d.results), reportRows)
	from, to := d.nav.window(len(d.results), reportRows)
	for i := from; i < to; i++ {
		r := d.results[i]
		res := r.Result
		switch res {
		case "ok":
			res = t.Ok.Render(res)
		case "skipped":
			res = t.Muted.Render(res)
		default:
			res = t.Error.Render(res)
		}
		line := fmt.Sprintf("%s #%-4d %-8s %s %s", r.Time.Format("01-02 15:04"), r.Seq, r.Kind, fit(res, 8), r.Summary)
		if i == d.nav.cursor {
			line = t.Selected.Render(fit(ansi.Strip(line), w-4))
		}
		body = append(body, line)
	}
	if c := d.nav.cursor; c < len(d.results) && d.results[c].Output != "" {
		body = append(body, "", t.Muted.Render("output:"))
		for _, l := range lastLines(d.results[c].Output, 4) {
			body = append(body, "  "+l)
		}
	}
	body = append(body, "", t.Muted.Render("↑/↓ move · esc close"))
	return frame(d.c, "Results on "+d.host, w, body)
}

// lastLines keeps the tail of remote output, where errors usually are.
func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return lines
}

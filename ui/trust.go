package ui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
)

// Trusting host keys: T on the host under the cursor, or on the selected
// hosts. Which hosts may be trusted, and why the others may not, is the
// engine's rule (engine.TrustCandidates, as trust --all-scanned uses);
// each is then trusted through the same engine call as `trust`.

// trustKey is T in the hosts view.
func (m *Model) trustKey() tea.Cmd {
	all := m.hosts.views()
	if sel := m.hosts.markedViews(); len(sel) > 0 {
		m.dialog = newTrustManyDialog(m.c, engine.TrustCandidates(sel, all), m.trustMany)
		return nil
	}
	r := m.hosts.current()
	if c := engine.TrustCandidates([]engine.HostView{r.HostView}, all)[0]; c.Refused != "" {
		m.flash(engine.LevelWarn, "T: "+c.Name+" is not trusted: "+c.Refused)
		return nil
	}
	m.dialog = newTrustDialog(m.c, r.displayName(), r.Addr, r.HostKey, func() tea.Cmd { return m.trust(r.ID, r.displayName(), r.HostKey) })
	return nil
}

// views are every host, as the engine gave them.
func (p *hostsPane) views() []engine.HostView {
	out := make([]engine.HostView, 0, len(p.rows))
	for _, r := range p.rows {
		out = append(out, r.HostView)
	}
	return out
}

// markedViews are the marked hosts in name order.
func (p *hostsPane) markedViews() []engine.HostView {
	var out []engine.HostView
	for _, r := range p.rows {
		if p.marked[r.ID] {
			out = append(out, r.HostView)
		}
	}
	slices.SortFunc(out, func(a, b engine.HostView) int {
		return engine.NaturalCompare((&hostRow{HostView: a}).displayName(), (&hostRow{HostView: b}).displayName())
	})
	return out
}

// trustMany trusts each candidate in turn, as trust --all-scanned does.
func (m *Model) trustMany(cs []engine.TrustCandidate) tea.Cmd {
	b := m.backend
	what := fmt.Sprintf("trust %s", engine.Plural(len(cs), "host key"))
	return m.op(what, fmt.Sprintf("trusted %s", engine.Plural(len(cs), "host")), func() error {
		var failed []string
		for _, c := range cs {
			if err := b.TrustHost(c.ID, c.Fingerprint); err != nil {
				failed = append(failed, c.Name+": "+err.Error())
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("%d of %d not trusted: %s", len(failed), len(cs), strings.Join(failed, "; "))
		}
		return nil
	})
}

// trustManyDialog lists every selected host: those that may be trusted
// with the fingerprint (and MAC, machine-id) to compare out of band, the
// others refused with the reason. y trusts the first kind only.
type trustManyDialog struct {
	c      *Common
	cands  []engine.TrustCandidate
	ok     []engine.TrustCandidate
	offset int
	onYes  func([]engine.TrustCandidate) tea.Cmd
}

func newTrustManyDialog(c *Common, cands []engine.TrustCandidate, onYes func([]engine.TrustCandidate) tea.Cmd) *trustManyDialog {
	d := &trustManyDialog{c: c, cands: cands, onYes: onYes}
	for _, h := range cands {
		if h.Refused == "" {
			d.ok = append(d.ok, h)
		}
	}
	return d
}

func (d *trustManyDialog) Update(msg tea.Msg) (bool, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	switch k.String() {
	case "y", "enter":
		if len(d.ok) == 0 {
			return true, nil
		}
		return true, d.onYes(d.ok)
	case "n", "esc", "q", "ctrl+c":
		return true, nil
	}
	var nav listNav
	nav.cursor = d.offset
	if nav.handle(k, d.c.Keys, 1<<30, 1) {
		d.offset = max(nav.cursor, 0) // clamped to the lines in View
	}
	return false, nil
}

// lines is the list, wrapped to w cells (so the scrolling counts what
// is drawn): per host its name and address, MAC and machine-id, then the
// fingerprint or why it is refused.
func (d *trustManyDialog) lines(w int) []string {
	t := d.c.Theme
	var out []string
	add := func(lead, text string, style func(...string) string) {
		for i, l := range wrapLines(text, w-len(lead)) {
			if i > 0 {
				lead = strings.Repeat(" ", len(lead))
			}
			out = append(out, lead+style(l))
		}
	}
	for _, h := range d.cands {
		mark, title := t.Ok.Render("✓ "), h.Name
		if h.Refused != "" {
			mark = t.Error.Render("✗ ")
		}
		if h.Addr != "" && h.Addr != h.Name {
			title += "  " + h.Addr
		}
		add(mark, title, t.Bold.Render)
		var ids []string
		if h.MAC != "" {
			ids = append(ids, "MAC "+h.MAC)
		}
		if h.MachineID != "" {
			ids = append(ids, "machine-id "+h.MachineID)
		}
		if len(ids) > 0 {
			add("    ", strings.Join(ids, "  "), t.Muted.Render)
		}
		if h.Refused != "" {
			add("    ", "refused: "+h.Refused, t.Error.Render)
			continue
		}
		add("    ", h.Fingerprint, t.Bold.Render)
	}
	return out
}

func (d *trustManyDialog) View(w int) string {
	t := d.c.Theme
	inner := max(w-4, 10)
	n, refused := len(d.cands), len(d.cands)-len(d.ok)
	var body []string
	if len(d.ok) > 0 {
		body = append(body, fmt.Sprintf("%d of %d selected hosts offer a key that is not in known_hosts. Compare each fingerprint with the host's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before accepting.", len(d.ok), n))
	} else {
		body = append(body, fmt.Sprintf("None of the %d selected hosts can be trusted by accepting the key it offers:", n))
	}
	body = append(body, "")
	list := d.lines(inner)
	// The whole list, scrolled if the screen is short: every fingerprint
	// can be read before y.
	room := len(list)
	if d.c.Height > 0 {
		room = max(d.c.Height-14, 3)
	}
	if len(list) > room {
		d.offset = min(d.offset, len(list)-room)
		body = append(body, list[d.offset:d.offset+room]...)
		body = append(body, t.Muted.Render(fmt.Sprintf("lines %d–%d of %d · ↑/↓ scroll", d.offset+1, d.offset+room, len(list))))
	} else {
		d.offset = 0
		body = append(body, list...)
	}
	body = append(body, "")
	if len(d.ok) == 0 {
		body = append(body, t.Button.Render("esc close"))
		return frame(d.c, "No host key to accept", w, body)
	}
	if refused > 0 {
		note := "The refused host is not trusted."
		if refused > 1 {
			note = fmt.Sprintf("The %d refused hosts are not trusted.", refused)
		}
		body = append(body, t.Warn.Render(note), "")
	}
	body = append(body, t.ButtonFocused.Render("y accept "+engine.Plural(len(d.ok), "key"))+"  "+t.Button.Render("n cancel"))
	return frame(d.c, fmt.Sprintf("Accept %s?", engine.Plural(len(d.ok), "host key")), w, body)
}

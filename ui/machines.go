package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/verbs"
)

// machinesReadEvery bounds re-reading the machines while boot events
// stream in.
const machinesReadEvery = time.Second

// machinesPane is the netboot machines with the stage each has reached
// (engine.MachineViews: one derivation for every face), and the boot
// history of the one under the cursor.
type machinesPane struct {
	c     *Common
	w, h  int
	views []engine.MachineView
	hist  map[string][]engine.BootEvent
	err   string
	nav   listNav
	// serving is the interface the boot services run on ("" when they do
	// not run from this console).
	serving string
	// discovered are the unknown machines whose discovery boot reported
	// (provision --unknown), newest last, one per MAC: not registered.
	discovered []engine.BootEvent
}

// maxDiscovered bounds the discovery reports kept on screen.
const maxDiscovered = 8

// addDiscovered keeps an unknown machine's report (the newest per MAC).
func (p *machinesPane) addDiscovered(ev *engine.BootEvent) {
	out := p.discovered[:0]
	for _, d := range p.discovered {
		if d.MAC != ev.MAC {
			out = append(out, d)
		}
	}
	p.discovered = append(out, *ev)
	if len(p.discovered) > maxDiscovered {
		p.discovered = p.discovered[len(p.discovered)-maxDiscovered:]
	}
}

// discoveredLines are the unregistered machines that reported, for the
// operator to register.
func (p *machinesPane) discoveredLines() []string {
	if len(p.discovered) == 0 {
		return nil
	}
	t := p.c.Theme
	lines := []string{"", t.Title.Render(fit(fmt.Sprintf("discovered, not registered: %d (machine add MAC --name NAME --ip ADDR)", len(p.discovered)), p.w))}
	for _, d := range p.discovered {
		var hw []string
		for _, k := range sortedKeys(d.Hardware) {
			if k != "mac" {
				hw = append(hw, k+"="+d.Hardware[k])
			}
		}
		lines = append(lines, "  "+fit(d.MAC+" at "+d.Addr+"  "+strings.Join(hw, " "), p.w-2))
	}
	return lines
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func newMachinesPane(c *Common) *machinesPane { return &machinesPane{c: c} }

func (p *machinesPane) SetSize(w, h int) { p.w, p.h = w, h; p.nav.clamp(len(p.views), p.listHeight()) }

// listHeight is the rows the table gets; the history of the selected
// machine has the rest.
func (p *machinesPane) listHeight() int { return max(min(len(p.views), (p.h-2)/2), 1) }

func (p *machinesPane) current() (engine.MachineView, bool) {
	if p.nav.cursor < 0 || p.nav.cursor >= len(p.views) {
		return engine.MachineView{}, false
	}
	return p.views[p.nav.cursor], true
}

func (p *machinesPane) Update(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	if p.nav.handle(msg, p.c.Keys, len(p.views), p.listHeight()) {
		return true, nil
	}
	return false, nil
}

// machinesMsg brings the machines and their boot histories.
type machinesMsg struct {
	views []engine.MachineView
	hist  map[string][]engine.BootEvent
	err   error
}

// fetchMachines reads the machines with their stages and histories.
func (m *Model) fetchMachines() tea.Cmd {
	m.machinesRefresh.started()
	b, ctx := m.backend, m.ctx
	return func() tea.Msg {
		mv, ok := b.(verbs.MachineViewer)
		if !ok {
			return machinesMsg{}
		}
		vs, err := mv.MachineViews(ctx)
		hist := map[string][]engine.BootEvent{}
		if hs, ok := b.(verbs.BootHistorySource); ok && err == nil {
			for _, v := range vs {
				evs, herr := hs.BootHistory(v.Machine.Name)
				if herr != nil {
					err = herr
					break
				}
				hist[v.Machine.Name] = evs
			}
		}
		return machinesMsg{views: vs, hist: hist, err: err}
	}
}

func (p *machinesPane) apply(msg machinesMsg) {
	p.err = ""
	if msg.err != nil {
		p.err = msg.err.Error()
		return
	}
	p.views, p.hist = msg.views, msg.hist
	p.nav.clamp(len(p.views), p.listHeight())
}

// stageStyle colours a stage by how it went.
func (p *machinesPane) stageText(v engine.MachineView) string {
	t := p.c.Theme
	switch v.Stage {
	case engine.StageNoSSHD, engine.StageRefused:
		return t.Error.Render(v.Text)
	case engine.StagePosition:
		if v.Position == v.Head {
			return t.Ok.Render(v.Text)
		}
		return t.Warn.Render(v.Text)
	case engine.StageRegistered:
		return t.Muted.Render(v.Text)
	}
	return v.Text
}

// bootLine is one boot event as the history shows it.
func bootLine(ev engine.BootEvent) string {
	what := ev.Service + " " + ev.Request
	if ev.Answer != "" {
		what += " → " + ev.Answer
	}
	if ev.Addr != "" && ev.Service == "dhcp" {
		what += " " + ev.Addr
	}
	if ev.Service == "watch" {
		what = "no sshd after " + ev.Answer
	}
	if ev.Err != "" {
		what += " (" + ev.Err + ")"
	}
	return ev.Time.Format("15:04:05") + " " + what
}

func (p *machinesPane) View() string {
	t := p.c.Theme
	k := p.c.Keys
	detail := plural(len(p.views), "machine") + " · boot services "
	if p.serving != "" {
		detail += "on " + p.serving + " (" + k.StopBoot.Help().Key + " stops)"
	} else {
		detail += "off (" + k.StartBoot.Help().Key + " starts)"
	}
	lines := []string{p.c.titleLine("Machines", detail, p.w)}
	if p.err != "" {
		lines = append(lines, t.Error.Render(fit(p.err, p.w)))
	}
	if len(p.views) == 0 {
		lines = append(lines, "", t.Muted.Render(fit("  no machines registered: :machine add MAC --name NAME --ip ADDR --boot PROFILE", p.w)))
		return block(append(lines, p.discoveredLines()...), p.w, p.h)
	}
	wName, wMAC, wIP, wBranch := 8, 17, 15, 8
	lines = append(lines, t.Header.Render(fit(fmt.Sprintf("  %-*s %-*s %-*s %-*s %s", wName, "NAME", wMAC, "MAC", wIP, "IP", wBranch, "BRANCH", "STAGE"), p.w)))
	from, to := p.nav.window(len(p.views), p.listHeight())
	for i := from; i < to; i++ {
		v := p.views[i]
		m := v.Machine
		ip := "-"
		if m.IP.IsValid() {
			ip = m.IP.String()
		}
		branch := v.Branch
		if branch == "" {
			branch = m.Branch
		}
		if branch == "" {
			branch = "-"
		}
		row := fmt.Sprintf("  %s %s %s %s ", fit(m.Name, wName), fit(m.MAC.String(), wMAC), fit(ip, wIP), fit(branch, wBranch))
		if i == p.nav.cursor {
			lines = append(lines, t.Selected.Render(fit("› "+strings.TrimPrefix(row, "  ")+v.Text, p.w)))
			continue
		}
		lines = append(lines, row+p.stageText(v))
	}
	found := p.discoveredLines()
	if v, ok := p.current(); ok {
		hist := p.hist[v.Machine.Name]
		title := fmt.Sprintf("%s: %s · %s", v.Machine.Name, v.Text, plural(len(hist), "boot request"))
		lines = append(lines, "", t.Title.Render(fit(title, p.w)))
		room := p.h - len(lines) - len(found)
		var body []string
		if v.Detail != "" {
			body = append(body, wrapLines(v.Detail, p.w-2)...)
		}
		for _, ev := range hist {
			body = append(body, bootLine(ev))
		}
		if len(hist) == 0 {
			body = append(body, t.Muted.Render("no boot requests yet"))
		}
		if len(body) > room && room > 0 {
			body = body[len(body)-room:] // the newest
		}
		for _, l := range body {
			lines = append(lines, "  "+fit(l, p.w-2))
		}
	}
	return block(append(lines, found...), p.w, p.h)
}

// historyDialog shows a machine's whole boot history.
func (m *Model) historyDialog(v engine.MachineView) {
	body := []string{fmt.Sprintf("%s (%s): %s", v.Machine.Name, v.Machine.MAC, v.Text)}
	if v.Detail != "" {
		body = append(body, v.Detail)
	}
	body = append(body, "")
	for _, ev := range m.machines.hist[v.Machine.Name] {
		body = append(body, bootLine(ev))
	}
	m.dialog = newDetailDialog(m.c, "Boot history of "+v.Machine.Name, body)
}

// startBoot opens the ":" line with the provision verb: the boot
// services start as `provision` does, on the interface named there.
func (m *Model) startBoot() tea.Cmd {
	return m.input.open(inputCommand, "provision --iface ", commandNames(), m.width)
}

// stopBoot ends the boot services this console started.
func (m *Model) stopBoot() {
	if j := m.jobs[m.provisionJob]; j != nil && j.cancel != nil {
		j.cancel()
		m.flash(engine.LevelInfo, "stopping the boot services on "+m.machines.serving)
	}
}

// cmdProvision runs :provision as a job the Machines view can stop.
func cmdProvision(m *Model, c *verbs.Call) (tea.Cmd, error) {
	if m.provisionJob != "" {
		return nil, fmt.Errorf("%w: the boot services run on %s already (%s in the Machines view stops them)", engine.ErrUsage, m.machines.serving, m.c.Keys.StopBoot.Help().Key)
	}
	cmd := m.runVerb(c)
	m.provisionJob = fmt.Sprintf("ui-%d", m.jobSeq)
	m.machines.serving = strings.Join(c.List("iface"), ",")
	m.focusView(viewMachines)
	return cmd, nil
}

// machineKeys is the part of gateKeys for the Machines view.
func (m *Model) machineKeys() {
	k := m.c.Keys
	if m.provisionJob != "" {
		k.gate(&k.StartBoot, "the boot services run on "+m.machines.serving+" already")
		k.gate(&k.StopBoot, "")
	} else {
		k.gate(&k.StartBoot, "")
		k.gate(&k.StopBoot, "the boot services do not run from this console (B starts them)")
	}
	if _, ok := m.machines.current(); !ok {
		k.gate(&k.History, "no machine under the cursor")
	} else {
		k.gate(&k.History, "")
	}
}

// machineKey handles the Machines view's keys.
func (m *Model) machineKey(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	k := m.c.Keys
	for _, b := range []*key.Binding{&k.StartBoot, &k.StopBoot, &k.History} {
		if why, ok := k.refused(msg, b); ok {
			h := b.Help()
			m.flash(engine.LevelWarn, h.Key+" "+h.Desc+" — "+why)
			return true, nil
		}
	}
	switch {
	case key.Matches(msg, k.StartBoot):
		return true, m.startBoot()
	case key.Matches(msg, k.StopBoot):
		m.stopBoot()
		return true, nil
	case key.Matches(msg, k.History):
		if v, ok := m.machines.current(); ok {
			m.historyDialog(v)
		}
		return true, nil
	}
	return m.machines.Update(msg)
}

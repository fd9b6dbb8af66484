package ui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
)

// pushRow is one host's progress in a push.
type pushRow struct {
	id, name    string
	status      engine.PushStatus
	step, steps int
	from, to    uint64 // position before the push and now, as the host reported
	done        int    // entries the host reported ok or skipped (applied and recorded)
	err         string
	output      string      // remote output of the last entry that reported
	usage       store.Usage // summed over the exec entries that reported it (PeakMem: the largest)
	measured    int         // how many did
}

// addUsage sums an entry's per-step metrics into the row.
func (r *pushRow) addUsage(u *store.Usage) {
	if u == nil {
		return
	}
	r.measured++
	r.usage.UserCPU += u.UserCPU
	r.usage.SysCPU += u.SysCPU
	r.usage.ReadChars += max(u.ReadChars, 0)
	r.usage.WriteChars += max(u.WriteChars, 0)
	r.usage.PeakMem = max(r.usage.PeakMem, u.PeakMem)
}

// usageLine is the row's per-step metrics for the detail area.
func (r *pushRow) usageLine() string {
	peak := "peak mem n/a" // the host has no writable cgroup v2 to measure it
	if r.usage.PeakMem > 0 {
		peak = "peak mem " + bytesText(r.usage.PeakMem)
	}
	return fmt.Sprintf(" %s used: CPU %.2fs user + %.2fs sys, read %s, wrote %s, %s (%s)", r.name, r.usage.UserCPU.Seconds(), r.usage.SysCPU.Seconds(),
		bytesText(r.usage.ReadChars), bytesText(r.usage.WriteChars), peak, plural(r.measured, "command"))
}

func bytesText(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// applied counts the entries this push applied on the host.
func (r *pushRow) applied() int { return r.done }

// Push table columns.
const (
	pcHost = iota
	pcStatus
	pcAt
	pcProgress
	pcError
)

var pushColumns = []column{
	pcHost:     {title: "HOST", min: 10, want: 14, max: 24, prio: 0},
	pcStatus:   {title: "STATUS", min: 14, max: 14, prio: 0},
	pcAt:       {title: "AT", min: 4, max: 6, prio: 1, right: true},
	pcProgress: {title: "ENTRIES", min: 7, max: 9, prio: 2},
	pcError:    {title: "DETAIL", min: 10, want: 40, max: 400, prio: 3},
}

// pushOrder lists statuses in the order totals show them.
var pushOrder = []engine.PushStatus{
	engine.PushFailed, engine.PushRolledBack, engine.PushStale, engine.PushUnreach, engine.PushRebootHold, engine.PushCancelled,
	engine.PushNotStarted, engine.PushApplying, engine.PushWaiting, engine.PushDone, engine.PushRebooting, engine.PushNothing,
}

// pushPane follows a push host by host, then shows its result.
type pushPane struct {
	c          *Common
	w, h       int
	planID     string
	rows       []*pushRow
	byID       map[string]*pushRow
	nav        listNav
	running    bool
	cancelling bool
	waves      pushWaves // ui/waves.go
	totals     map[engine.PushStatus]int
	dirty      bool
	widths     []int
}

func newPushPane(c *Common) *pushPane {
	return &pushPane{c: c, byID: map[string]*pushRow{}, totals: map[engine.PushStatus]int{}}
}

func (p *pushPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.widths = layout(pushColumns, w-2)
	p.nav.clamp(len(p.rows), p.tableHeight())
}

// start lays out a push of plan: every host waiting, or up to date.
func (p *pushPane) start(plan *engine.Plan) {
	p.planID, p.running, p.cancelling = plan.ID, true, false
	p.rows = p.rows[:0]
	clear(p.byID)
	for _, h := range plan.Hosts {
		r := &pushRow{id: h.HostID, name: h.Name, status: engine.PushWaiting, steps: h.Pending(), from: h.Position, to: h.Position}
		if r.name == "" {
			r.name = h.HostID
		}
		switch {
		case h.Err != "":
			r.status, r.err = engine.PushUnreach, h.Err
		case h.Pending() == 0:
			r.status = engine.PushNothing
		}
		p.rows = append(p.rows, r)
		p.byID[h.HostID] = r
	}
	slices.SortFunc(p.rows, func(a, b *pushRow) int { return engine.NaturalCompare(a.name, b.name) })
	p.nav = listNav{}
	p.dirty = true
}

// apply folds a push event into its host's row.
// Events that arrive after the push's result (the result and the event
// stream race) are ignored: the result is final.
func (p *pushPane) apply(ev engine.Event) {
	switch ev := ev.(type) {
	case *engine.PushHostEvent:
		r := p.row(ev.PlanID, ev.HostID)
		if r == nil {
			return
		}
		r.status = ev.Status
		if ev.Steps > 0 {
			r.step, r.steps = ev.Step, ev.Steps
		}
		if ev.Err != "" {
			r.err = ev.Err
		}
		if ev.Position > 0 && r.status != engine.PushApplying && r.status != engine.PushWaiting {
			r.to = ev.Position // the final event carries the host's position
		}
	case *engine.PushEntryEvent:
		r := p.row(ev.PlanID, ev.HostID)
		if r == nil {
			return
		}
		if ev.Output != "" {
			r.output = ev.Output
		}
		r.addUsage(ev.Usage)
		if ev.Step > 0 {
			r.step = ev.Step
		}
		if ev.Result == "ok" || ev.Result == "skipped" {
			r.done++
			r.to = ev.Seq
		}
	default:
		return
	}
	p.dirty = true
}

// row is the row of a host of the push on screen, nil for other pushes.
func (p *pushPane) row(planID, hostID string) *pushRow {
	if !p.running || (planID != "" && planID != p.planID) {
		return nil
	}
	return p.byID[hostID]
}

// setResult replaces the live view with the push's final result.
func (p *pushPane) setResult(res *engine.PushResult) {
	for _, h := range res.Hosts {
		r := p.byID[h.HostID]
		if r == nil {
			r = &pushRow{id: h.HostID, name: h.Name}
			p.rows = append(p.rows, r)
			p.byID[h.HostID] = r
		}
		r.status, r.err = h.Status, h.Err
		r.step = len(h.Entries)
		r.from, r.to, r.done = h.From, h.To, 0
		r.usage, r.measured = store.Usage{}, 0
		for _, e := range h.Entries {
			r.addUsage(e.Usage)
			if e.Result == "ok" || e.Result == "skipped" {
				r.done++
			}
			if e.Output != "" && (e.Result != "ok" || r.output == "") {
				r.output = e.Output
			}
		}
	}
	p.running = false
	p.dirty = true
}

func (p *pushPane) prepare() {
	if !p.dirty {
		return
	}
	p.dirty = false
	clear(p.totals)
	for _, r := range p.rows {
		p.totals[r.status]++
	}
	p.nav.clamp(len(p.rows), p.tableHeight())
}

// progress is the one-line count of where the push stands.
func (p *pushPane) progress() string {
	p.prepare()
	var parts []string
	for _, s := range pushOrder {
		if n := p.totals[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// detailHeight is the room under the table for the cursor host's error
// and output.
func (p *pushPane) detailHeight() int {
	if r := p.current(); r != nil && (r.err != "" || r.output != "" || r.measured > 0) {
		return min(7, p.h/3)
	}
	return 0
}

func (p *pushPane) tableHeight() int { return max(p.h-3-p.detailHeight(), 1) }

func (p *pushPane) current() *pushRow {
	if p.nav.cursor < len(p.rows) {
		return p.rows[p.nav.cursor]
	}
	return nil
}

func (p *pushPane) Update(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	return p.nav.handle(msg, p.c.Keys, len(p.rows), p.tableHeight()), nil
}

func (p *pushPane) statusStyle(s engine.PushStatus) lipgloss.Style {
	t := p.c.Theme
	switch s {
	case engine.PushDone:
		return t.Ok
	case engine.PushFailed, engine.PushUnreach, engine.PushRolledBack:
		return t.Error
	case engine.PushStale, engine.PushCancelled, engine.PushRebootHold, engine.PushRebooting:
		return t.Warn
	case engine.PushApplying:
		return t.Info
	}
	return t.Muted
}

func (p *pushPane) View() string {
	t := p.c.Theme
	if p.planID == "" {
		return block([]string{p.c.titleLine("Push", "nothing pushed yet", p.w),
			t.Muted.Render(" P pushes an approved plan; progress shows here host by host.")}, p.w, p.h)
	}
	state := "finished"
	switch {
	case p.cancelling && p.running:
		state = "cancelling — hosts finish their current entry"
	case p.running:
		state = "running — x stops it"
	}
	if ws := p.waveState(); ws != "" {
		state = ws
	}
	lines := []string{
		p.c.titleLine("Push", p.planID+" · "+plural(len(p.rows), "host")+" · "+state, p.w),
		" " + p.totalsLine(),
		t.Header.Render("  " + header(pushColumns, p.widths)),
	}
	from, to := p.nav.window(len(p.rows), p.tableHeight())
	cells := make([]string, len(pushColumns))
	for i := from; i < to; i++ {
		r := p.rows[i]
		sel := i == p.nav.cursor
		cells[pcHost] = r.name
		cells[pcStatus] = strings.ReplaceAll(string(r.status), "-", " ")
		cells[pcAt] = fmt.Sprint(r.to)
		cells[pcProgress] = ""
		if r.steps > 0 {
			cells[pcProgress] = fmt.Sprintf("%d/%d", r.done, r.steps)
			if r.status == engine.PushApplying {
				cells[pcStatus] = fmt.Sprintf("applying %d/%d", r.step, r.steps)
			}
		}
		cells[pcError] = firstLine(r.err)
		row := "  " + renderCells(pushColumns, p.widths, cells)
		if sel {
			row = t.Selected.Render(fit("› "+renderCells(pushColumns, p.widths, cells), p.w))
		} else {
			cells[pcStatus] = p.statusStyle(r.status).Render(cells[pcStatus])
			cells[pcError] = t.Error.Render(cells[pcError])
			row = "  " + renderCells(pushColumns, p.widths, cells)
		}
		lines = append(lines, row)
	}
	for len(lines) < 3+p.tableHeight() {
		lines = append(lines, "")
	}
	if dh := p.detailHeight(); dh > 0 {
		r := p.current()
		d := []string{t.Muted.Render(strings.Repeat("─", p.w))}
		if r.err != "" {
			d = append(d, t.Error.Render(" "+r.name+": "+firstLine(r.err)))
		}
		if r.measured > 0 {
			d = append(d, t.Muted.Render(fit(r.usageLine(), p.w)))
		}
		if r.output != "" {
			d = append(d, t.Muted.Render(" remote output:"))
			for _, l := range lastLines(r.output, dh-len(d)-1) {
				d = append(d, "   "+l)
			}
		}
		lines = append(lines, d[:min(len(d), dh)]...)
	}
	return block(lines, p.w, p.h)
}

func (p *pushPane) totalsLine() string {
	var parts []string
	for _, s := range pushOrder {
		if n := p.totals[s]; n > 0 {
			parts = append(parts, p.statusStyle(s).Render(fmt.Sprintf("%s %s", count(n), s)))
		}
	}
	return strings.Join(parts, p.c.Theme.Muted.Render(" · "))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

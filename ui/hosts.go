package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/engine"
)

// Host states as the hosts table shows them.
const (
	stateAlive     = "alive"
	stateLost      = "lost"
	stateNew       = "new"
	stateUntrusted = "untrusted"
)

// hostRow is one host with what the table derives for display, computed
// once per change rather than once per frame.
type hostRow struct {
	engine.HostView
	state string
	cells map[string]string // every column as shown, by lower-case title, for /
	push  string            // live push status, e.g. "applying 2/5"; "" when not pushing
}

func newHostRow(h engine.HostView) *hostRow {
	r := &hostRow{HostView: h}
	r.derive()
	return r
}

// derive recomputes state and the search key after fields changed.
func (r *hostRow) derive() {
	switch {
	case r.HostKey != "" && !r.Trusted:
		r.state = stateUntrusted
	case r.Liveness == "lost" || r.Liveness == "gone":
		r.state = stateLost
	case r.StateSeen.IsZero():
		r.state = stateNew
	default:
		r.state = stateAlive
	}
	r.cells = map[string]string{
		"state": r.state, "name": r.displayName(), "address": strings.Join(append([]string{r.Addr}, r.Addrs...), " "),
		"mac": r.MAC, "branch": r.Branch, "position": r.position(), "drift": r.drift(), "rtt": rtt(r.RTT), "window": windowCell(r.HostView), "last result": r.result(),
	}
}

func (r *hostRow) displayName() string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

// position is where the host stands against its branch head.
func (r *hostRow) position() string {
	switch {
	case r.Branch == "":
		return "unassigned"
	case r.Behind > 0:
		return fmt.Sprintf("%d behind %d", r.Position, r.Behind)
	}
	return fmt.Sprintf("%d ✓", r.Position)
}

func (r *hostRow) result() string {
	if r.push != "" {
		return r.push
	}
	res := r.LastResult
	if r.LastError != "" {
		res = r.LastResult + ": " + r.LastError
	}
	if r.Prepared != nil { // a prepared push, armed or collected
		res = preparedText(r.Prepared, r.LastError)
	}
	// Doubts about who the host is (a shared machine-id, a rename) come
	// first: they matter before any result does.
	if len(r.Warnings) > 0 {
		w := "⚠ " + strings.Join(r.Warnings, "; ")
		if res != "" {
			return w + " · " + res
		}
		return w
	}
	return res
}

// Host table columns, in display order.
const (
	hcState = iota
	hcName
	hcAddr
	hcMAC
	hcBranch
	hcPos
	hcDrift
	hcRTT
	hcSeen
	hcWindow
	hcResult
)

var hostColumns = []column{
	hcState:  {title: "STATE", min: 9, max: 9, prio: 1},
	hcName:   {title: "NAME", min: 10, want: 12, max: 32, prio: 0},
	hcAddr:   {title: "ADDRESS", min: 14, want: 24, max: 48, prio: 4},
	hcMAC:    {title: "MAC", min: 17, max: 17, prio: 7},
	hcBranch: {title: "BRANCH", min: 6, want: 7, max: 16, prio: 3},
	hcPos:    {title: "POSITION", min: 8, want: 11, max: 14, prio: 2},
	hcDrift:  {title: "DRIFT", min: 7, want: 8, max: 9, prio: 4},
	hcRTT:    {title: "RTT", min: 6, max: 6, prio: 8, right: true},
	hcSeen:   {title: "SEEN", min: 4, max: 4, prio: 5, right: true},
	hcWindow: {title: "WINDOW", min: 9, want: 9, max: 9, prio: 9},
	hcResult: {title: "LAST RESULT", min: 8, want: 24, max: 400, prio: 6},
}

// hostsPane is the live hosts table. It draws only the rows on screen, so
// its cost does not grow with the fleet.
type hostsPane struct {
	c      *Common
	w, h   int
	rows   []*hostRow
	byID   map[string]*hostRow
	view   []*hostRow // filtered and sorted
	nav    listNav
	marked map[string]bool
	filter string
	sortBy int
	desc   bool
	dirty  bool // view must be rebuilt
	widths []int
	need   []int // widest cell of each column, for the layout
	// windows: some host's branch has maintenance windows (else the
	// WINDOW column, all "-", gives its room to the others).
	windows bool
}

// columns is the table's columns as laid out now.
func (p *hostsPane) columns() []column {
	if p.windows {
		return hostColumns
	}
	cols := slices.Clone(hostColumns)
	cols[hcWindow].min, cols[hcWindow].want, cols[hcWindow].max = 0, 0, 0
	return cols
}

func newHostsPane(c *Common) *hostsPane {
	return &hostsPane{c: c, byID: map[string]*hostRow{}, marked: map[string]bool{}, sortBy: hcName}
}

func (p *hostsPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.widths = fitContent(p.columns(), w-2, p.need)
	p.nav.clamp(len(p.view), p.bodyHeight())
}

func (p *hostsPane) bodyHeight() int { return max(p.h-2, 1) }

// setHosts replaces the table's contents with a fresh read. Live push
// statuses survive it while a push runs.
func (p *hostsPane) setHosts(hs []engine.HostView, pushing bool) {
	old := p.byID
	p.rows = make([]*hostRow, len(hs))
	p.byID = make(map[string]*hostRow, len(hs))
	for i, h := range hs {
		r := newHostRow(h)
		if o := old[h.ID]; o != nil && pushing {
			r.push = o.push
		}
		p.rows[i] = r
		p.byID[h.ID] = r
	}
	for id := range p.marked {
		if p.byID[id] == nil {
			delete(p.marked, id)
		}
	}
	p.dirty = true
}

// applyHost puts a host's record, as its event carries it, into the
// table: no re-read of every host. A host learned or trusted replaces the
// placeholder row its MAC had while it was unknown.
func (p *hostsPane) applyHost(h engine.HostView) {
	if h.ID == "" {
		return
	}
	if ph := "mac:" + h.MAC; h.MAC != "" && ph != h.ID && p.byID[ph] != nil {
		delete(p.byID, ph)
		p.rows = slices.DeleteFunc(p.rows, func(r *hostRow) bool { return r.ID == ph })
	}
	r := p.byID[h.ID]
	if r == nil {
		r = newHostRow(h)
		p.rows = append(p.rows, r)
		p.byID[h.ID] = r
	} else {
		push := r.push
		*r = hostRow{HostView: h, push: push}
		r.derive()
	}
	p.dirty = true
}

// applyPush folds a push status into its host's row.
func (p *hostsPane) applyPush(ev *engine.PushHostEvent) {
	r := p.byID[ev.HostID]
	if r == nil {
		return
	}
	switch ev.Status {
	case engine.PushApplying:
		r.push = fmt.Sprintf("applying %d/%d", ev.Step, ev.Steps)
	case engine.PushWaiting:
		r.push = "waiting"
	case engine.PushNothing, engine.PushNotStarted:
		r.push = "" // untouched: the last result stands
	default:
		r.push = ""
		r.LastResult, r.LastError = string(ev.Status), ev.Err
	}
	r.derive()
	p.dirty = true
}

// prepare rebuilds the filtered, sorted view if anything changed. The root
// calls it at the end of Update, never from View.
func (p *hostsPane) prepare() {
	if !p.dirty {
		return
	}
	p.dirty = false
	var cur string
	if p.nav.cursor < len(p.view) {
		cur = p.view[p.nav.cursor].ID
	}
	p.view = p.view[:0]
	match := hostFilter(p.filter)
	for _, r := range p.rows {
		if match(r) {
			p.view = append(p.view, r)
		}
	}
	less := hostLess(p.sortBy)
	slices.SortStableFunc(p.view, func(a, b *hostRow) int {
		c := less(a, b)
		if c == 0 {
			c = engine.NaturalCompare(a.displayName(), b.displayName())
		}
		if p.desc {
			return -c
		}
		return c
	})
	p.measure()
	if cur != "" {
		for i, r := range p.view {
			if r.ID == cur {
				p.nav.cursor = i
				break
			}
		}
	}
	p.nav.clamp(len(p.view), p.bodyHeight())
}

// hostFilter turns the / text into a predicate over every visible
// column (see matcher); "addr:" is short for the address column.
func hostFilter(text string) func(*hostRow) bool {
	m := newMatcher(strings.ReplaceAll(text, "addr:", "address:"))
	return func(r *hostRow) bool { return m.match(r.cells) }
}

func hostLess(col int) func(a, b *hostRow) int {
	switch col {
	case hcState:
		return func(a, b *hostRow) int { return cmp.Compare(a.state, b.state) }
	case hcAddr:
		return func(a, b *hostRow) int { return engine.NaturalCompare(a.Addr, b.Addr) }
	case hcMAC:
		return func(a, b *hostRow) int { return cmp.Compare(a.MAC, b.MAC) }
	case hcBranch:
		return func(a, b *hostRow) int { return cmp.Compare(a.Branch, b.Branch) }
	case hcPos:
		return func(a, b *hostRow) int { return cmp.Compare(a.Behind, b.Behind) }
	case hcDrift:
		return func(a, b *hostRow) int { return cmp.Compare(driftCount(b), driftCount(a)) }
	case hcRTT:
		return func(a, b *hostRow) int { return cmp.Compare(a.RTT, b.RTT) }
	case hcSeen:
		return func(a, b *hostRow) int { return b.LastSeen.Compare(a.LastSeen) }
	case hcResult:
		return func(a, b *hostRow) int { return cmp.Compare(a.result(), b.result()) }
	case hcWindow:
		return func(a, b *hostRow) int { return cmp.Compare(a.cells["window"], b.cells["window"]) }
	}
	return func(a, b *hostRow) int { return engine.NaturalCompare(a.displayName(), b.displayName()) }
}

// namesOnBranch lists the hosts following a branch.
func (p *hostsPane) namesOnBranch(branch string) []string {
	var out []string
	for _, r := range p.rows {
		if r.Branch == branch {
			out = append(out, r.displayName())
		}
	}
	return out
}

// setFilter is called as the / input changes.
func (p *hostsPane) setFilter(s string) {
	if s != p.filter {
		p.filter = s
		p.dirty = true
	}
}

// current is the host under the cursor, nil when the view is empty.
func (p *hostsPane) current() *hostRow {
	if p.nav.cursor < len(p.view) {
		return p.view[p.nav.cursor]
	}
	return nil
}

// selection is what an operation acts on: the marked hosts (by name), or
// none meaning "every host of the branch".
func (p *hostsPane) selection() []string {
	var out []string
	for _, r := range p.rows {
		if p.marked[r.ID] {
			out = append(out, r.displayName())
		}
	}
	slices.SortFunc(out, engine.NaturalCompare)
	return out
}

// Update handles the hosts pane's own keys.
func (p *hostsPane) Update(msg tea.KeyPressMsg) (bool, tea.Cmd) {
	k := p.c.Keys
	switch {
	case p.nav.handle(msg, k, len(p.view), p.bodyHeight()):
	case key.Matches(msg, k.Mark):
		if r := p.current(); r != nil {
			if p.marked[r.ID] {
				delete(p.marked, r.ID)
			} else {
				p.marked[r.ID] = true
			}
			p.nav.cursor++
			p.nav.clamp(len(p.view), p.bodyHeight())
		}
	case key.Matches(msg, k.MarkAll):
		all := true
		for _, r := range p.view {
			all = all && p.marked[r.ID]
		}
		for _, r := range p.view {
			if all {
				delete(p.marked, r.ID)
			} else {
				p.marked[r.ID] = true
			}
		}
	case key.Matches(msg, k.Sort):
		p.sortBy = (p.sortBy + 1) % len(hostColumns)
		p.dirty = true
	case key.Matches(msg, k.SortBy):
		col := sortCol[msg.String()]
		if col == p.sortBy {
			p.desc = !p.desc
		} else {
			p.sortBy, p.desc = col, false
		}
		p.dirty = true
	case key.Matches(msg, k.Reverse):
		p.desc = !p.desc
		p.dirty = true
	default:
		return false, nil
	}
	return true, nil
}

// View draws the title, the column header and the visible rows.
func (p *hostsPane) View() string {
	t := p.c.Theme
	detail := fmt.Sprintf("%s of %s", count(len(p.view)), count(len(p.rows)))
	if n := len(p.marked); n > 0 {
		detail += fmt.Sprintf(" · %d selected", n)
	}
	arrow := "↑"
	if p.desc {
		arrow = "↓"
	}
	detail += fmt.Sprintf(" · sort %s %s", strings.ToLower(hostColumns[p.sortBy].title), arrow)
	if p.filter != "" {
		detail += fmt.Sprintf(" · filter %q", p.filter)
	}
	lines := make([]string, 0, p.h)
	lines = append(lines, p.c.titleLine("Hosts", detail, p.w))
	lines = append(lines, t.Header.Render("  "+sortedHeader(hostColumns, p.widths, p.sortBy, arrow)))
	if len(p.rows) == 0 {
		lines = append(lines, t.Muted.Render("  no hosts yet — the scanner adds them as they answer; :add ADDR adds one by hand"))
	} else if len(p.view) == 0 {
		lines = append(lines, t.Muted.Render(fmt.Sprintf("  no host matches %q — esc clears the filter", p.filter)))
	}
	from, to := p.nav.window(len(p.view), p.bodyHeight())
	now := p.c.Now()
	cells := make([]string, len(hostColumns))
	for i := from; i < to; i++ {
		r := p.view[i]
		sel := i == p.nav.cursor
		cells[hcState] = r.state
		cells[hcName] = r.displayName()
		cells[hcAddr] = fitMiddle(r.Addr, p.widths[hcAddr])
		cells[hcMAC] = r.MAC
		cells[hcBranch] = r.Branch
		cells[hcPos] = r.position()
		cells[hcDrift] = r.drift()
		cells[hcRTT] = rtt(r.RTT)
		cells[hcSeen] = ago(now, r.LastSeen)
		cells[hcWindow] = r.cells["window"]
		cells[hcResult] = r.result()
		if !sel {
			cells[hcWindow] = t.Muted.Render(cells[hcWindow])
			cells[hcState] = p.stateStyle(r.state).Render(r.state)
			if r.Behind > 0 {
				cells[hcPos] = t.Warn.Render(cells[hcPos])
			}
			cells[hcDrift] = p.driftStyle(r).Render(cells[hcDrift])
			cells[hcResult] = p.resultStyle(r).Render(cells[hcResult])
			cells[hcSeen] = t.Muted.Render(cells[hcSeen])
			cells[hcRTT] = t.Muted.Render(cells[hcRTT])
		}
		lead := "  "
		switch {
		case sel && p.marked[r.ID]:
			lead = "›●"
		case sel:
			lead = "› "
		case p.marked[r.ID]:
			lead = t.Marked.Render(" ●")
		}
		row := lead + renderCells(hostColumns, p.widths, cells)
		if sel {
			row = t.Selected.Render(fit(row, p.w))
		}
		lines = append(lines, row)
	}
	return block(lines, p.w, p.h)
}

// measure finds the widest cell of the columns whose text varies (over at
// most a few thousand rows: a layout, not a census) and lays them out.
func (p *hostsPane) measure() {
	need := make([]int, len(hostColumns))
	for i, c := range hostColumns {
		need[i] = ansi.StringWidth(c.title) + 1 // room for the sort arrow
	}
	p.windows = false
	for _, r := range p.view[:min(len(p.view), 5000)] {
		p.windows = p.windows || r.NextWindow != nil || r.WindowErr != ""
		need[hcName] = max(need[hcName], ansi.StringWidth(r.displayName()))
		need[hcAddr] = max(need[hcAddr], ansi.StringWidth(r.Addr))
		need[hcBranch] = max(need[hcBranch], ansi.StringWidth(r.Branch))
		need[hcPos] = max(need[hcPos], ansi.StringWidth(r.cells["position"]))
		need[hcDrift] = max(need[hcDrift], ansi.StringWidth(r.cells["drift"]))
		need[hcResult] = max(need[hcResult], ansi.StringWidth(r.cells["last result"]))
		need[hcWindow] = max(need[hcWindow], ansi.StringWidth(r.cells["window"]))
	}
	p.need = need
	p.widths = fitContent(p.columns(), p.w-2, p.need)
}

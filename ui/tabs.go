package ui

import (
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
)

// tabs is the top line: the views with their keys, the focused one lit.
func (m *Model) tabs() string {
	t := m.c.Theme
	// Every tab with its name, unless that leaves no room for who you
	// are: then the other tabs show their key alone (help names them).
	left := m.tabLine(true)
	if lipgloss.Width(left)+9 > m.width {
		left = m.tabLine(false)
	}
	right := t.Muted.Render(m.operator + " ")
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		// Who you are matters more than the whole of a long name.
		if room := m.width - lipgloss.Width(left) - 1; room >= 8 {
			return left + " " + t.Muted.Render(cut(m.operator, room-1)+" ")
		}
		return fit(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}

// tabLine renders the tabs; named=false names only the focused one.
func (m *Model) tabLine(named bool) string {
	t := m.c.Theme
	var b strings.Builder
	for i, name := range viewNames {
		label := strconv.Itoa(i + 1)
		if named || view(i) == m.focus {
			label += " " + name
		}
		switch view(i) {
		case viewPlan:
			if m.review.plan != nil && (named || view(i) == m.focus) {
				label += " " + m.review.plan.ID
			}
		case viewPush:
			if m.pushJob != "" {
				label += " ●"
			}
		case viewDrift:
			if m.drift.checking != "" {
				label += " …"
			}
		case viewMachines:
			if m.provisionJob != "" {
				label += " ●"
			}
		}
		if view(i) == m.focus {
			b.WriteString(t.TabActive.Render(label))
		} else {
			b.WriteString(t.Tab.Render(label))
		}
	}
	return b.String()
}

package ui

import (
	"slices"
	"strings"
)

// column describes one table column: its title, how narrow and how wide
// it may be, and its priority when the terminal is too narrow for all
// (lower numbers stay longest).
type column struct {
	title          string
	min, want, max int // want: the width it gets before any column grows past it
	prio           int
	right          bool
}

// layout picks the columns that fit in width w (one space between them)
// and widens the flexible ones into the room left over. It returns the
// width of each column; 0 means the column is hidden.
func layout(cols []column, w int) []int {
	shown := make([]bool, len(cols))
	for i := range cols {
		shown[i] = true
	}
	return layoutShown(cols, w, shown)
}

// layoutShown is layout of the columns still marked shown (it hides more
// when they do not fit).
func layoutShown(cols []column, w int, shown []bool) []int {
	widths := make([]int, len(cols))
	need := func() int {
		n, total := 0, 0
		for i, c := range cols {
			if shown[i] {
				total += c.min
				n++
			}
		}
		return total + max(n-1, 0)
	}
	for need() > w {
		worst := -1
		for i, c := range cols {
			if shown[i] && (worst < 0 || c.prio > cols[worst].prio) {
				worst = i
			}
		}
		if worst < 0 || cols[worst].prio == 0 {
			break
		}
		shown[worst] = false
	}
	spare := w - need()
	for i, c := range cols {
		if shown[i] {
			widths[i] = c.min
		}
	}
	// Hand out the spare room in priority order: first up to each column's
	// wanted width, then one cell at a time up to its max.
	for p := 0; p <= 9 && spare > 0; p++ {
		for i, c := range cols {
			if shown[i] && c.prio == p && c.want > widths[i] {
				g := min(c.want-widths[i], spare)
				widths[i] += g
				spare -= g
			}
		}
	}
	for spare > 0 {
		grew := false
		for p := 0; p <= 9 && spare > 0; p++ {
			for i, c := range cols {
				if shown[i] && c.prio == p && widths[i] < c.max && spare > 0 {
					widths[i]++
					spare--
					grew = true
				}
			}
		}
		if !grew {
			break
		}
	}
	return widths
}

// renderCells joins cells cut or padded to their widths, skipping hidden
// columns.
func renderCells(cols []column, widths []int, cells []string) string {
	var b strings.Builder
	first := true
	for i, w := range widths {
		if w == 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		if cols[i].right {
			b.WriteString(fitRight(cells[i], w))
		} else {
			b.WriteString(fit(cells[i], w))
		}
	}
	return b.String()
}

// header renders column titles.
func header(cols []column, widths []int) string {
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = c.title
	}
	return renderCells(cols, widths, cells)
}

// sortedHeader renders column titles with the sort column marked by its
// direction, as k9s marks it.
func sortedHeader(cols []column, widths []int, sortBy int, arrow string) string {
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = c.title
		if i == sortBy {
			cells[i] += arrow
		}
	}
	return renderCells(cols, widths, cells)
}

// fitContent is layout that first grows each column only as far as its
// widest cell (need, 0: unknown), so room goes where text is cut, and
// only then up to each column's max.
func fitContent(cols []column, w int, need []int) []int {
	capped := make([]column, len(cols))
	for i, c := range cols {
		capped[i] = c
		if i < len(need) && need[i] > 0 {
			capped[i].max = max(min(c.max, need[i]), c.min)
			capped[i].want = min(c.want, capped[i].max)
		}
	}
	shown := make([]bool, len(cols))
	for i := range cols {
		shown[i] = true
	}
	widths := layoutShown(capped, w, shown)
	// The first column of priority 0 (the name) is what tells rows apart:
	// a cut name costs more than the least important column shown, so
	// that column (priority 5 or more) goes first.
	for {
		first := slices.IndexFunc(cols, func(c column) bool { return c.prio == 0 })
		if first < 0 || widths[first] >= capped[first].want {
			break
		}
		worst := -1
		for i, c := range cols {
			if widths[i] > 0 && c.prio >= 5 && (worst < 0 || c.prio > cols[worst].prio) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		shown[worst] = false
		widths = layoutShown(capped, w, shown)
	}
	used := 0
	for _, x := range widths {
		if x > 0 {
			used += x + 1
		}
	}
	// What is left goes to the flexible columns, most important first.
	for spare := w - (used - 1); spare > 0; {
		grew := false
		for p := 0; p <= 9 && spare > 0; p++ {
			for i, c := range cols {
				if widths[i] > 0 && c.prio == p && widths[i] < c.max && spare > 0 {
					widths[i]++
					spare--
					grew = true
				}
			}
		}
		if !grew {
			break
		}
	}
	return widths
}

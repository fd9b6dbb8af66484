package ui

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/themes"
)

// Common is what every pane shares: the theme, the key map and the clock.
// The root model owns it; panes keep a pointer, so a theme change reaches
// every pane at once.
type Common struct {
	Theme         *themes.Theme
	Keys          *KeyMap
	Now           func() time.Time
	Width, Height int // the terminal
}

// fit cuts s to width w (adding "…") and pads it with spaces to exactly w
// cells. s may carry ANSI styles.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// fitRight is fit with the text pushed to the right edge.
func fitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return strings.Repeat(" ", w-sw) + s
}

// fill cuts s to w cells and pads it with spaces drawn in st, for bars
// whose background must reach the right edge.
func fill(s string, w int, st lipgloss.Style) string {
	s = cut(s, w)
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s += st.Render(strings.Repeat(" ", pad))
	}
	return s
}

// cut truncates s to w cells without padding.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// block pads or cuts lines to exactly h lines of width w.
func block(lines []string, w, h int) string {
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = fit(lines[i], w)
		} else {
			out[i] = strings.Repeat(" ", max(w, 0))
		}
	}
	return strings.Join(out, "\n")
}

// ago is a compact relative time: "now", "42s", "5m", "3h", "12d".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < 2*time.Second:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// rtt formats a round-trip time compactly.
func rtt(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// plural is "1 host", "3 hosts".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, word[:len(word)-1])
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// count formats large numbers with thin grouping: 10,000.
func count(n int) string {
	s := fmt.Sprint(n)
	if n < 10000 && n > -10000 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	b.WriteString(s[:pre])
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// titleLine is a pane's first line: the title, then muted details, cut to w.
func (c *Common) titleLine(title, detail string, w int) string {
	t := c.Theme.Title.Render(title)
	if detail != "" {
		t += c.Theme.Muted.Render("  " + detail)
	}
	return cut(t, w)
}

// scrollWindow keeps cursor visible in a window of h rows over n rows,
// returning the new offset.
func scrollWindow(cursor, offset, h, n int) int {
	if h <= 0 {
		return 0
	}
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+h {
		offset = cursor - h + 1
	}
	if offset > n-h {
		offset = n - h
	}
	return max(offset, 0)
}

// lipColor turns a palette entry into a colour.
func lipColor(s string) color.Color { return lipgloss.Color(s) }

// ansiStrip removes styling, for re-styling a whole row.
func ansiStrip(s string) string { return ansi.Strip(s) }

// wrapLines breaks s into lines of at most w cells, at spaces where it can
// and inside long words where it must, so nothing is cut off at the edge.
func wrapLines(s string, w int) []string {
	w = max(w, 10)
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, strings.Split(ansi.Wrap(l, w, " "), "\n")...)
	}
	return out
}

// fitMiddle is fit for text whose two ends both matter — an IPv6 address
// keeps its prefix and its interface id and zone — cutting from the
// middle.
func fitMiddle(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw <= w {
		return s + strings.Repeat(" ", w-sw)
	}
	if w < 5 {
		return fit(s, w)
	}
	head := (w - 1) / 2
	tail := w - 1 - head
	return ansi.Cut(s, 0, head) + "…" + ansi.Cut(s, sw-tail, sw)
}

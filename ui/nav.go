package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// listNav is a cursor over n rows shown h at a time. Every list pane
// embeds one, so the keys that move in lists behave the same everywhere.
type listNav struct {
	cursor, offset int
}

// handle moves the cursor for the list keys and reports whether msg was one.
func (l *listNav) handle(msg tea.KeyPressMsg, k *KeyMap, n, h int) bool {
	switch {
	case key.Matches(msg, k.Up):
		l.cursor--
	case key.Matches(msg, k.Down):
		l.cursor++
	case key.Matches(msg, k.PageUp):
		l.cursor -= max(h-1, 1)
	case key.Matches(msg, k.PageDown):
		l.cursor += max(h-1, 1)
	case key.Matches(msg, k.Top):
		l.cursor = 0
	case key.Matches(msg, k.Bottom):
		l.cursor = n - 1
	default:
		return false
	}
	l.clamp(n, h)
	return true
}

// clamp keeps cursor and offset valid after the rows or the height changed.
func (l *listNav) clamp(n, h int) {
	l.cursor = max(min(l.cursor, n-1), 0)
	l.offset = scrollWindow(l.cursor, l.offset, h, n)
}

// window is the range of rows to draw.
func (l *listNav) window(n, h int) (from, to int) {
	from = min(l.offset, max(n-1, 0))
	return from, min(from+h, n)
}

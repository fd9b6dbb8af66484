package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// detailDialog shows one thing whole — a journal entry, an activity line —
// wrapped to the screen and scrolled, where a table row had to cut it.
type detailDialog struct {
	c      *Common
	title  string
	body   []string
	offset int
	// wait is the content read in flight (journal entries), "" when none.
	wait string
}

func newDetailDialog(c *Common, title string, body []string) *detailDialog {
	return &detailDialog{c: c, title: title, body: body}
}

// contentMsg brings an entry's content, read in a command.
type contentMsg struct {
	key     string // which entry asked
	content *engine.EntryContent
	err     error
}

func (d *detailDialog) Update(msg tea.Msg) (bool, tea.Cmd) {
	switch msg := msg.(type) {
	case contentMsg:
		if msg.key == d.wait {
			d.wait = ""
			d.body = append(d.body, contentLines(d.c, msg.content, msg.err)...)
		}
	case tea.KeyPressMsg:
		k := d.c.Keys
		page := max(d.room()-1, 1)
		switch {
		case msg.String() == "esc" || msg.String() == "q" || msg.String() == "enter" || msg.String() == "ctrl+c":
			return true, nil
		case key.Matches(msg, k.Up):
			d.offset--
		case key.Matches(msg, k.Down):
			d.offset++
		case key.Matches(msg, k.PageUp):
			d.offset -= page
		case key.Matches(msg, k.PageDown), msg.String() == "space":
			d.offset += page
		case key.Matches(msg, k.Top):
			d.offset = 0
		case key.Matches(msg, k.Bottom):
			d.offset = 1 << 30
		}
	}
	return false, nil
}

// room is how many body lines fit on the screen.
func (d *detailDialog) room() int { return max(d.c.Height-9, 3) }

func (d *detailDialog) View(w int) string {
	t := d.c.Theme
	var lines []string
	for _, l := range d.body {
		lines = append(lines, wrapLines(l, w-4)...)
	}
	if d.wait != "" {
		lines = append(lines, t.Muted.Render("reading the content…"))
	}
	room := d.room()
	d.offset = max(min(d.offset, len(lines)-room), 0)
	shown := lines[d.offset:min(d.offset+room, len(lines))]
	where := "all shown"
	if len(lines) > room {
		where = fmt.Sprintf("lines %d–%d of %d", d.offset+1, d.offset+len(shown), len(lines))
	}
	body := append(append([]string{}, shown...), "", t.Muted.Render("↑/↓ pgup/pgdn g/G scroll · esc closes · "+where))
	return frame(d.c, d.title, w, body)
}

// entryDetail describes a journal entry whole: what it does, who wrote
// it and why; its content follows once read.
func entryDetail(c *Common, e journal.Entry, staged bool) []string {
	t := c.Theme
	label := func(k string) string { return t.Muted.Render(k + " ") }
	var out []string
	if staged {
		out = append(out, label("seq")+fmt.Sprintf("%d once approved · %s · staged, not committed", e.Seq, e.Kind))
	} else {
		out = append(out, label("seq")+fmt.Sprintf("%d · %s · changeset %d", e.Seq, e.Kind, e.Changeset))
	}
	switch e.Kind {
	case journal.KindFile, journal.KindTemplate:
		owner := strings.Trim(e.Owner+":"+e.Group, ":")
		if owner == "" {
			owner = "root:root"
		}
		out = append(out, label("path")+screenText(e.Path), label("mode")+fmt.Sprintf("%04o", e.Mode)+label(" · owner")+screenText(owner))
		if e.AllowUserDir {
			out = append(out, label("directory")+t.Warn.Render(engine.UserDirNote))
		}
	case journal.KindExec:
		out = append(out, label("command")+screenText(e.Command))
		if !e.Guard.Empty() {
			out = append(out, label("guard")+screenText(e.Guard.String()))
		}
	}
	out = append(out, label("by")+screenText(e.Author)+label(" at")+e.Time.Format("2006-01-02 15:04:05")+" ("+ago(c.Now(), e.Time)+" ago)")
	if e.Message != "" {
		out = append(out, label("message")+screenText(e.Message))
	}
	if e.Hash != "" {
		out = append(out, label("hash")+e.Hash)
	}
	return out
}

// contentLines shows what a file entry installs: its diff against the
// previous entry of the path, else its content.
func contentLines(c *Common, ec *engine.EntryContent, err error) []string {
	t := c.Theme
	if err != nil {
		return []string{"", t.Error.Render("reading the content: " + opError(err))}
	}
	out := []string{""}
	switch {
	case ec.Secret && ec.Content == nil:
		return append(out, t.Warn.Render(fmt.Sprintf("secret content, %s: %s", plural(ec.Size, "byte"), strings.TrimSpace(ec.Diff))))
	case ec.Binary:
		return append(out, t.Warn.Render(fmt.Sprintf("binary content, %s", plural(ec.Size, "byte"))))
	case ec.Content == nil:
		return append(out, t.Warn.Render(fmt.Sprintf("%s: too large to show here", plural(ec.Size, "byte"))))
	case ec.Diff != "":
		out = append(out, t.Title.Render(fmt.Sprintf("diff against seq %d (the path's previous entry)", ec.PrevSeq)))
		out = append(out, renderDiff(c.Theme, screenText(ec.Diff))...)
		out = append(out, "")
	}
	text := strings.TrimRight(string(ec.Content), "\n")
	out = append(out, t.Title.Render(fmt.Sprintf("content (%s, %s)", plural(ec.Size, "byte"), plural(strings.Count(text, "\n")+1, "line"))))
	for _, l := range strings.Split(text, "\n") {
		out = append(out, "  "+screenText(expandTabs(l)))
	}
	return out
}

// screenText replaces control characters (escape sequences above all) so
// text from the store or a host cannot drive the terminal; newlines stay.
func screenText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '�'
		}
		return r
	}, s)
}

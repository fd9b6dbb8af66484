package ui

import (
	"fmt"
	"strings"

	"github.com/discoterm/discoterm/engine"
)

// execOutputLines is how much of a failing command's output the review
// shows.
const execOutputLines = 8

// renderExec adds what an exec entry did in the host's sandbox: each file
// it changed, like a file entry's change with its diff; a failure's
// output; or why it was not simulated.
func (p *planPane) renderExec(c engine.Change, ind string, room int) {
	t := p.c.Theme
	add := func(s string) { p.lines = append(p.lines, s) }
	if c.NotSimulated != "" {
		for _, l := range wrapLines("not simulated: "+c.NotSimulated, room) {
			add(ind + t.Warn.Render(l))
		}
		return
	}
	if !c.Sandboxed {
		return
	}
	if c.Effect == engine.EffectFail && c.Output != "" {
		lines := strings.Split(strings.TrimRight(c.Output, "\n"), "\n")
		more := 0
		if len(lines) > execOutputLines {
			lines, more = lines[:execOutputLines], len(lines)-execOutputLines
		}
		for _, l := range lines {
			add(ind + t.Muted.Render("| ") + t.Error.Render(cut(expandTabs(l), room-2)))
		}
		if more > 0 {
			add(ind + t.Muted.Render(fmt.Sprintf("| … %d more lines", more)))
		}
	}
	if len(c.Files) == 0 {
		if c.Effect != engine.EffectFail {
			add(ind + t.Muted.Render("changed no file in the sandbox (filesystem effects only)"))
		}
		return
	}
	add(ind + t.Muted.Render("in the sandbox it changed (filesystem effects only):"))
	for _, f := range c.Files {
		style := t.Info
		switch f.Effect {
		case engine.EffectCreate:
			style = t.Ok
		case engine.EffectDelete:
			style = t.Warn
		}
		name := f.Path
		switch f.Type {
		case "dir":
			name += "/"
		case "symlink":
			if f.NewTarget != "" {
				name += " → " + f.NewTarget
			}
		}
		var attrs []string
		if f.OldMode != "" && f.NewMode != "" && f.OldMode != f.NewMode {
			attrs = append(attrs, fmt.Sprintf("mode %s → %s", f.OldMode, f.NewMode))
		}
		if f.OldOwner != "" && f.NewOwner != "" && f.OldOwner != f.NewOwner {
			attrs = append(attrs, fmt.Sprintf("owner %s → %s", f.OldOwner, f.NewOwner))
		}
		line := style.Render(string(f.Effect)) + " " + name
		if len(attrs) > 0 {
			line += " " + t.Warn.Render(strings.Join(attrs, " · "))
		}
		for i, l := range wrapLines(line, room) {
			if i > 0 {
				l = "  " + l
			}
			add(ind + l)
		}
		if f.Binary {
			add(ind + "  " + t.Warn.Render(fmt.Sprintf("binary content %s → %s", shortHash(f.OldHash), shortHash(f.NewHash))))
		}
		if f.Diff == "" || p.folded {
			continue
		}
		lines, ok := p.diffs[f.Diff]
		if !ok {
			lines = renderDiff(t, f.Diff)
			p.diffs[f.Diff] = lines
		}
		for _, l := range lines {
			add(ind + "  " + l)
		}
	}
}

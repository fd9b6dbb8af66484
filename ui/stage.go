package ui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

var stageKinds = []journal.Kind{journal.KindFile, journal.KindTemplate, journal.KindExec, journal.KindRemove, journal.KindReboot}

// Stage dialog fields, by kind.
const (
	fLocal = iota
	fTarget
	fMode
	fOwner
	fCommand
	fCreates
	fUnless
	fieldCount
)

var fieldLabels = [fieldCount]string{"local file", "target path", "mode", "owner", "command", "creates", "unless"}

func kindFields(k journal.Kind) []int {
	switch k {
	case journal.KindFile, journal.KindTemplate:
		return []int{fLocal, fTarget, fMode, fOwner}
	case journal.KindExec:
		return []int{fCommand, fCreates, fUnless}
	case journal.KindRemove:
		return []int{fTarget}
	}
	return nil
}

// stageDialog collects one entry to stage: a file or template (local
// file, target, mode, owner), a command (with an optional guard) or a
// reboot. Row 0 picks the kind; the other rows are the kind's fields.
type stageDialog struct {
	c      *Common
	branch string
	kind   int
	row    int // 0: kind selector; i>0: kindFields(kind)[i-1]
	inputs [fieldCount]textinput.Model
	err    string
	submit func(stageRequest) tea.Cmd
}

func newStageDialog(c *Common, branch string, submit func(stageRequest) tea.Cmd) *stageDialog {
	d := &stageDialog{c: c, branch: branch, submit: submit}
	placeholders := [fieldCount]string{
		"./motd (read when you submit)", "/etc/motd", "file: the local file's; template: 0644", "root:root",
		"systemctl reload nginx", "optional: skip if this path exists", "optional: skip if this command succeeds",
	}
	for i := range d.inputs {
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = placeholders[i]
		in.SetStyles(inputStyles(c.Theme))
		d.inputs[i] = in
	}
	return d
}

func (d *stageDialog) fields() []int { return kindFields(stageKinds[d.kind]) }

func (d *stageDialog) focusRow(r int) tea.Cmd {
	for i := range d.inputs {
		d.inputs[i].Blur()
	}
	d.row = max(min(r, len(d.fields())), 0)
	if d.row > 0 {
		return d.inputs[d.fields()[d.row-1]].Focus()
	}
	return nil
}

func (d *stageDialog) Update(msg tea.Msg) (bool, tea.Cmd) {
	k, isKey := msg.(tea.KeyPressMsg)
	if isKey {
		switch k.String() {
		case "esc", "ctrl+c":
			return true, nil
		case "tab", "down":
			return false, d.focusRow((d.row + 1) % (len(d.fields()) + 1))
		case "shift+tab", "up":
			return false, d.focusRow((d.row + len(d.fields())) % (len(d.fields()) + 1))
		case "enter", "ctrl+s":
			if k.String() == "enter" && d.row > 0 && d.row < len(d.fields()) {
				return false, d.focusRow(d.row + 1)
			}
			req, err := d.request()
			if err != nil {
				d.err = err.Error()
				return false, nil
			}
			return true, d.submit(req)
		}
		if d.row == 0 {
			switch k.String() {
			case "left", "h":
				d.kind = (d.kind + len(stageKinds) - 1) % len(stageKinds)
			case "right", "l", "space":
				d.kind = (d.kind + 1) % len(stageKinds)
			}
			d.err = ""
			return false, nil
		}
	}
	if d.row == 0 {
		return false, nil
	}
	var cmd tea.Cmd
	f := d.fields()[d.row-1]
	d.inputs[f], cmd = d.inputs[f].Update(msg)
	return false, cmd
}

func (d *stageDialog) value(f int) string { return strings.TrimSpace(d.inputs[f].Value()) }

// request checks the fields and builds the stage request. Checks that need
// the disk (does the local file exist?) happen in the command.
func (d *stageDialog) request() (stageRequest, error) {
	kind := stageKinds[d.kind]
	req := stageRequest{StageRequest: engine.StageRequest{Kind: kind}}
	switch kind {
	case journal.KindFile, journal.KindTemplate:
		req.local = d.value(fLocal)
		if req.local == "" {
			return req, fmt.Errorf("local file: which file to snapshot?")
		}
		req.Path = d.value(fTarget)
		if err := journal.ValidTargetPath(req.Path); err != nil {
			return req, err
		}
		mode, err := parseMode(d.value(fMode))
		if err != nil {
			return req, err
		}
		req.Mode = mode
		req.Owner, req.Group = splitOwner(d.value(fOwner))
	case journal.KindExec:
		req.Command = d.value(fCommand)
		if req.Command == "" {
			return req, fmt.Errorf("command: what should run on each host?")
		}
		req.Guard = journal.Guard{Creates: d.value(fCreates), Unless: d.value(fUnless)}
		if req.Guard.Creates != "" {
			if err := journal.ValidTargetPath(req.Guard.Creates); err != nil {
				return req, fmt.Errorf("creates: %w", err)
			}
		}
	case journal.KindRemove:
		req.Path = d.value(fTarget)
		if err := journal.ValidTargetPath(req.Path); err != nil {
			return req, err
		}
	}
	return req, nil
}

// parseMode reads an octal permission such as 644 or 0644; "" is the
// kind's default (a snapshot keeps the local file's mode, else 0644).
func parseMode(s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("mode %q: want octal permissions such as 0644", s)
	}
	return uint32(n), nil
}

// splitOwner reads "user", "user:group" or ":group"; empty parts mean root.
func splitOwner(s string) (owner, group string) {
	owner, group, _ = strings.Cut(s, ":")
	return owner, group
}

func (d *stageDialog) View(w int) string {
	t := d.c.Theme
	var kinds []string
	for i, k := range stageKinds {
		if i == d.kind {
			kinds = append(kinds, t.ButtonFocused.Render(string(k)))
		} else {
			kinds = append(kinds, t.Button.Render(string(k)))
		}
	}
	mark := "  "
	if d.row == 0 {
		mark = t.Accent.Render("› ")
	}
	body := []string{mark + fit(t.Muted.Render("kind"), 12) + strings.Join(kinds, " "), ""}
	for i, f := range d.fields() {
		mark := "  "
		if d.row == i+1 {
			mark = t.Accent.Render("› ")
		}
		d.inputs[f].SetWidth(max(w-20, 10))
		body = append(body, mark+fit(t.Muted.Render(fieldLabels[f]), 12)+d.inputs[f].View())
	}
	switch stageKinds[d.kind] {
	case journal.KindTemplate:
		body = append(body, "", t.Muted.Render("Rendered per host with Go text/template from host variables."))
	case journal.KindReboot:
		body = append(body, t.Muted.Render("Adds a reboot entry: hosts stop before it unless a push allows reboots."))
	case journal.KindRemove:
		body = append(body, "", t.Muted.Render("Deletes a file or an empty directory on every host; absent already is done."))
	case journal.KindExec:
		body = append(body, "", t.Muted.Render("Runs with sh -c on every host of the branch, in journal order."))
	}
	if d.err != "" {
		body = append(body, "", t.Error.Render(d.err))
	}
	body = append(body, "", t.Muted.Render("tab next field · ←/→ kind · enter stage · esc cancel"))
	return frame(d.c, "Stage on "+d.branch, w, body)
}

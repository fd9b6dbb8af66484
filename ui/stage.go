package ui

import (
	"errors"
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
	// errField is the field err is about (it clears when that field is
	// edited); -1 when it is about no one field.
	errField int
	// job is the stage operation running for this dialog, "" when none:
	// the dialog stays open, fields intact, until it answers.
	job    string
	submit func(stageRequest) (job string, cmd tea.Cmd)
}

func newStageDialog(c *Common, branch string, submit func(stageRequest) (string, tea.Cmd)) *stageDialog {
	d := &stageDialog{c: c, branch: branch, submit: submit, errField: -1}
	// Examples, not values: they are dimmed and say "e.g.", and an empty
	// field is sent empty.
	placeholders := [fieldCount]string{
		"e.g. ./motd — read when you stage", "e.g. /etc/motd", "file: the local file's; template: 0644", "root:root if empty",
		"e.g. systemctl reload nginx", "optional: skip if this path exists", "optional: skip if this command succeeds",
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
			if d.job != "" {
				return false, nil // staging already; its answer comes
			}
			req, err := d.request()
			if err != nil {
				d.fail(err.Error(), d.fieldOf(err))
				return false, d.focusField(d.errField)
			}
			d.err, d.errField = "", -1
			var cmd tea.Cmd
			d.job, cmd = d.submit(req)
			return false, cmd
		}
		if d.row == 0 {
			switch k.String() {
			case "left", "h":
				d.kind = (d.kind + len(stageKinds) - 1) % len(stageKinds)
			case "right", "l", "space":
				d.kind = (d.kind + 1) % len(stageKinds)
			}
			d.err, d.errField = "", -1
			return false, nil
		}
	}
	if d.row == 0 {
		return false, nil
	}
	var cmd tea.Cmd
	f := d.fields()[d.row-1]
	before := d.inputs[f].Value()
	d.inputs[f], cmd = d.inputs[f].Update(msg)
	if f == d.errField && d.inputs[f].Value() != before {
		d.err, d.errField = "", -1 // being fixed: the complaint goes
	}
	return false, cmd
}

// fail shows err inline; the dialog and every field stay as typed.
func (d *stageDialog) fail(err string, field int) {
	d.err, d.errField = err, field
}

// staged is the answer of the stage operation this dialog started: done
// closes the dialog; an error keeps it open on the field at fault.
func (d *stageDialog) staged(err error) (done bool, cmd tea.Cmd) {
	d.job = ""
	if err == nil {
		return true, nil
	}
	field := -1
	if errors.As(err, new(sourceError)) {
		field = fLocal
	}
	d.fail(opError(err), field)
	return false, d.focusField(field)
}

// fieldOf says which field a check of request() is about.
func (d *stageDialog) fieldOf(err error) int {
	var fe fieldError
	if errors.As(err, &fe) {
		return fe.field
	}
	return -1
}

// focusField moves to a field of the current kind; -1 stays.
func (d *stageDialog) focusField(f int) tea.Cmd {
	for i, g := range d.fields() {
		if g == f {
			return d.focusRow(i + 1)
		}
	}
	return nil
}

// fieldError is a check that failed on one field.
type fieldError struct {
	field int
	err   error
}

func (e fieldError) Error() string { return e.err.Error() }
func (e fieldError) Unwrap() error { return e.err }

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
			return req, fieldError{fLocal, fmt.Errorf("local file: which file to snapshot?")}
		}
		req.Path = d.value(fTarget)
		if err := journal.ValidTargetPath(req.Path); err != nil {
			return req, fieldError{fTarget, err}
		}
		mode, err := parseMode(d.value(fMode))
		if err != nil {
			return req, fieldError{fMode, err}
		}
		req.Mode = mode
		req.Owner, req.Group = splitOwner(d.value(fOwner))
	case journal.KindExec:
		req.Command = d.value(fCommand)
		if req.Command == "" {
			return req, fieldError{fCommand, fmt.Errorf("command: what should run on each host?")}
		}
		req.Guard = journal.Guard{Creates: d.value(fCreates), Unless: d.value(fUnless)}
		if req.Guard.Creates != "" {
			if err := journal.ValidTargetPath(req.Guard.Creates); err != nil {
				return req, fieldError{fCreates, fmt.Errorf("creates: %w", err)}
			}
		}
	case journal.KindRemove:
		req.Path = d.value(fTarget)
		if err := journal.ValidTargetPath(req.Path); err != nil {
			return req, fieldError{fTarget, err}
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
	switch {
	case d.job != "":
		body = append(body, "", t.Info.Render("staging… (the dialog closes when it is staged)"))
	case d.row > 0 && d.row < len(d.fields()):
		body = append(body, "", t.Muted.Render("enter/tab next field · ctrl+s stage now · ←/→ on kind changes it · esc cancel"))
	default:
		body = append(body, "", t.Muted.Render("enter stage · tab next field · ←/→ on kind changes it · esc cancel"))
	}
	return frame(d.c, "Stage on "+d.branch, w, body)
}

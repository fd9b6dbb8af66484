package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine/kinds"
)

// stageField is one row of the stage dialog, made from the kind's Spec:
// a positional argument, a flag, or the command of a Rest kind.
type stageField struct {
	label       string
	placeholder string
	key         string // the input it edits: kinds with the same field share it
	usage       string // the argument as the Spec names it ("LOCALFILE"), for messages
	arg         bool   // a positional argument
	many        bool   // a positional argument taking several words
	required    bool
	flag        *kinds.Flag // nil unless a flag
	command     bool        // the words after "--" (Rest kinds)
}

// stageKind is a registered kind and the dialog's rows for it.
type stageKind struct {
	kind   kinds.Kind
	spec   kinds.Spec
	fields []stageField
}

// stageFields lays out a kind's Spec as dialog rows: one per positional
// argument of Args, one per flag, then the command for Rest kinds. It is
// the same reading of the Spec as the verb table's (engine/verbs).
func stageFields(s kinds.Spec) []stageField {
	var fs []stageField
	names := strings.Fields(s.Args)
	for i, w := range names {
		n := strings.Trim(w, "[]…")
		label := strings.ToLower(n)
		req := i < s.MinArgs
		ph := "optional"
		if req {
			ph = "required"
		}
		fs = append(fs, stageField{label: label, placeholder: ph, key: "arg " + label, usage: n, arg: true, required: req,
			many: strings.Contains(w, "…") || (i == len(names)-1 && s.MaxArgs < 0 && !s.Rest)})
	}
	for i := range s.Flags {
		f := &s.Flags[i]
		ph := f.Help
		if f.Bool {
			ph = "y/n: " + f.Help
		}
		fs = append(fs, stageField{label: f.Name, placeholder: ph, key: "flag " + f.Name, usage: "--" + f.Name, flag: f, required: f.Required})
	}
	if s.Rest {
		fs = append(fs, stageField{label: "command", placeholder: "e.g. systemctl reload nginx", key: "command", usage: "COMMAND", command: true})
	}
	return fs
}

// stageDialog collects one entry to stage, of any registered kind. Row 0
// picks the kind; the other rows are the kind's fields, from its Spec.
type stageDialog struct {
	c      *Common
	branch string
	kinds  []stageKind
	kind   int
	row    int // 0: kind selector; i>0: fields()[i-1]
	inputs map[string]*textinput.Model
	err    string
	// errField is the index in fields() of the field err is about (it
	// clears when that field is edited); -1 when it is about no one field.
	errField int
	// job is the stage operation running for this dialog, "" when none:
	// the dialog stays open, fields intact, until it answers.
	job    string
	submit func(kinds.Kind, kinds.Input) (job string, cmd tea.Cmd)
}

func newStageDialog(c *Common, branch string, submit func(kinds.Kind, kinds.Input) (string, tea.Cmd)) *stageDialog {
	d := &stageDialog{c: c, branch: branch, submit: submit, errField: -1, inputs: map[string]*textinput.Model{}}
	for _, k := range kinds.All() {
		sk := stageKind{kind: k, spec: k.Spec()}
		sk.fields = stageFields(sk.spec)
		for _, f := range sk.fields {
			if d.inputs[f.key] == nil {
				in := textinput.New()
				in.Prompt = ""
				in.SetStyles(inputStyles(c.Theme))
				d.inputs[f.key] = &in
			}
		}
		d.kinds = append(d.kinds, sk)
	}
	return d
}

func (d *stageDialog) fields() []stageField { return d.kinds[d.kind].fields }

// input is the text input of field i of the current kind, with the
// field's placeholder (an example or the flag's help, dimmed: an empty
// field is sent empty).
func (d *stageDialog) input(i int) *textinput.Model {
	f := d.fields()[i]
	in := d.inputs[f.key]
	in.Placeholder = f.placeholder
	return in
}

func (d *stageDialog) focusRow(r int) tea.Cmd {
	for _, in := range d.inputs {
		in.Blur()
	}
	d.row = max(min(r, len(d.fields())), 0)
	if d.row > 0 {
		return d.input(d.row - 1).Focus()
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
			in, err := d.request()
			if err != nil {
				d.fail(err.Error(), d.fieldOf(err))
				return false, d.focusField(d.errField)
			}
			d.err, d.errField = "", -1
			var cmd tea.Cmd
			d.job, cmd = d.submit(d.kinds[d.kind].kind, in)
			return false, cmd
		}
		if d.row == 0 {
			switch k.String() {
			case "left", "h":
				d.kind = (d.kind + len(d.kinds) - 1) % len(d.kinds)
			case "right", "l", "space":
				d.kind = (d.kind + 1) % len(d.kinds)
			}
			d.err, d.errField = "", -1
			return false, nil
		}
	}
	if d.row == 0 {
		return false, nil
	}
	var cmd tea.Cmd
	f := d.row - 1
	in := d.input(f)
	before := in.Value()
	*in, cmd = in.Update(msg)
	if f == d.errField && in.Value() != before {
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
	field := d.fieldOf(err)
	d.fail(opError(err), field)
	return false, d.focusField(field)
}

// field is the index of the current kind's field labelled label, -1 if
// it has none.
func (d *stageDialog) field(label string) int {
	for i, f := range d.fields() {
		if f.label == label {
			return i
		}
	}
	return -1
}

// fieldOf says which field of the current kind an error is about: a
// check of the dialog's own, the local file a kind could not read (the
// positional argument naming it), else the flag it names (--to) or the
// value it quotes; failing those, the first empty argument or command.
func (d *stageDialog) fieldOf(err error) int {
	var fe fieldError
	if errors.As(err, &fe) {
		return fe.field
	}
	fs := d.fields()
	var se sourceError
	if errors.As(err, &se) {
		first := -1
		for i, f := range fs {
			if !f.arg {
				continue
			}
			if d.value(i) == se.path {
				return i
			}
			if first < 0 {
				first = i
			}
		}
		return first
	}
	msg := err.Error()
	for i, f := range fs {
		if f.flag != nil && namesFlag(msg, f.flag.Name) {
			return i
		}
	}
	for i := range fs {
		if v := d.value(i); v != "" && strings.Contains(msg, strconv.Quote(v)) {
			return i
		}
	}
	for i, f := range fs {
		if (f.arg || f.command) && d.value(i) == "" {
			return i
		}
	}
	return -1
}

// namesFlag reports whether msg mentions --name (not a longer flag).
func namesFlag(msg, name string) bool {
	s := "--" + name
	for i := strings.Index(msg, s); i >= 0; {
		end := i + len(s)
		if end == len(msg) || !isFlagChar(msg[end]) {
			return true
		}
		j := strings.Index(msg[end:], s)
		if j < 0 {
			break
		}
		i = end + j
	}
	return false
}

func isFlagChar(c byte) bool {
	return c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// focusField moves to a field of the current kind; -1 stays.
func (d *stageDialog) focusField(f int) tea.Cmd {
	if f < 0 || f >= len(d.fields()) {
		return nil
	}
	return d.focusRow(f + 1)
}

// fieldError is a check that failed on one field.
type fieldError struct {
	field int
	err   error
}

func (e fieldError) Error() string { return e.err.Error() }
func (e fieldError) Unwrap() error { return e.err }

// value is field i of the current kind as typed, trimmed.
func (d *stageDialog) value(i int) string {
	return strings.TrimSpace(d.inputs[d.fields()[i].key].Value())
}

// errNotRead is what request's dry run hands a kind instead of a local
// file's content: reading it is the stage command's, never Update's.
var errNotRead = errors.New("local file not read yet")

// request turns the fields into the kind's Input, as the ":" line would
// parse them: the positional arguments, then the command; the flags
// given (a Bool flag as "true"). The kind's own checks that need no disk
// run here too, so a bad target path is refused in the dialog; reading
// the local file happens in the stage command.
func (d *stageDialog) request() (kinds.Input, error) {
	sk := d.kinds[d.kind]
	in := kinds.Input{Flags: map[string]string{}}
	var command []string
	for i, f := range sk.fields {
		v := d.value(i)
		if v == "" {
			if f.required {
				what := f.usage
				if f.flag != nil {
					what = f.usage + " " + f.flag.Value
					if f.flag.Help != "" {
						what += " (" + f.flag.Help + ")"
					}
				}
				return in, fieldError{i, fmt.Errorf("%s needs %s", sk.spec.Verb, what)}
			}
			continue
		}
		switch {
		case f.arg && f.many:
			in.Args = append(in.Args, strings.Fields(v)...)
		case f.arg:
			in.Args = append(in.Args, v)
		case f.command:
			command = append(command, v) // the command as one argument, as the ":" line hands it
		case f.flag != nil && f.flag.Bool:
			switch strings.ToLower(v) {
			case "y", "yes", "true":
				in.Flags[f.flag.Name] = "true"
			case "n", "no", "false":
			default:
				return in, fieldError{i, fmt.Errorf("%s: y or n, not %q", f.usage, v)}
			}
		default:
			in.Flags[f.flag.Name] = v
		}
	}
	in.Args = append(in.Args, command...)
	dry := in
	dry.ReadFile = func(string) ([]byte, uint32, error) { return nil, 0, errNotRead }
	if _, err := sk.kind.Request(dry); err != nil && !errors.Is(err, errNotRead) {
		return in, err
	}
	return in, nil
}

func (d *stageDialog) View(w int) string {
	t := d.c.Theme
	var names []string
	for i, k := range d.kinds {
		if i == d.kind {
			names = append(names, t.ButtonFocused.Render(k.spec.Verb))
		} else {
			names = append(names, t.Button.Render(k.spec.Verb))
		}
	}
	mark := "  "
	if d.row == 0 {
		mark = t.Accent.Render("› ")
	}
	// Labels in one column as wide as the longest (allow-user-dir).
	lw := 12
	for _, f := range d.fields() {
		lw = max(lw, utf8.RuneCountInString(f.label)+2)
	}
	body := []string{mark + fit(t.Muted.Render("kind"), lw) + strings.Join(names, " "), ""}
	for i, f := range d.fields() {
		mark := "  "
		if d.row == i+1 {
			mark = t.Accent.Render("› ")
		}
		in := d.input(i)
		in.SetWidth(max(w-8-lw, 10))
		body = append(body, mark+fit(t.Muted.Render(f.label), lw)+in.View())
	}
	if h := d.kinds[d.kind].spec.Help; h != "" {
		if len(d.fields()) > 0 {
			body = append(body, "")
		}
		r, n := utf8.DecodeRuneInString(h)
		body = append(body, t.Muted.Render(string(unicode.ToUpper(r))+h[n:]+"."))
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

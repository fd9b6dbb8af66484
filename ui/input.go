package ui

import (
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/themes"
)

// inputMode is what the bottom-line input is for.
type inputMode int

const (
	inputNone    inputMode = iota
	inputCommand           // ":" command line
	inputFilter            // "/" filter of the focused pane
)

// lineInput is the one-line input that replaces the bottom line while the
// operator types a command or a filter.
type lineInput struct {
	mode inputMode
	ti   textinput.Model
}

func newLineInput() lineInput {
	in := lineInput{ti: textinput.New()}
	in.ti.ShowSuggestions = true
	return in
}

// inputStyles dresses a bubbles text input in the theme. The cursor does
// not blink: a blinking cursor is a clock that redraws the screen.
func inputStyles(t *themes.Theme) textinput.Styles {
	// Placeholders are examples, so they must not look like values: dim
	// and italic.
	st := textinput.StyleState{Text: t.Input, Placeholder: t.Muted.Faint(true).Italic(true), Suggestion: t.Muted, Prompt: t.Accent}
	return textinput.Styles{
		Focused: st, Blurred: st,
		Cursor: textinput.CursorStyle{Color: lipColor(t.Palette.Accent), Blink: false},
	}
}

func (in *lineInput) restyle(t *themes.Theme) { in.ti.SetStyles(inputStyles(t)) }

func (in *lineInput) active() bool { return in.mode != inputNone }

// open starts typing a command (":") or filter ("/") with an initial value.
func (in *lineInput) open(mode inputMode, value string, suggestions []string, width int) tea.Cmd {
	in.mode = mode
	in.ti.Prompt = ":"
	in.ti.Placeholder = "command — :help lists them"
	if mode == inputFilter {
		in.ti.Prompt = "/"
		in.ti.Placeholder = "filter — a regexp over every column; !inverts; name: state: …"
	}
	in.ti.SetSuggestions(suggestions)
	in.ti.SetWidth(max(width-2, 10))
	in.ti.SetValue(value)
	in.ti.CursorEnd()
	return in.ti.Focus()
}

func (in *lineInput) close() {
	in.mode = inputNone
	in.ti.Blur()
	in.ti.SetValue("")
}

func (in *lineInput) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	in.ti, cmd = in.ti.Update(msg)
	return cmd
}

func (in *lineInput) Value() string { return in.ti.Value() }

func (in *lineInput) View() string { return in.ti.View() }

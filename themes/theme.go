package themes

import (
	"fmt"
	"os"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

// Theme is the set of styles the UI draws with, derived from one palette.
// Styles never set a background for the whole screen: the terminal's own
// background shows through, which is why a theme knows whether it was made
// for a dark or a light one.
type Theme struct {
	Name    string
	Dark    bool // made for a dark background
	Palette Palette

	base      string      // built-in theme it started from
	overrides [][2]string // palette entries a theme file set, in file order

	Text, Muted, Accent, Bold lipgloss.Style
	Ok, Warn, Error, Info     lipgloss.Style

	// Panes.
	Title, TitleInactive lipgloss.Style // pane titles
	Pane, PaneFocused    lipgloss.Style // pane frames
	Header               lipgloss.Style // table column headers
	Selected             lipgloss.Style // the cursor row
	Marked               lipgloss.Style // rows picked with space
	Tab, TabActive       lipgloss.Style // view tabs in the top line

	// Status bar and flash messages.
	Bar, BarKey, BarAccent lipgloss.Style
	FlashInfo, FlashWarn   lipgloss.Style
	FlashError, FlashFaded lipgloss.Style

	// Dialogs and help.
	Dialog, DialogTitle   lipgloss.Style
	Key, KeyDesc, KeyOff  lipgloss.Style
	Input, InputFocused   lipgloss.Style
	Button, ButtonFocused lipgloss.Style

	// Diffs.
	DiffAdd, DiffDel         lipgloss.Style
	DiffAddWord, DiffDelWord lipgloss.Style
	DiffHunk, DiffContext    lipgloss.Style
}

// New derives a theme's styles from a palette.
func New(name string, dark bool, p Palette) *Theme {
	fg, muted, accent := col(p.Fg), col(p.Muted), col(p.Accent)
	s := lipgloss.NewStyle
	t := &Theme{Name: name, Dark: dark, Palette: p}
	t.Text = s().Foreground(fg)
	t.Muted = s().Foreground(muted)
	t.Accent = s().Foreground(accent)
	t.Bold = s().Foreground(fg).Bold(true)
	t.Ok = s().Foreground(col(p.Ok))
	t.Warn = s().Foreground(col(p.Warn))
	t.Error = s().Foreground(col(p.Error)).Bold(true)
	t.Info = s().Foreground(col(p.Info))

	t.Title = s().Foreground(accent).Bold(true)
	t.TitleInactive = s().Foreground(muted).Bold(true)
	t.Pane = s().Border(lipgloss.RoundedBorder()).BorderForeground(col(p.Border))
	t.PaneFocused = s().Border(lipgloss.RoundedBorder()).BorderForeground(accent)
	t.Header = s().Foreground(muted).Bold(true)
	// Without colour (NO_COLOR) only the bold survives; panes also draw a
	// cursor mark in the first column so the row is never lost.
	t.Selected = s().Foreground(col(p.SelectionFg)).Background(col(p.Selection)).Bold(true)
	t.Marked = s().Foreground(accent).Bold(true)
	t.Tab = s().Foreground(muted).Padding(0, 1)
	t.TabActive = s().Foreground(col(p.Bg)).Background(accent).Bold(true).Padding(0, 1)

	barBg := col(p.BarBg)
	// Labels and values differ by weight, not colour: any second colour on
	// the bar's background loses contrast in some palette.
	t.Bar = s().Foreground(col(p.BarFg)).Background(barBg).Bold(true)
	t.BarKey = s().Foreground(col(p.BarFg)).Background(barBg)
	t.BarAccent = s().Foreground(accent).Background(barBg).Bold(true)
	t.FlashInfo = s().Foreground(col(p.Info)).Bold(true)
	t.FlashWarn = s().Foreground(col(p.Warn)).Bold(true)
	t.FlashError = s().Foreground(col(p.Error)).Bold(true)
	t.FlashFaded = s().Foreground(muted)

	t.Dialog = s().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1)
	t.DialogTitle = s().Foreground(accent).Bold(true)
	t.Key = s().Foreground(accent).Bold(true)
	t.KeyDesc = s().Foreground(fg)
	t.KeyOff = s().Foreground(muted).Faint(true)
	t.Input = s().Foreground(fg)
	t.InputFocused = s().Foreground(fg).Bold(true)
	t.Button = s().Foreground(fg).Padding(0, 1)
	t.ButtonFocused = s().Foreground(col(p.Bg)).Background(accent).Bold(true).Padding(0, 1)

	t.DiffAdd = s().Foreground(col(p.DiffAdd))
	t.DiffDel = s().Foreground(col(p.DiffDel))
	t.DiffAddWord = s().Foreground(fg).Background(col(p.DiffAddWord)).Bold(true)
	t.DiffDelWord = s().Foreground(fg).Background(col(p.DiffDelWord)).Bold(true)
	t.DiffHunk = s().Foreground(col(p.DiffHunk))
	t.DiffContext = s().Foreground(muted)
	return t
}

// ForProfile adapts the theme to the terminal's colour profile. On a
// 16-colour terminal the dark and light palettes are swapped for their
// hand-picked 16-colour variants (a theme file's entries still apply on
// top); richer profiles and high-contrast, which is 16-colour already, are
// returned unchanged. Lower profiles need nothing: the renderer drops
// colours and keeps bold, and panes mark the cursor row with a glyph.
func (t *Theme) ForProfile(p colorprofile.Profile) *Theme {
	if p != colorprofile.ANSI || (t.base != "dark" && t.base != "light") {
		return t
	}
	pal := Palette16(t.Dark)
	for _, o := range t.overrides {
		_ = pal.Set(o[0], o[1]) // checked when the file was parsed
	}
	n := New(t.Name, t.Dark, pal)
	n.base, n.overrides = t.base, t.overrides
	return n
}

// Names of the built-in themes, for help and error messages.
var Names = []string{"dark", "light", "high-contrast"}

// Dark is the built-in theme for dark terminals.
func Dark() *Theme { return builtin("dark", true, DarkPalette()) }

// Light is the built-in theme for light terminals.
func Light() *Theme { return builtin("light", false, LightPalette()) }

func builtin(name string, dark bool, p Palette) *Theme {
	t := New(name, dark, p)
	t.base = name
	return t
}

// HighContrast uses only the 16 basic colours, bright on the background.
func HighContrast(hasDarkBG bool) *Theme {
	return builtin("high-contrast", hasDarkBG, HighContrastPalette(hasDarkBG))
}

// Auto picks dark or light for the terminal's background.
func Auto(hasDarkBG bool) *Theme {
	if hasDarkBG {
		return Dark()
	}
	return Light()
}

// Builtin returns a built-in theme by name; ok is false for unknown names.
func Builtin(name string, hasDarkBG bool) (*Theme, bool) {
	switch name {
	case "", "auto":
		return Auto(hasDarkBG), true
	case "dark":
		return Dark(), true
	case "light":
		return Light(), true
	case "high-contrast":
		return HighContrast(hasDarkBG), true
	}
	return nil, false
}

// Load returns the theme called nameOrFile: a built-in name ("" and "auto"
// follow the terminal background), or the path of a theme file whose
// entries override the base palette.
func Load(nameOrFile string, hasDarkBG bool) (*Theme, error) {
	if t, ok := Builtin(nameOrFile, hasDarkBG); ok {
		return t, nil
	}
	data, err := ReadFile(nameOrFile)
	if err != nil {
		return nil, err
	}
	return Parse(nameOrFile, data, hasDarkBG)
}

// ReadFile reads a theme file, with an error that lists the built-in
// themes when the name looks like one that is not.
func ReadFile(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		if os.IsNotExist(err) && !strings.ContainsAny(name, "/.") {
			return nil, fmt.Errorf("unknown theme %q: built-in themes are %s, or give the path of a theme file", name, strings.Join(Names, ", "))
		}
		return nil, fmt.Errorf("theme: %w", err)
	}
	return data, nil
}

// Package themes turns small colour palettes into the lipgloss styles the
// discoterm UI draws with. A theme is data: three built-in palettes (dark,
// light, high-contrast) and user files that override palette entries.
package themes

import (
	"fmt"
	"image/color"
	"sort"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
)

// Palette is the handful of colours every style is derived from. Colours
// are kept as the strings the user wrote ("#rrggbb", "#rgb" or an ANSI
// index 0–255) so a theme can be printed back and errors can quote them.
type Palette struct {
	Bg          string // background of dialogs and text drawn on accent colours
	Fg          string // body text
	Muted       string // secondary text: timestamps, hints, borders of inactive panes
	Accent      string // titles, the focused pane, keys in help
	Ok          string // alive, done, up to date
	Warn        string // lost, behind, stale, warnings
	Error       string // failed, errors
	Info        string // new hosts, running jobs
	DiffAdd     string // added lines (foreground)
	DiffDel     string // removed lines (foreground)
	DiffAddWord string // background behind changed words in an added line
	DiffDelWord string // background behind changed words in a removed line
	DiffHunk    string // @@ hunk headers
	Selection   string // background of the cursor row
	SelectionFg string // text of the cursor row
	Border      string // pane and dialog borders
	BarBg       string // status bar background
	BarFg       string // status bar text
}

// paletteKeys maps the names used in theme files to palette fields. The
// order is the order `known keys` are listed in error messages.
var paletteKeys = []struct {
	name string
	get  func(*Palette) *string
}{
	{"bg", func(p *Palette) *string { return &p.Bg }},
	{"fg", func(p *Palette) *string { return &p.Fg }},
	{"muted", func(p *Palette) *string { return &p.Muted }},
	{"accent", func(p *Palette) *string { return &p.Accent }},
	{"ok", func(p *Palette) *string { return &p.Ok }},
	{"warn", func(p *Palette) *string { return &p.Warn }},
	{"error", func(p *Palette) *string { return &p.Error }},
	{"info", func(p *Palette) *string { return &p.Info }},
	{"diff-add", func(p *Palette) *string { return &p.DiffAdd }},
	{"diff-del", func(p *Palette) *string { return &p.DiffDel }},
	{"diff-add-word", func(p *Palette) *string { return &p.DiffAddWord }},
	{"diff-del-word", func(p *Palette) *string { return &p.DiffDelWord }},
	{"diff-hunk", func(p *Palette) *string { return &p.DiffHunk }},
	{"selection", func(p *Palette) *string { return &p.Selection }},
	{"selection-fg", func(p *Palette) *string { return &p.SelectionFg }},
	{"border", func(p *Palette) *string { return &p.Border }},
	{"bar-bg", func(p *Palette) *string { return &p.BarBg }},
	{"bar-fg", func(p *Palette) *string { return &p.BarFg }},
}

// KnownKeys lists the palette keys a theme file may set, in a fixed order.
func KnownKeys() []string {
	keys := make([]string, len(paletteKeys))
	for i, k := range paletteKeys {
		keys[i] = k.name
	}
	return keys
}

// Set assigns one palette entry by its theme-file name after checking the
// colour. The error names the known keys when the key is unknown.
func (p *Palette) Set(key, value string) error {
	for _, k := range paletteKeys {
		if k.name == key {
			if err := CheckColor(value); err != nil {
				return err
			}
			*k.get(p) = value
			return nil
		}
	}
	hint := ""
	if s := closest(key, KnownKeys()); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("unknown key %q%s; known keys: %s", key, hint, strings.Join(KnownKeys(), ", "))
}

// Entries returns every key and value, in the order of KnownKeys.
func (p Palette) Entries() [][2]string {
	out := make([][2]string, len(paletteKeys))
	for i, k := range paletteKeys {
		out[i] = [2]string{k.name, *k.get(&p)}
	}
	return out
}

// CheckColor accepts "#rgb", "#rrggbb" and ANSI indexes "0" to "255".
func CheckColor(s string) error {
	if strings.HasPrefix(s, "#") {
		hex := s[1:]
		if len(hex) != 3 && len(hex) != 6 {
			return fmt.Errorf("bad colour %q: want #rgb, #rrggbb or an ANSI index 0–255", s)
		}
		if _, err := strconv.ParseUint(hex, 16, 32); err != nil {
			return fmt.Errorf("bad colour %q: %q is not hexadecimal", s, hex)
		}
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return fmt.Errorf("bad colour %q: want #rgb, #rrggbb or an ANSI index 0–255", s)
	}
	return nil
}

// color converts a checked palette string; lipgloss understands both forms.
func col(s string) color.Color { return lipgloss.Color(s) }

// closest suggests the known key within edit distance 2 of a misspelt one.
func closest(key string, known []string) string {
	best, bestD := "", 3
	cands := append([]string(nil), known...)
	sort.Strings(cands)
	for _, k := range cands {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// DarkPalette suits terminals with a dark background.
func DarkPalette() Palette {
	return Palette{
		Bg: "#1e1e2e", Fg: "#cdd6f4", Muted: "#7f849c", Accent: "#89b4fa",
		Ok: "#a6e3a1", Warn: "#f9e2af", Error: "#f38ba8", Info: "#89dceb",
		DiffAdd: "#a6e3a1", DiffDel: "#f38ba8", DiffAddWord: "#2f6f2f", DiffDelWord: "#8c1c24",
		DiffHunk:  "#cba6f7",
		Selection: "#45475a", SelectionFg: "#ffffff",
		Border: "#585b70", BarBg: "#313244", BarFg: "#cdd6f4",
	}
}

// LightPalette suits terminals with a light background.
func LightPalette() Palette {
	return Palette{
		Bg: "#eff1f5", Fg: "#303030", Muted: "#6c6f85", Accent: "#1e66f5",
		Ok: "#2f7d1f", Warn: "#a86200", Error: "#c4122f", Info: "#04759a",
		DiffAdd: "#2f7d1f", DiffDel: "#c4122f", DiffAddWord: "#afe8af", DiffDelWord: "#ffb8b8",
		DiffHunk:  "#8839ef",
		Selection: "#ccd0da", SelectionFg: "#000000",
		Border: "#9ca0b0", BarBg: "#dce0e8", BarFg: "#2c2f3a",
	}
}

// Palette16 is what the dark and light themes use on a 16-colour terminal.
// Downsampling their pastel colours picks poorly (most become bright blue
// or red), so the 16-colour variants are chosen by hand.
func Palette16(hasDarkBG bool) Palette {
	if !hasDarkBG {
		return Palette{
			Bg: "15", Fg: "0", Muted: "8", Accent: "4",
			Ok: "2", Warn: "3", Error: "1", Info: "6",
			DiffAdd: "2", DiffDel: "1", DiffAddWord: "10", DiffDelWord: "9",
			DiffHunk:  "5",
			Selection: "7", SelectionFg: "0",
			Border: "8", BarBg: "7", BarFg: "0",
		}
	}
	return Palette{
		Bg: "0", Fg: "7", Muted: "8", Accent: "12",
		Ok: "2", Warn: "3", Error: "1", Info: "6",
		DiffAdd: "2", DiffDel: "1", DiffAddWord: "2", DiffDelWord: "1",
		DiffHunk:  "5",
		Selection: "8", SelectionFg: "15",
		Border: "8", BarBg: "8", BarFg: "15",
	}
}

// HighContrastPalette uses the 16 basic ANSI colours only, so it looks the
// same on every terminal (the terminal's own palette decides the exact
// shades); text is the brightest colour against the background.
func HighContrastPalette(hasDarkBG bool) Palette {
	if !hasDarkBG {
		return Palette{
			Bg: "15", Fg: "0", Muted: "8", Accent: "4",
			Ok: "2", Warn: "3", Error: "1", Info: "6",
			DiffAdd: "2", DiffDel: "1", DiffAddWord: "10", DiffDelWord: "9",
			DiffHunk:  "5",
			Selection: "0", SelectionFg: "15",
			Border: "0", BarBg: "0", BarFg: "15",
		}
	}
	return Palette{
		Bg: "0", Fg: "15", Muted: "7", Accent: "14",
		Ok: "10", Warn: "11", Error: "9", Info: "12",
		DiffAdd: "10", DiffDel: "9", DiffAddWord: "2", DiffDelWord: "1",
		DiffHunk:  "13",
		Selection: "15", SelectionFg: "0",
		Border: "15", BarBg: "15", BarFg: "0",
	}
}

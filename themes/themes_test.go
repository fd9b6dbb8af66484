package themes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

func TestBuiltinsHaveEveryEntry(t *testing.T) {
	for _, dark := range []bool{true, false} {
		for _, name := range Names {
			th, err := Load(name, dark)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range th.Palette.Entries() {
				if err := CheckColor(e[1]); err != nil {
					t.Errorf("%s (dark=%v) %s: %v", name, dark, e[0], err)
				}
			}
		}
	}
}

func TestLoadAutoFollowsBackground(t *testing.T) {
	for _, name := range []string{"", "auto"} {
		if th, _ := Load(name, true); th.Name != "dark" || !th.Dark {
			t.Errorf("Load(%q, dark) = %s", name, th.Name)
		}
		if th, _ := Load(name, false); th.Name != "light" || th.Dark {
			t.Errorf("Load(%q, light) = %s", name, th.Name)
		}
	}
}

func TestLoadUnknownName(t *testing.T) {
	_, err := Load("solarised", true)
	if err == nil || !strings.Contains(err.Error(), `unknown theme "solarised"`) || !strings.Contains(err.Error(), "high-contrast") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseFileOverridesBase(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "mine.theme")
	src := "# mine\nbase = \"light\"\naccent = \"#ff0000\"  # red\nok=\"2\"\n\n"
	if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	th, err := Load(f, true)
	if err != nil {
		t.Fatal(err)
	}
	if th.Dark || th.Palette.Accent != "#ff0000" || th.Palette.Ok != "2" || th.Palette.Fg != LightPalette().Fg {
		t.Fatalf("palette = %+v dark=%v", th.Palette, th.Dark)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	src := strings.Join([]string{
		`acent = "#ff0000"`,
		`ok = "#12345"`,
		`warn = "300"`,
		`just words`,
		`error = #ff0000`,
		`base = "sepia"`,
		`fg = "#fff"`,
		`fg = "#000"`,
		`info = "#ff`,
	}, "\n")
	_, err := Parse("t.theme", []byte(src), true)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`t.theme:1: unknown key "acent" (did you mean "accent"?); known keys: bg, fg, muted, accent`,
		`t.theme:2: bad colour "#12345"`,
		`t.theme:3: bad colour "300"`,
		`t.theme:4: expected key = "value"`,
		`t.theme:5: "error" has no value`,
		`t.theme:6: unknown base theme "sepia"`,
		`t.theme:8: "fg" is already set on line 7`,
		`t.theme:9: unterminated quoted value`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestFormatParsesBack(t *testing.T) {
	p := DarkPalette()
	p.Accent = "#123456"
	th, err := Parse("x", []byte(Format("dark", p)), false)
	if err != nil {
		t.Fatal(err)
	}
	if th.Palette != p {
		t.Fatalf("round trip:\n%+v\n%+v", th.Palette, p)
	}
}

// On every profile a colour terminal can have, the pairs that carry meaning
// must stay distinguishable after downsampling.
func TestDistinguishableWhenDownsampled(t *testing.T) {
	for _, dark := range []bool{true, false} {
		for _, name := range Names {
			for _, prof := range []colorprofile.Profile{colorprofile.ANSI, colorprofile.ANSI256, colorprofile.TrueColor} {
				th, _ := Load(name, dark)
				p := th.ForProfile(prof).Palette
				conv := func(s string) string {
					r, g, b, _ := prof.Convert(lipgloss.Color(s)).RGBA()
					return string(rune(r>>8)) + string(rune(g>>8)) + string(rune(b>>8))
				}
				pairs := [][3]string{
					{"ok/error", p.Ok, p.Error},
					{"warn/error", p.Warn, p.Error},
					{"diff add/del", p.DiffAdd, p.DiffDel},
					{"selection fg/bg", p.SelectionFg, p.Selection},
					{"add word fg/bg", p.Fg, p.DiffAddWord},
					{"del word fg/bg", p.Fg, p.DiffDelWord},
					{"bar fg/bg", p.BarFg, p.BarBg},
					{"fg/accent", p.Fg, p.Accent},
				}
				for _, pr := range pairs {
					if conv(pr[1]) == conv(pr[2]) {
						t.Errorf("%s dark=%v %v: %s collapse (%s, %s)", name, dark, prof, pr[0], pr[1], pr[2])
					}
				}
			}
		}
	}
}

func TestForProfileKeepsFileOverrides(t *testing.T) {
	th, err := Parse("f", []byte(`base = "dark"`+"\n"+`ok = "13"`), true)
	if err != nil {
		t.Fatal(err)
	}
	p16 := th.ForProfile(colorprofile.ANSI).Palette
	if p16.Ok != "13" || p16.Fg != Palette16(true).Fg {
		t.Fatalf("16-colour palette = %+v", p16)
	}
	if th.ForProfile(colorprofile.TrueColor) != th {
		t.Fatal("truecolor should keep the theme")
	}
}

// Downsampling must not turn a red into a grey: the colours that carry
// meaning keep their dominant channel on 256- and 16-colour terminals.
func TestHuesSurviveDownsampling(t *testing.T) {
	type want int
	const (
		red want = iota
		green
	)
	for _, dark := range []bool{true, false} {
		for _, name := range Names {
			for _, prof := range []colorprofile.Profile{colorprofile.ANSI, colorprofile.ANSI256} {
				th, _ := Load(name, dark)
				p := th.ForProfile(prof).Palette
				for _, c := range []struct {
					key, val string
					hue      want
				}{
					{"ok", p.Ok, green}, {"error", p.Error, red},
					{"diff-add", p.DiffAdd, green}, {"diff-del", p.DiffDel, red},
					{"diff-add-word", p.DiffAddWord, green}, {"diff-del-word", p.DiffDelWord, red},
				} {
					r, g, b, _ := prof.Convert(lipgloss.Color(c.val)).RGBA()
					ok := g > r && g > b
					if c.hue == red {
						ok = r > g && r > b
					}
					if !ok {
						t.Errorf("%s dark=%v %v: %s %s became rgb(%d,%d,%d)", name, dark, prof, c.key, c.val, r>>8, g>>8, b>>8)
					}
				}
			}
		}
	}
}

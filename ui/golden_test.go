package ui

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/themes"
	"github.com/discoterm/discoterm/ui/uitest"
)

// render pins the colour profile: the frame as a 256-colour (or other)
// terminal would receive it.
func render(t testing.TB, s string, p colorprofile.Profile) string {
	t.Helper()
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: p}
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// scenario walks through a day's work and calls shot at each pane worth
// keeping: hosts with a selection, the journal with staged entries under
// the lock, the plan review, a push with a failure, the activity log.
func scenario(t *testing.T, d *driver, shot func(name string)) {
	t.Helper()
	local := filepath.Join(t.TempDir(), "sshd_config")
	if err := os.WriteFile(local, []byte("PermitRootLogin no\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.f.FailPush["cache02"] = "exit 1: nginx -t failed"
	d.keys("down", "space", "down", "space")
	shot("hosts")

	d.key(":")
	d.typeText("lock main harden sshd")
	d.key("enter")
	d.key(":")
	d.typeText("snap " + local + " --to /etc/ssh/sshd_config --mode 0600")
	d.key("enter")
	d.key(":")
	d.typeText("exec -- systemctl reload ssh")
	d.key("enter")
	d.key("y") // the command is shown whole before it is staged
	d.key("2")
	shot("journal")

	d.key("esc") // back to hosts, clears nothing else
	d.key("esc") // clears the selection: plan the whole branch
	d.key("p")
	shot("plan")

	d.keys("a", "y", "P", "y")
	d.pump()
	for d.m.pushes.current() != nil && d.m.pushes.current().name != "cache02" {
		d.key("down")
	}
	shot("push")

	d.key("5")
	shot("activity")
}

func TestGoldenPanes(t *testing.T) {
	for _, theme := range themes.Names {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			t.Run(fmt.Sprintf("%s/%dx%d", theme, size[0], size[1]), func(t *testing.T) {
				d := newThemedDriver(t, uitest.Options{Hosts: 40, Entries: 30, Drift: true}, size[0], size[1], theme)
				scenario(t, d, func(name string) {
					t.Run(name, func(t *testing.T) {
						golden.RequireEqual(t, render(t, d.m.View().Content, colorprofile.ANSI256))
					})
				})
			})
		}
	}
}

// Dialogs and help, at the smallest supported size.
func TestGoldenDialogs(t *testing.T) {
	d := newThemedDriver(t, uitest.Options{Hosts: 40, Entries: 30}, 80, 24, "dark")
	shot := func(name string) {
		t.Run(name, func(t *testing.T) {
			golden.RequireEqual(t, render(t, d.m.View().Content, colorprofile.ANSI256))
		})
	}
	d.key("?")
	shot("help")
	d.key("esc")
	d.key("L")
	d.typeText("harden sshd")
	shot("lock")
	d.key("enter")
	d.key("s")
	d.keys("tab")
	d.typeText("./sshd_config")
	d.keys("tab")
	d.typeText("etc/ssh/sshd_config")
	d.key("ctrl+s") // refused: relative path
	shot("stage")
	d.key("esc")
	d.key(":")
	d.typeText("reboot")
	d.key("enter")
	d.key("p")
	d.key("a")
	shot("approve")
	d.key("y")
	d.key("P")
	d.key("r")
	shot("push")
	d.key("esc")
	d.key("1")
	d.key("/")
	d.typeText("untrusted")
	d.key("enter")
	d.key("T")
	shot("hostkey")
	// T on a selection: the scanned host with its fingerprint, a trusted
	// one refused.
	d.key("esc")
	d.key("space")
	d.key("esc") // the filter goes, the mark stays
	d.key("g")
	d.key("space")
	d.key("T")
	shot("hostkeys")
}

// What 16-colour and colourless (NO_COLOR) terminals receive.
func TestGoldenLowColour(t *testing.T) {
	for _, c := range []struct {
		name string
		p    colorprofile.Profile
	}{{"ansi16", colorprofile.ANSI}, {"nocolor", colorprofile.ASCII}} {
		t.Run(c.name, func(t *testing.T) {
			d := newThemedDriver(t, uitest.Options{Hosts: 40, Entries: 30, Drift: true}, 80, 24, "")
			d.send(tea.ColorProfileMsg{Profile: c.p})
			scenario(t, d, func(name string) {
				if name == "hosts" || name == "plan" {
					t.Run(name, func(t *testing.T) {
						golden.RequireEqual(t, render(t, d.m.View().Content, c.p))
					})
				}
			})
		})
	}
}

// At 80×24 nothing is cut without a way to read it: a long command wraps
// in the plan review, Enter shows a journal entry whole (content and diff)
// and an activity line whole.
func TestGoldenReadable(t *testing.T) {
	d := newThemedDriver(t, uitest.Options{Hosts: 12, Entries: 24}, 80, 24, "dark")
	shot := func(name string) {
		t.Run(name, func(t *testing.T) {
			golden.RequireEqual(t, render(t, d.m.View().Content, colorprofile.ANSI256))
		})
	}
	if err := d.f.Lock("main", "maintenance banner"); err != nil {
		t.Fatal(err)
	}
	long := `grep -q "Maintenance window" /etc/motd || printf 'Maintenance window: Sundays 02:00-04:00 UTC, contact ops@example.net\n' >> /etc/motd`
	if _, err := d.f.Stage("main", engine.StageRequest{Kind: journal.KindExec, Command: long}); err != nil {
		t.Fatal(err)
	}
	d.pump()
	d.key("p")
	d.key("G")
	shot("plan-wrapped")
	if !strings.Contains(stripANSI(strings.Join(d.m.review.lines, "")), "ops@example.net") {
		t.Error("the plan review cuts the command")
	}

	d.key("2")
	// The newest file entry whose path an earlier entry wrote too.
	for i := 0; i < 30; i++ {
		if e, _, ok := d.m.journal.current(); ok && e.Kind == journal.KindFile {
			d.key("enter")
			if strings.Contains(d.screen(), "diff against seq") {
				break
			}
			d.key("esc")
		}
		d.key("down")
	}
	shot("entry-detail")
	d.wantScreen("diff against seq", "-setting = ")
	d.key("G")
	d.wantScreen("content (", "lines ", " of ")
	d.key("esc")

	d.key("5")
	d.keys("up", "up")
	d.key("enter")
	shot("activity-detail")
	d.wantScreen(">> /etc/motd")
}

// At 80 columns the status bar wraps between its items (an item wider
// than the screen inside itself) rather than cut any; the panes give it
// the lines.
func TestGoldenStatusBar(t *testing.T) {
	d := newThemedDriver(t, uitest.Options{Hosts: 12, Entries: 24}, 80, 24, "dark")
	d.key(":")
	d.typeText("lock main maintenance window for the whole fleet, see ticket OPS-1234 before touching it")
	d.key("enter")
	d.pump()
	golden.RequireEqual(t, render(t, d.m.View().Content, colorprofile.ANSI256))
	bar := stripANSI(strings.Join(d.m.statusBar(), "\n"))
	flat := strings.Join(strings.Fields(bar), " ")
	for _, item := range d.m.statusDetail() {
		if !strings.Contains(flat, strings.Join(strings.Fields(item), " ")) {
			t.Errorf("the status bar at 80 columns cuts %q:\n%s", item, bar)
		}
	}
	if n := len(d.m.statusBar()); n < 2 {
		t.Errorf("the status bar took %d line for all of it", n)
	}
	if lines := strings.Split(d.m.View().Content, "\n"); len(lines) != 24 {
		t.Errorf("the screen is %d lines, not 24", len(lines))
	}
}

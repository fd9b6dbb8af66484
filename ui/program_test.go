package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/ui/uitest"
)

// The whole program on a pinned 100×30 colourless terminal: events flow
// through the real bridge, commands run on the program's goroutines, and
// the operator locks, stages, plans, approves and pushes.
func TestProgramWorkflow(t *testing.T) {
	f := uitest.New(uitest.Options{Hosts: 20})
	m, err := NewModel(f, Options{Theme: "dark", Now: func() time.Time { return uitest.Epoch }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	local := filepath.Join(t.TempDir(), "motd")
	if err := os.WriteFile(local, []byte("hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, m,
		teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	waitFor := func(frag string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(frag)) },
			teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	}
	key := func(k string) { tm.Send(keyMsg(k)) }

	waitFor("20 of 20")
	key("L")
	waitFor("Lock main")
	tm.Type("new motd")
	key("enter")
	// The status bar's `you "new motd"` may arrive as cell edits around
	// text already on screen (the job line said "new motd" first), so
	// wait for the flash, which is new text.
	waitFor("locked main")
	key(":")
	tm.Type("snap " + local + " --to /etc/motd")
	key("enter")
	waitFor("staged seq ")
	key("p")
	waitFor("not approved")
	key("a")
	waitFor("Approve plan")
	key("y")
	waitFor("approved —")
	key("P")
	waitFor("Push plan")
	key("y")
	waitFor("push finished")

	// An event from the engine reaches the screen on its own.
	h, _ := f.HostByName("db01")
	f.SetHost(h.ID, func(h *engine.HostView) { h.Name = "db01-renamed" })
	key("1")
	waitFor("-renamed") // the renderer sends only the cells that changed

	key("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	calls := f.Calls()
	if len(calls) != 5 {
		t.Fatalf("calls = %q", calls)
	}
}

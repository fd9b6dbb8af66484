package ui

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/ui/uitest"
)

// hostile is what a compromised host puts in the text it controls: an OSC
// that retitles the terminal, a clear-screen CSI and a one-byte C1 CSI.
const hostile = "\x1b]2;pwned\x07\x1b[2J\u009b31m"

// hostileBackend is the fake engine with a host that lies in every field.
type hostileBackend struct{ *uitest.Fake }

func (b hostileBackend) Hosts(ctx context.Context) ([]engine.HostView, error) {
	hs, err := b.Fake.Hosts(ctx)
	for i := range hs {
		if i == 0 {
			hs[i].Name, hs[i].OS = "evil"+hostile, "Debian"+hostile
		}
	}
	return hs, err
}

func (b hostileBackend) Plan(ctx context.Context, req engine.PlanRequest) (*engine.Plan, error) {
	p, err := b.Fake.Plan(ctx, req)
	if p != nil {
		for i := range p.Hosts {
			p.Hosts[i].Name = "evil" + hostile
			for j := range p.Hosts[i].Changes {
				p.Hosts[i].Changes[j].Diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old" + hostile + "\n+new\n"
			}
		}
	}
	return p, err
}

// TestViewEscapesHostText: hostnames, OS names, diffs, event messages and
// command output from a host appear escaped on every screen; none of its
// escape sequences reaches the frame the terminal draws.
func TestViewEscapesHostText(t *testing.T) {
	clock := &testClock{t: uitest.Epoch}
	f := uitest.New(uitest.Options{Clock: clock.Now})
	m, err := NewModel(hostileBackend{f}, Options{Theme: "dark", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	d := &driver{t: t, m: m, f: f, clock: clock, late: make(chan tea.Msg, 16)}
	d.send(tea.WindowSizeMsg{Width: 160, Height: 40})
	d.run(m.Init())
	d.settle()
	f.Emit(&engine.PushEntryEvent{Header: engine.Header{Message: "ran" + hostile}, Host: "evil" + hostile, Summary: "s" + hostile, Output: "out" + hostile, Result: "failed"},
		&engine.LogEvent{Header: engine.Header{Message: "log" + hostile}})
	d.pump()
	check := func(where string) {
		t.Helper()
		frame := d.m.View().Content
		for _, raw := range []string{"\x1b]2;", "pwned\x07", "\x1b[2J", "\u009b"} {
			if strings.Contains(frame, raw) {
				t.Errorf("%s: raw %q from a host is in the frame", where, raw)
			}
		}
	}
	check("hosts")
	if !strings.Contains(d.screen(), `evil\u001b]2;pwned`) {
		t.Errorf("the hostile name should be shown escaped:\n%s", d.screen())
	}
	for _, k := range []string{"2", "3", "4", "5"} { // every pane
		d.key(k)
		check("pane " + k)
	}
	d.key("1")
	d.key("p")
	d.settle()
	check("plan")
	if !strings.Contains(d.screen(), `-old\u001b]2;pwned`) {
		t.Errorf("the diff should be shown, escaped:\n%s", d.screen())
	}
}

// TestHostWarningsShown: a host whose identity is in doubt (a machine-id
// shared with another host) says so in the hosts view.
func TestHostWarningsShown(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 200, 30)
	hs, _ := d.f.Hosts(context.Background())
	d.f.SetHost(hs[0].ID, func(h *engine.HostView) {
		h.Warnings = []string{"duplicate machine-id 0123: also on web02"}
	})
	d.pump()
	d.settle()
	d.wantScreen("⚠ duplicate machine-id 0123")
}

package ui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/discoterm/discoterm/ui/uitest"
)

// TestTrustSelected: T on a selection lists every selected host and, on
// y, trusts only those the engine allows (one TrustHost each, with the
// fingerprint shown); a selection with none asks nothing of the engine.
func TestTrustSelected(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 40}, 100, 30)
	d.key("/")
	d.typeText("untrusted")
	d.key("enter")
	scanned := d.m.hosts.current()
	d.key("space")
	d.key("esc") // the filter goes, the mark stays
	d.key("g")
	trusted := d.m.hosts.current()
	if scanned == nil || trusted == nil || !trusted.Trusted || scanned.Trusted {
		t.Fatalf("fixture: %v %v", scanned, trusted)
	}

	// Only the trusted one: nothing to accept, nothing called.
	d.key("space")
	d.m.hosts.marked = map[string]bool{trusted.ID: true}
	before := len(d.f.Calls())
	d.key("T")
	view := ansi.Strip(d.m.View().Content)
	if !strings.Contains(view, "No host key to accept") || !strings.Contains(view, "trusted already") {
		t.Fatalf("a selection with nothing to trust:\n%s", view)
	}
	d.key("y")
	if calls := d.f.Calls()[before:]; len(calls) != 0 || d.m.dialog != nil {
		t.Fatalf("nothing to trust, yet: %v", calls)
	}

	d.m.hosts.marked = map[string]bool{trusted.ID: true, scanned.ID: true}
	d.key("T")
	view = ansi.Strip(d.m.View().Content)
	for _, s := range []string{"Accept 1 host key?", scanned.HostKey, "MAC " + scanned.MAC, trusted.displayName(), "refused: trusted already"} {
		if !strings.Contains(view, s) {
			t.Errorf("the dialog does not show %q:\n%s", s, view)
		}
	}
	d.key("y")
	want := "TrustHost(" + scanned.ID + ", " + scanned.HostKey + ")"
	if calls := d.f.Calls()[before:]; len(calls) != 1 || calls[0] != want {
		t.Fatalf("calls after y: %v, want [%s]", calls, want)
	}
}

// TestTrustDialogScrolls: on a short screen every line can still be read
// before y.
func TestTrustDialogScrolls(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 40}, 100, 24)
	d.key("ctrl+a")
	d.key("T")
	view := ansi.Strip(d.m.View().Content)
	if !strings.Contains(view, "lines 1–10 of ") {
		t.Fatalf("a long list is not scrolled:\n%s", view)
	}
	d.key("G")
	if view = ansi.Strip(d.m.View().Content); strings.Contains(view, "lines 1–10 of ") || !strings.Contains(view, "y accept 1 key") {
		t.Fatalf("after G:\n%s", view)
	}
}

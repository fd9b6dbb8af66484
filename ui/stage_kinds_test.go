package ui

import (
	"os"
	"path/filepath"
	"testing"
)

// The stage dialog offers remove, and a snapshot staged without a mode
// keeps the local file's.
func TestStageDialogRemoveAndSnapMode(t *testing.T) {
	d := newDriver(t, uitestOptions(3), 120, 40)
	local := filepath.Join(t.TempDir(), "check.sh")
	if err := os.WriteFile(local, []byte("#!/bin/sh\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	d.key("L")
	d.typeText("tidy up")
	d.key("enter")

	d.key("s")
	d.key("tab")
	d.typeText(local)
	d.key("tab")
	d.typeText("/usr/local/bin/check")
	d.key("ctrl+s")
	if d.m.dialog != nil {
		t.Fatalf("stage dialog still open: %s", d.m.dialog.(*stageDialog).err)
	}
	d.wantCalls(`Lock(main, "tidy up")`, `Stage(main, file /usr/local/bin/check)`)
	if st := d.m.journal.view.Staged; len(st) != 1 || st[0].Mode != 0o750 {
		t.Fatalf("staged %+v, want mode 0750 from the local file", st)
	}

	d.key("s")
	for i := 0; i < 3; i++ { // file → template → exec → remove
		d.key("right")
	}
	if got := stageKinds[d.m.dialog.(*stageDialog).kind]; got != "remove" {
		t.Fatalf("kind %q after three steps right", got)
	}
	d.key("tab")
	d.typeText("etc/old")
	d.key("ctrl+s")
	if dlg, ok := d.m.dialog.(*stageDialog); !ok || dlg.err == "" {
		t.Fatal("a relative path to remove was accepted")
	}
	for i := 0; i < len("etc/old"); i++ {
		d.key("backspace")
	}
	d.typeText("/etc/cron.d/old")
	d.key("ctrl+s")
	if d.m.dialog != nil {
		t.Fatalf("stage dialog still open: %s", d.m.dialog.(*stageDialog).err)
	}
	d.wantCalls(`Lock(main, "tidy up")`, `Stage(main, file /usr/local/bin/check)`, `Stage(main, remove /etc/cron.d/old)`)
}

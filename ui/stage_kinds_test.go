package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine/kinds"
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
	if sd := d.m.dialog.(*stageDialog); sd.kinds[sd.kind].spec.Verb != "remove" {
		got := sd.kinds[sd.kind].spec.Verb
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

// The stage dialog offers every registered kind, in the registry's order,
// with a row for each of its Spec's positional arguments and flags (and
// the command of a Rest kind): registering a kind is enough for the
// dialog to stage it.
func TestStageDialogOffersEveryKind(t *testing.T) {
	d := newDriver(t, uitestOptions(3), 120, 40)
	d.key("L")
	d.typeText("kinds")
	d.key("enter")
	d.key("s")
	sd, ok := d.m.dialog.(*stageDialog)
	if !ok {
		t.Fatalf("dialog = %T, want the stage dialog", d.m.dialog)
	}
	all := kinds.All()
	if len(sd.kinds) != len(all) {
		t.Fatalf("the dialog offers %d kinds, the registry has %d", len(sd.kinds), len(all))
	}
	for i, k := range all {
		s := k.Spec()
		if sd.kinds[sd.kind].kind.Name() != k.Name() {
			t.Fatalf("kind %d of the dialog is %s, the registry's is %s", i, sd.kinds[sd.kind].kind.Name(), k.Name())
		}
		screen := d.screen()
		if !strings.Contains(screen, s.Verb) {
			t.Errorf("%s: the dialog does not list its verb %q:\n%s", k.Name(), s.Verb, screen)
		}
		var want []string
		for _, a := range strings.Fields(s.Args) {
			want = append(want, strings.ToLower(strings.Trim(a, "[]…")))
		}
		for _, f := range s.Flags {
			want = append(want, f.Name)
		}
		if s.Rest {
			want = append(want, "command")
		}
		var got []string
		for _, f := range sd.fields() {
			got = append(got, f.label)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: rows %q, want %q from its Spec", k.Name(), got, want)
		}
		for _, label := range want {
			if !strings.Contains(screen, "  "+label+" ") {
				t.Errorf("%s: no row %q on screen:\n%s", k.Name(), label, screen)
			}
		}
		d.key("right")
	}
}

// An exec entry staged from the dialog: the kind's complaints land on the
// field they are about, whether the dialog's dry run or the stage command
// (after reading the local file) found them.
func TestStageDialogKindErrorsOnTheirField(t *testing.T) {
	d := newDriver(t, uitestOptions(3), 120, 40)
	d.key("L")
	d.typeText("guarded")
	d.key("enter")

	d.key("s")
	d.keys("right", "right") // snap → template → exec
	sd := d.m.dialog.(*stageDialog)
	d.key("tab")
	d.typeText("etc/done") // creates
	d.key("tab")
	d.key("tab")
	d.typeText("touch /etc/done")
	d.key("ctrl+s")
	if sd.err == "" || sd.errField != sd.field("creates") || sd.row != sd.field("creates")+1 {
		t.Fatalf("error %q on field %d (row %d), want it on creates", sd.err, sd.errField, sd.row)
	}
	d.key("ctrl+u")
	d.typeText("/etc/done")
	d.key("ctrl+s")
	if d.m.dialog != nil {
		t.Fatalf("stage dialog still open: %s", sd.err)
	}
	d.wantCalls(`Lock(main, "guarded")`, `Stage(main, exec touch /etc/done)`)
	if st := d.m.journal.view.Staged; len(st) != 1 || st[0].Guard.Creates != "/etc/done" {
		t.Fatalf("staged %+v, want the guard", st)
	}

	// A bad mode is the kind's to refuse once the file is read.
	local := filepath.Join(t.TempDir(), "motd")
	if err := os.WriteFile(local, []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.key("s")
	sd = d.m.dialog.(*stageDialog)
	d.key("tab")
	d.typeText(local)
	d.key("tab")
	d.typeText("/etc/motd")
	d.key("tab")
	d.typeText("rw-r--r--")
	d.key("tab")
	d.key("ctrl+s")
	if d.m.dialog == nil || sd.errField != sd.field("mode") || !strings.Contains(sd.err, "octal") {
		t.Fatalf("error %q on field %d, want the mode's", sd.err, sd.errField)
	}
	if sd.value(sd.field("localfile")) != local || sd.value(sd.field("to")) != "/etc/motd" {
		t.Fatal("fields lost")
	}
}

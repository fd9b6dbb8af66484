package main

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/discoterm/discoterm/ui/uitest"
)

// TestPrepareBatchFace: --batch push ID --prepare makes exactly the call
// the console's "prepare for window" makes (ui's TestPrepareForWindow
// and TestPrepareFromCommandLine: PreparePush(ID, reboot=false)), and
// never a live push.
func TestPrepareBatchFace(t *testing.T) {
	f := uitest.New(uitest.Options{})
	_, approved, err := f.PrepareExamples()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetWindows("main", []string{"Sat 02:00-04:00 UTC"}); err != nil {
		t.Fatal(err)
	}
	inv, err := parseArgs([]string{"--batch", "push", approved, "--prepare"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if code := dispatch(context.Background(), inv.call, f, &textPrinter{w: &buf}, false, func() {}); code != exitOK {
		t.Fatalf("exit %d: %s", code, buf.String())
	}
	calls := f.Calls()
	if !slices.Contains(calls, "PreparePush("+approved+", reboot=false)") || slices.Contains(calls, "Push("+approved+", reboot=false)") {
		t.Fatalf("calls %q, want PreparePush(%s, reboot=false) and no live push", calls, approved)
	}
}

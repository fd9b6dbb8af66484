package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/ui/uitest"
)

// A push started with --confirm pauses before each wave: the Push view
// says so, c continues it and x stops the push there, each answering the
// engine's Confirm.
func TestWavePauseContinueAndStop(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 100, 30)
	_, approved, err := d.f.PrepareExamples()
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.f.GetPlan(approved)
	if err != nil {
		t.Fatal(err)
	}
	d.m.pushConfirm = true
	d.m.pushes.start(p)
	opts := d.m.withRollout(engine.PushOptions{})
	if opts.Confirm == nil {
		t.Fatal("--confirm gave the push no Confirm")
	}
	d.m.focusView(viewPush)
	for _, tc := range []struct {
		key  string
		want bool
	}{{"c", true}, {"x", false}} {
		got := make(chan bool, 1)
		go func() {
			ok, _ := opts.Confirm(context.Background(), &engine.WaveEvent{})
			got <- ok
		}()
		d.m.pushes.applyWave(&engine.WaveEvent{PlanID: p.ID, Wave: 2, Waves: 3, State: engine.WavePaused, FailedTotal: 1, MaxFail: 2})
		if v := d.m.pushes.View(); !strings.Contains(v, "before wave 2/3 · 1 failed, max 2 — c continues, x stops here") {
			t.Fatalf("paused push view:\n%s", v)
		}
		d.key(tc.key)
		select {
		case ok := <-got:
			if ok != tc.want {
				t.Errorf("%s answered %v, want %v", tc.key, ok, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not answer the paused wave", tc.key)
		}
		if d.m.pushes.waves.paused || d.m.dialog != nil {
			t.Errorf("after %s: still paused %v, dialog %v", tc.key, d.m.pushes.waves.paused, d.m.dialog)
		}
	}
	// Not paused: c says why it does nothing.
	d.key("c")
	if f := d.flashText(); !strings.Contains(f, "no wave is waiting") {
		t.Errorf("c with no paused wave: flash %q", f)
	}
}

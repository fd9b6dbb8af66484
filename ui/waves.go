package ui

import (
	"context"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/verbs"
)

// Waves in the console: the push view says which wave runs and how many
// hosts failed against the threshold; a push started with --confirm
// pauses before each wave until c continues it or x stops it there.

// pushWaves is the push pane's wave state, empty for a push without a
// rollout policy.
type pushWaves struct {
	line   string    // what the title says about the waves
	paused bool      // waiting for c or x
	answer chan bool // the engine's Confirm waits on it
}

// applyWave folds a wave event into the push pane.
func (p *pushPane) applyWave(ev *engine.WaveEvent) {
	if !p.running || ev.PlanID != p.planID {
		return
	}
	limit := "no threshold"
	if ev.MaxFail >= 0 {
		limit = fmt.Sprintf("max %d", ev.MaxFail)
	}
	canary := ""
	if ev.Canary {
		canary = " (canary)"
	}
	w := &p.waves
	w.paused = false
	switch ev.State {
	case engine.WaveStarted, engine.WaveEnded:
		w.line = fmt.Sprintf("wave %d/%d%s · %d failed, %s", ev.Wave, ev.Waves, canary, ev.FailedTotal+ev.Failed*boolInt(ev.State == engine.WaveStarted), limit)
		if ev.State == engine.WaveEnded {
			w.line = fmt.Sprintf("wave %d/%d%s done · %d failed, %s", ev.Wave, ev.Waves, canary, ev.FailedTotal, limit)
		}
	case engine.WavePaused:
		w.line = fmt.Sprintf("before wave %d/%d · %d failed, %s", ev.Wave, ev.Waves, ev.FailedTotal, limit)
		w.paused = w.answer != nil
	case engine.WaveStopped:
		w.line = fmt.Sprintf("stopped before wave %d/%d · %s not started", ev.Wave, ev.Waves, engine.Plural(len(ev.NotStarted), "host"))
	}
	p.dirty = true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waveState is the title's wave part, "" without waves.
func (p *pushPane) waveState() string {
	switch {
	case p.waves.line == "":
		return ""
	case p.waves.paused:
		return p.waves.line + " — c continues, x stops here"
	}
	return p.waves.line
}

// withRollout adds the rollout flags of a :push line to a push's options,
// and the console's answer to --confirm (c / x on the Push view).
func (m *Model) withRollout(opts engine.PushOptions) engine.PushOptions {
	ro, confirm := m.pushRollout, m.pushConfirm
	m.pushRollout, m.pushConfirm = engine.PushOptions{}, false
	// The dialog's options stand; the :push line adds only the rollout.
	opts.Canary, opts.Wave, opts.MaxFail, opts.Pause, opts.AliveWithin, opts.MustComeBack = ro.Canary, ro.Wave, ro.MaxFail, ro.Pause, ro.AliveWithin, ro.MustComeBack
	ro = opts
	m.pushes.waves = pushWaves{}
	if confirm {
		ch := make(chan bool)
		m.pushes.waves.answer = ch
		ro.Confirm = func(ctx context.Context, _ *engine.WaveEvent) (bool, error) {
			select {
			case ok := <-ch:
				return ok, nil
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
	}
	return ro
}

// setRollout keeps the rollout flags of a :push line for the push its
// confirmation starts; it reports a bad flag.
func (m *Model) setRollout(c *verbs.Call) error {
	m.pushRollout, m.pushConfirm = engine.PushOptions{}, false
	if c == nil {
		return nil
	}
	ro, err := verbs.PushFlags(c)
	if err != nil {
		return err
	}
	m.pushRollout, m.pushConfirm = ro, c.Bool("confirm")
	return nil
}

// answerWave answers a paused wave: true continues, false stops the push
// before it. The answer is sent from a command, never from Update.
func (m *Model) answerWave(ok bool) tea.Cmd {
	w := &m.pushes.waves
	if !w.paused || w.answer == nil {
		return nil
	}
	w.paused = false
	ch := w.answer
	m.pushes.dirty = true
	return func() tea.Msg { ch <- ok; return nil }
}

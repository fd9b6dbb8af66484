package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/window"
	"github.com/discoterm/discoterm/store"
)

// ErrOutsideWindow: an automatic push (up, catch-up) of a branch outside
// its maintenance windows. Faces map it like a usage error: nothing was
// changed, and --now says what to do.
var ErrOutsideWindow = errors.New("outside maintenance window")

// WindowView is a branch's next (or current) maintenance window.
type WindowView struct {
	window.Opening
	Open bool `json:"open"` // the window is open now
}

// Label names the window for an operator, in its own zone as written:
// "open until Sat 04:00 UTC" or "Sat 02:00 UTC (in 2d 3h)".
func (w *WindowView) Label(now time.Time) string {
	if w.Open {
		return "open until " + w.End.Format("Mon 15:04 MST")
	}
	d := w.Start.Sub(now).Round(time.Minute)
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	in := fmt.Sprintf("%dm", m)
	switch {
	case days > 0:
		in = fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		in = fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%s (in %s)", w.Start.Format("Mon 15:04 MST"), in)
}

// SetWindows replaces a branch's maintenance windows (none: clear them).
// Every window is parsed and the set checked for overlaps before anything
// is stored, so a bad one loses none of the others.
func (e *Engine) SetWindows(branch string, windows []string) error {
	if _, err := window.ParseAll(windows, e.now()); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	norm := make([]string, len(windows))
	for i, s := range windows {
		w, _ := window.Parse(s)
		norm[i] = w.Source
	}
	msg := "no windows: automatic pushes at any time"
	if len(norm) > 0 {
		msg = "windows: " + strings.Join(norm, "; ")
	}
	return e.setBranchPolicy(branch, "windows", msg, "maintenance windows of "+branch+" changed",
		func(b *store.Branch) { b.Windows = norm })
}

// branchWindow is a branch's next window at now; nil when the branch has
// none. A stored window that no longer parses (a zone missing from this
// machine's tz database) is an error: the branch is then treated as never
// open, so nothing is pushed automatically by a guess.
func branchWindow(b store.Branch, now time.Time) (*WindowView, error) {
	if len(b.Windows) == 0 {
		return nil, nil
	}
	ws := make([]*window.Window, 0, len(b.Windows))
	for _, s := range b.Windows {
		w, err := window.ParseCached(s)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	o, ok := window.Next(ws, now)
	if !ok {
		return nil, fmt.Errorf("windows of %s never open again", b.Name)
	}
	return &WindowView{Opening: o, Open: o.Open(now)}, nil
}

// windowsByBranch computes every branch's next window once, for many
// hosts' views.
func windowsByBranch(bs []store.Branch, now time.Time) map[string]windowState {
	out := map[string]windowState{}
	for _, b := range bs {
		if len(b.Windows) == 0 {
			continue
		}
		v, err := branchWindow(b, now)
		st := windowState{view: v}
		if err != nil {
			st.err = err.Error()
		}
		out[b.Name] = st
	}
	return out
}

type windowState struct {
	view *WindowView
	err  string
}

func (s windowState) apply(v *HostView) {
	v.NextWindow, v.WindowErr = s.view, s.err
}

// checkWindow refuses an automatic push of a branch outside its windows.
func (e *Engine) checkWindow(branch string) error {
	var b store.Branch
	err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		b, err = tx.Branch(branch)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // Plan names the missing branch
	} else if err != nil {
		return err
	}
	now := e.now()
	v, err := branchWindow(b, now)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s: %v; fix them with policy %s --window …, or push with --now", ErrOutsideWindow, branch, err, branch)
	case v == nil || v.Open:
		return nil
	}
	return fmt.Errorf("%w: %s is outside its maintenance windows; the next opens %s (in %s) — %s; push now with --now",
		ErrOutsideWindow, branch, v.Start.Format("Mon 2006-01-02 15:04 MST"), v.Start.Sub(now).Round(time.Minute), v.Window)
}

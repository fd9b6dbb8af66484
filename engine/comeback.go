package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
)

// A push that must come back (push --must-come-back D, or the branch's
// policy): each host keeps what the push overwrites and arms a revert
// that runs on the host by itself unless the controller reaches it again
// within D over a new SSH connection (remote/comeback.sh). A change that
// breaks SSH therefore undoes itself.

// PushRolledBack: the host did not come back within --must-come-back and
// reverted the push by itself; its position stepped back.
const PushRolledBack PushStatus = "rolled-back"

// Confirmer is the part of a transport that confirms a push that must
// come back. *remote.Steps implements it over a fresh connection.
type Confirmer interface {
	Confirm(ctx context.Context, t remote.Target, stateDir, token string) (string, error)
}

// comeBackOf resolves the push's --must-come-back against the branch's
// policy, refusing what cannot come back.
func (e *Engine) comeBackOf(in *pushInput, opts PushOptions) (time.Duration, error) {
	d := in.branch.Rollout.MustComeBack
	if opts.MustComeBack != 0 {
		d = opts.MustComeBack
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: --must-come-back %s is negative: give how long a host has to come back, e.g. 30s", ErrUsage, d)
	}
	if d == 0 {
		return 0, nil
	}
	if d < time.Second {
		return 0, fmt.Errorf("%w: --must-come-back %s is less than the second the host's clock counts: give at least 1s", ErrUsage, d)
	}
	if _, ok := e.opts.Remote.(Confirmer); !ok {
		return 0, fmt.Errorf("%w: this transport cannot confirm a push over a fresh connection; push without --must-come-back", ErrUsage)
	}
	if opts.AllowReboot {
		for _, hp := range in.plan.Hosts {
			for _, c := range hp.Changes {
				if c.Kind == journal.KindReboot {
					return 0, fmt.Errorf("%w: --must-come-back cannot cover seq %d, a reboot: the host's revert does not survive it; push up to seq %d with --must-come-back, then the reboot without", ErrUsage, c.Seq, c.Seq-1)
				}
			}
		}
	}
	for _, b := range in.bundles {
		for _, be := range b.Entries {
			if be.AllowUserDir {
				return 0, fmt.Errorf("%w: --must-come-back cannot cover seq %d, staged with --allow-user-dir: its revert would write where another user can redirect it; push it without --must-come-back", ErrUsage, be.Seq)
			}
		}
		b.ComeBack = d
	}
	return d, nil
}

// savePaths are the paths the sandboxed plan saw an exec entry change,
// which a push that must come back keeps first; nil when the plan does
// not know them all (not sandboxed, or cut short by a cap).
func savePaths(c Change) []string {
	if c.Kind != journal.KindExec || !c.Sandboxed || c.Cap != "" {
		return nil
	}
	var out []string
	for _, f := range c.Files {
		out = append(out, f.Path)
	}
	return out
}

// comeBack confirms a host that applied a push that must come back, over
// a fresh connection, trying until D has passed since the apply ended.
// A host that cannot be reached in time reverts by itself: it is
// reported rolled back at its old position. Cancelling the push does not
// stop the confirmation: a host that applied keeps what it applied, as
// it would without --must-come-back.
func (e *Engine) comeBack(ctx context.Context, p *Plan, hp HostPlan, t remote.Target, b *remote.Bundle, ar *remote.ApplyResult, hr *HostPush) {
	cf := e.opts.Remote.(Confirmer)
	d := b.ComeBack
	start := time.Now()
	deadline := start.Add(d)
	base := context.WithoutCancel(ctx)
	var last error
	for {
		cctx, cancel := context.WithDeadline(base, deadline)
		got, err := cf.Confirm(cctx, t, b.StateDir, ar.Token)
		cancel()
		if err == nil {
			switch got {
			case remote.Confirmed:
				hr.CameBack = fmt.Sprintf("came back: confirmed over a fresh SSH connection %s after the apply", time.Since(start).Round(time.Millisecond))
				e.logf(LevelInfo, "%s %s (push %s)", hp.Name, hr.CameBack, p.ID)
			case remote.Reverted:
				e.rolledBack(hp, b, hr, fmt.Sprintf("rolled back: came back only after %s, when the host had reverted", time.Since(start).Round(time.Second)))
			}
			return
		}
		last = err
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		select {
		case <-time.After(min(time.Second, wait)):
		case <-base.Done():
		}
	}
	msg := fmt.Sprintf("rolled back: did not come back within %s", d)
	if last != nil {
		msg += " (" + trimErr(hostErr(last), 160) + ")"
	}
	e.rolledBack(hp, b, hr, msg)
}

// rolledBack reports a host that reverted the push: its position is the
// one before the push, and exec entries whose file effects the plan did
// not record are named, since the revert puts back only what was kept.
func (e *Engine) rolledBack(hp HostPlan, b *remote.Bundle, hr *HostPush, msg string) {
	hr.Status, hr.To = PushRolledBack, hp.Position
	ran := map[uint64]bool{}
	for _, en := range hr.Entries {
		ran[en.Seq] = en.Result == "ok" || en.Result == "failed"
	}
	var left []string
	for _, c := range hp.Changes {
		if c.Kind == journal.KindExec && ran[c.Seq] && !(c.Sandboxed && c.Cap == "") {
			left = append(left, fmt.Sprintf("seq %d", c.Seq))
		}
	}
	if len(left) > 0 {
		msg += fmt.Sprintf("; %s (exec) not reverted: the plan recorded no file effects for it, so the host was left as the command left it", strings.Join(left, ", "))
	}
	hr.Err = msg
	e.logf(LevelError, "%s %s", hp.Name, msg)
}

func trimErr(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

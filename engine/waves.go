package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/discoterm/discoterm/store"
)

// A push rolls out in waves so one bad change cannot reach the whole fleet
// before anyone can stop it: the canary hosts first, alone, then waves of
// a fixed size; between waves the push counts the hosts that failed and
// stops once they exceed the threshold. Hosts of waves never started are
// untouched (not-started) and their positions stay what they were.

// ParseAmount reads a host count ("5") or a percentage of a push's hosts
// ("20%"). A negative, fractional or malformed amount is refused.
func ParseAmount(s string) (store.Amount, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSuffix(t, "%")
	n, err := strconv.Atoi(t)
	switch {
	case err != nil || t == "" || strings.HasPrefix(t, "+"):
		return store.Amount{}, fmt.Errorf("%q is not a number of hosts or a percentage: give N (e.g. 5) or N%% (e.g. 20%%)", s)
	case n < 0:
		return store.Amount{}, fmt.Errorf("%q is negative: give a number of hosts ≥ 0 or a percentage", s)
	case pct && n > 100:
		return store.Amount{}, fmt.Errorf("%q is more than the whole fleet: a percentage goes up to 100%%", s)
	}
	return store.Amount{N: n, Percent: pct}, nil
}

// FormatAmount is the inverse of ParseAmount.
func FormatAmount(a store.Amount) string {
	if a.Percent {
		return strconv.Itoa(a.N) + "%"
	}
	return strconv.Itoa(a.N)
}

// CheckRollout refuses a rollout policy that cannot mean anything: a wave
// of no hosts, a failure threshold of 0 % (say 0, stop at the first
// failure) or 100 % (never stops: leave it out), negative durations.
func CheckRollout(r store.Rollout) error {
	if r.Canary < 0 {
		return fmt.Errorf("%w: --canary %d is negative: give the number of hosts to push first (0: no canary)", ErrUsage, r.Canary)
	}
	if w := r.Wave; w != nil && w.N == 0 {
		return fmt.Errorf("%w: --wave %s is a wave of no hosts: give a size ≥ 1 or a percentage ≥ 1%% (leave it out to push the rest at once)", ErrUsage, FormatAmount(*w))
	}
	if m := r.MaxFail; m != nil && m.Percent {
		switch m.N {
		case 0:
			return fmt.Errorf("%w: --max-fail 0%% is ambiguous: to stop at the first failed host say --max-fail 0", ErrUsage)
		case 100:
			return fmt.Errorf("%w: --max-fail 100%% never stops a push: leave --max-fail out for no threshold", ErrUsage)
		}
	}
	if r.Pause < 0 || r.AliveWithin < 0 || r.DriftEvery < 0 || r.MustComeBack < 0 {
		return fmt.Errorf("%w: --pause, --alive-within, --drift-every and --must-come-back must not be negative", ErrUsage)
	}
	if r.MustComeBack > 0 && r.MustComeBack < time.Second {
		return fmt.Errorf("%w: --must-come-back %s is less than the second the host's clock counts: give at least 1s", ErrUsage, r.MustComeBack)
	}
	return nil
}

// rollout is a push's wave policy resolved against its hosts.
type rollout struct {
	store.Rollout
	confirm func(context.Context, *WaveEvent) (bool, error)
	waves   [][]int // indices into the plan's hosts, in push order
	maxFail int     // failed hosts tolerated; -1: no threshold
}

// active reports whether the push rolls out in waves at all; a push
// without a policy is one wave and reports none.
func (r *rollout) active() bool {
	return r.Canary > 0 || r.Wave != nil || r.MaxFail != nil || r.AliveWithin > 0 || r.confirm != nil
}

// newRollout merges the push's flags over the branch's policy. fleet is
// the number of hosts of the plan, which the canary may not exceed.
func newRollout(policy store.Rollout, opts PushOptions, fleet int) (*rollout, error) {
	r := &rollout{Rollout: policy, confirm: opts.Confirm}
	if opts.Canary != nil {
		r.Canary = *opts.Canary
	}
	if opts.Wave != nil {
		r.Wave = opts.Wave
	}
	if opts.MaxFail != nil {
		r.MaxFail = opts.MaxFail
	}
	if opts.Pause != 0 {
		r.Pause = opts.Pause
	}
	if opts.AliveWithin != 0 {
		r.AliveWithin = opts.AliveWithin
	}
	if err := CheckRollout(r.Rollout); err != nil {
		return nil, err
	}
	// A branch's default canary is clamped to the fleet (a catch-up
	// pushes one host); a canary asked for on the command line is not.
	if opts.Canary == nil {
		r.Canary = min(r.Canary, fleet)
	}
	if r.Canary > fleet {
		return nil, fmt.Errorf("%w: --canary %d is more hosts than the plan has (%d): give at most %d", ErrUsage, r.Canary, fleet, fleet)
	}
	return r, nil
}

// split cuts work (indices of the hosts to push, in plan order) into
// waves and sets the threshold, both relative to the hosts pushed.
func (r *rollout) split(work []int) {
	n := len(work)
	r.maxFail = -1
	if m := r.MaxFail; m != nil {
		r.maxFail = m.N
		if m.Percent {
			// Rounded down: 5 % of 10 hosts tolerates none.
			r.maxFail = m.N * n / 100
		}
	}
	size := n
	if w := r.Wave; w != nil {
		size = w.N
		if w.Percent {
			size = (w.N*n + 99) / 100 // rounded up: a wave has at least one host
		}
	}
	size = max(size, 1)
	rest := work
	if c := min(r.Canary, n); c > 0 {
		r.waves = append(r.waves, rest[:c])
		rest = rest[c:]
	}
	for len(rest) > 0 {
		k := min(size, len(rest))
		r.waves = append(r.waves, rest[:k])
		rest = rest[k:]
	}
}

// waveFailed reports whether a host's outcome counts against the
// threshold: it failed, or vanished (unreachable). Stale hosts were
// refused before any change and reboot holds are by request: neither says
// the change is bad.
func waveFailed(s PushStatus) bool {
	return s == PushFailed || s == PushUnreach || s == PushRolledBack
}

// runWaves pushes the hosts wave after wave with pushOne (at most
// parallel at once within a wave) and returns why it stopped early, or "".
// Hosts it did not start are left waiting for Push to report.
func (e *Engine) runWaves(ctx context.Context, p *Plan, r *rollout, res *PushResult, parallel int,
	pushOne func(i int), emitHost func(HostPlan, *HostPush)) string {
	names := func(idx []int) []string {
		out := make([]string, len(idx))
		for k, i := range idx {
			out[k] = p.Hosts[i].Name
		}
		return out
	}
	total := 0
	for w, wave := range r.waves {
		if ctx.Err() != nil {
			return ""
		}
		num := w + 1
		canary := w == 0 && r.Canary > 0
		admitted := e.admit(p, r, wave, res, emitHost)
		if r.active() {
			e.emit(&WaveEvent{Header: Header{Message: fmt.Sprintf("wave %d of %d%s: %s", num, len(r.waves), canaryWord(canary), hostList(names(admitted)))},
				PlanID: p.ID, Wave: num, Waves: len(r.waves), Canary: canary, State: WaveStarted, Hosts: names(admitted), MaxFail: r.maxFail, FailedTotal: total})
		}
		e.forEachHost(ctx, len(admitted), parallel, func(k int) { pushOne(admitted[k]) })
		failed := 0
		for _, i := range admitted {
			if waveFailed(res.Hosts[i].Status) {
				failed++
			}
		}
		total += failed
		res.Waves = append(res.Waves, WaveResult{Wave: num, Canary: canary, Hosts: names(admitted), Failed: failed})
		if r.active() {
			lvl := LevelInfo
			if failed > 0 {
				lvl = LevelWarn
			}
			e.emit(&WaveEvent{Header: Header{Level: lvl, Message: fmt.Sprintf("wave %d of %d%s done: %d of %d failed (%d in all)", num, len(r.waves), canaryWord(canary), failed, len(admitted), total)},
				PlanID: p.ID, Wave: num, Waves: len(r.waves), Canary: canary, State: WaveEnded, Hosts: names(admitted), Failed: failed, FailedTotal: total, MaxFail: r.maxFail})
		}
		if num == len(r.waves) || ctx.Err() != nil {
			return ""
		}
		if r.maxFail >= 0 && total > r.maxFail {
			return fmt.Sprintf("stopped after wave %d of %d: %s failed, more than --max-fail %s allows (%d)", num, len(r.waves), Plural(total, "host"), FormatAmount(*r.MaxFail), r.maxFail)
		}
		next := names(r.waves[w+1])
		pause := &WaveEvent{PlanID: p.ID, Wave: num + 1, Waves: len(r.waves), State: WavePaused, Hosts: next, FailedTotal: total, MaxFail: r.maxFail}
		switch {
		case r.confirm != nil:
			pause.Message = fmt.Sprintf("wave %d of %d waits for you: continue (c) or stop (x)", num+1, len(r.waves))
			e.emit(pause)
			ok, err := r.confirm(ctx, pause)
			if err != nil && ctx.Err() == nil {
				return fmt.Sprintf("stopped after wave %d of %d: %v", num, len(r.waves), err)
			}
			if !ok && ctx.Err() == nil {
				return fmt.Sprintf("stopped by %s after wave %d of %d", e.opts.Operator, num, len(r.waves))
			}
		case r.Pause > 0:
			pause.Wait = r.Pause
			pause.Message = fmt.Sprintf("wave %d of %d starts in %s", num+1, len(r.waves), r.Pause)
			e.emit(pause)
			t := time.NewTimer(r.Pause)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
	return ""
}

// admit returns the hosts of a wave seen alive within the policy's
// window; the others are reported not-started, untouched.
func (e *Engine) admit(p *Plan, r *rollout, wave []int, res *PushResult, emitHost func(HostPlan, *HostPush)) []int {
	if r.AliveWithin <= 0 {
		return wave
	}
	seen := map[string]time.Time{}
	_ = e.opts.Store.View(func(tx store.Tx) error {
		for _, i := range wave {
			if h, err := tx.Host(p.Hosts[i].HostID); err == nil {
				seen[h.ID] = h.LastSeen
				if h.StateSeen.After(h.LastSeen) {
					seen[h.ID] = h.StateSeen
				}
			}
		}
		return nil
	})
	now := e.now()
	var out []int
	for _, i := range wave {
		hp := p.Hosts[i]
		last := seen[hp.HostID]
		if !last.IsZero() && now.Sub(last) <= r.AliveWithin {
			out = append(out, i)
			continue
		}
		hr := &res.Hosts[i]
		when := "never"
		if !last.IsZero() {
			when = "last " + now.Sub(last).Round(time.Second).String() + " ago"
		}
		hr.Status, hr.Err = PushNotStarted, fmt.Sprintf("not started: not seen alive within --alive-within %s (%s); scan, then re-plan", r.AliveWithin, when)
		emitHost(hp, hr)
	}
	return out
}

func canaryWord(c bool) string {
	if c {
		return " (canary)"
	}
	return ""
}

// hostList names up to 8 hosts, then how many more.
func hostList(names []string) string {
	if len(names) == 0 {
		return "no hosts"
	}
	if len(names) > 8 {
		return strings.Join(names[:8], ", ") + fmt.Sprintf(" and %d more", len(names)-8)
	}
	return strings.Join(names, ", ")
}

// SetRollout sets a branch's rollout and drift policy (policy BRANCH
// --canary … --wave … --max-fail …), refusing one that cannot mean
// anything.
func (e *Engine) SetRollout(branch string, r store.Rollout) error {
	if err := CheckRollout(r); err != nil {
		return err
	}
	d := DescribeRollout(r)
	return e.setBranchPolicy(branch, "rollout", d, "rollout policy of "+branch+": "+d,
		func(b *store.Branch) { b.Rollout = r })
}

// DescribeRollout is a policy in one line, as the policy verb's flags say it.
func DescribeRollout(r store.Rollout) string {
	var parts []string
	if r.Canary > 0 {
		parts = append(parts, fmt.Sprintf("--canary %d", r.Canary))
	}
	if r.Wave != nil {
		parts = append(parts, "--wave "+FormatAmount(*r.Wave))
	}
	if r.MaxFail != nil {
		parts = append(parts, "--max-fail "+FormatAmount(*r.MaxFail))
	}
	if r.Pause > 0 {
		parts = append(parts, "--pause "+r.Pause.String())
	}
	if r.AliveWithin > 0 {
		parts = append(parts, "--alive-within "+r.AliveWithin.String())
	}
	if r.DriftEvery > 0 {
		parts = append(parts, "--drift-every "+r.DriftEvery.String())
	}
	if r.Repair {
		parts = append(parts, "--repair on")
	}
	if r.MustComeBack > 0 {
		parts = append(parts, "--must-come-back "+r.MustComeBack.String())
	}
	if len(parts) == 0 {
		return "all hosts at once, no threshold, no drift checks, no --must-come-back"
	}
	return strings.Join(parts, " ")
}

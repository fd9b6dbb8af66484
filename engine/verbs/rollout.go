package verbs

import (
	"context"
	"fmt"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// The rollout flags of push and up, and of policy (as branch defaults).
var (
	canaryFlag   = Flag{Name: "canary", Type: Int, Value: "N", Help: "push N hosts first, alone, as wave 1 (0: no canary)"}
	waveFlag     = Flag{Name: "wave", Type: String, Value: "SIZE|PCT", Help: "hosts per wave after the canary, e.g. 5 or 20%"}
	maxFailFlag  = Flag{Name: "max-fail", Type: String, Value: "N|PCT", Help: "stop before the next wave once more hosts failed (0: at the first failure)"}
	pauseFlag    = Flag{Name: "pause", Type: Duration, Value: "D", Help: "wait D between waves"}
	aliveFlag    = Flag{Name: "alive-within", Type: Duration, Value: "D", Help: "push only hosts seen alive (scan or SSH) within D; the others are not started"}
	confirmFlag  = Flag{Name: "confirm", Type: Bool, Help: "ask before each wave after the first (needs a terminal or the console)"}
	comeBackFlag = Flag{Name: "must-come-back", Type: Duration, Value: "D",
		Help: "each host undoes the push by itself unless reached again over a fresh SSH connection within D (0: off)"}
)

var pushRolloutFlags = []Flag{canaryFlag, waveFlag, maxFailFlag, pauseFlag, confirmFlag, aliveFlag, comeBackFlag}

// RolloutBackend is the part of the engine the rollout verbs need beyond
// Backend; a backend without it refuses those verbs with a clear error.
type RolloutBackend interface {
	SetRollout(branch string, r store.Rollout) error
}

// PushOptions reads a push's (or up's) flags: --allow-reboot and the
// rollout flags, each overriding the branch's policy. --confirm is
// refused where nobody can answer (Ask is nil).
func PushOptions(c *Call) (engine.PushOptions, error) {
	o, err := PushFlags(c)
	if err != nil || !c.Bool("confirm") {
		return o, err
	}
	if c.Ask == nil {
		return o, usagef("--confirm asks before each wave and nobody can answer here (not a terminal): use --pause D, or push from the console")
	}
	ask := c.Ask
	o.Confirm = func(_ context.Context, next *engine.WaveEvent) (bool, error) {
		return ask(nil, fmt.Sprintf("%s — start wave %d of %d (%s)?", next.Message, next.Wave, next.Waves, engine.Plural(len(next.Hosts), "host")))
	}
	return o, nil
}

// PushFlags reads and checks a push's flags, leaving how --confirm asks
// to the face (Confirm stays nil).
func PushFlags(c *Call) (engine.PushOptions, error) {
	o := engine.PushOptions{AllowReboot: c.Bool("allow-reboot")}
	if c.Has("canary") {
		n := c.Int("canary")
		if n < 0 {
			return o, usagef("--canary %d is negative: give the number of hosts to push first (0: no canary)", n)
		}
		o.Canary = &n
	}
	for _, f := range []struct {
		name string
		to   **store.Amount
	}{{"wave", &o.Wave}, {"max-fail", &o.MaxFail}} {
		if !c.Has(f.name) {
			continue
		}
		a, err := engine.ParseAmount(c.Str(f.name))
		if err != nil {
			return o, usagef("--%s: %v", f.name, err)
		}
		*f.to = &a
	}
	o.Pause, o.AliveWithin, o.MustComeBack = c.Dur("pause"), c.Dur("alive-within"), c.Dur("must-come-back")
	if c.Bool("confirm") && c.Has("pause") {
		return o, usagef("push takes --pause D or --confirm, not both")
	}
	if err := engine.CheckRollout(store.Rollout{Canary: derefInt(o.Canary), Wave: o.Wave, MaxFail: o.MaxFail, MustComeBack: o.MustComeBack}); err != nil {
		return o, err
	}
	return o, nil
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// policyRolloutFlags set a branch's rollout and drift defaults.
var policyRolloutFlags = []Flag{canaryFlag, waveFlag, maxFailFlag, pauseFlag, aliveFlag, comeBackFlag,
	{Name: "drift-every", Type: Duration, Value: "D", Help: "check drift every D while the console scans (0: off)"},
	{Name: "repair", Type: String, Value: "on|off", Help: "catch-up also repairs drift"},
	{Name: "no-waves", Type: Bool, Help: "clear the rollout defaults: all hosts at once, no threshold"}}

// hasRolloutFlags reports whether a policy call sets rollout defaults.
func hasRolloutFlags(c *Call) bool {
	for _, f := range policyRolloutFlags {
		if c.Has(f.Name) {
			return true
		}
	}
	return false
}

// runRolloutPolicy sets the rollout part of policy: the flags given
// change the branch's current defaults, the others are kept.
func runRolloutPolicy(b Backend, c *Call) (string, error) {
	rb, ok := b.(RolloutBackend)
	if !ok {
		return "", usagef("this console cannot set rollout policies")
	}
	var cur store.Rollout
	bs, err := b.Branches()
	if err != nil {
		return "", err
	}
	found := false
	for _, br := range bs {
		if br.Name == c.Arg(0) {
			cur, found = br.Rollout, true
		}
	}
	if !found {
		return "", fmt.Errorf("%w: no branch %q", engine.ErrNotFound, c.Arg(0))
	}
	if c.Bool("no-waves") {
		cur.Canary, cur.Wave, cur.MaxFail, cur.Pause, cur.AliveWithin = 0, nil, nil, 0, 0
	}
	o, err := PushFlags(&Call{Verb: c.Verb, Flags: c.Flags})
	if err != nil {
		return "", err
	}
	if o.Canary != nil {
		cur.Canary = *o.Canary
	}
	if o.Wave != nil {
		cur.Wave = o.Wave
	}
	if o.MaxFail != nil {
		cur.MaxFail = o.MaxFail
	}
	if c.Has("pause") {
		cur.Pause = o.Pause
	}
	if c.Has("alive-within") {
		cur.AliveWithin = o.AliveWithin
	}
	if c.Has("must-come-back") {
		cur.MustComeBack = o.MustComeBack
	}
	if c.Has("drift-every") {
		cur.DriftEvery = c.Dur("drift-every")
	}
	switch c.Str("repair") {
	case "on":
		cur.Repair = true
	case "off", "":
		if c.Has("repair") {
			cur.Repair = false
		}
	default:
		return "", usagef("--repair %q: give on or off", c.Str("repair"))
	}
	if err := rb.SetRollout(c.Arg(0), cur); err != nil {
		return "", err
	}
	return fmt.Sprintf("rollout on %s: %s", c.Arg(0), engine.DescribeRollout(cur)), nil
}

// DriftBackend is the part of the engine the drift verbs need beyond
// Backend; a backend without it refuses them with a clear error.
type DriftBackend interface {
	Drift(ctx context.Context, req engine.DriftRequest) (*engine.DriftReport, error)
	Repair(ctx context.Context, req engine.FixRequest) (*engine.Plan, error)
	Adopt(ctx context.Context, host string, req engine.FixRequest) (branch string, staged []journal.Entry, err error)
}

var _ DriftBackend = (*engine.Engine)(nil)

// DriftDone is a drift check's report.
type DriftDone struct {
	Report *engine.DriftReport
}

// Summary implements Result.
func (r DriftDone) Summary() string {
	s := fmt.Sprintf("drift on %s: %d of %d hosts drifted", r.Report.Branch, r.Report.Drifted(), len(r.Report.Hosts))
	if f := r.Report.Failed(); f > 0 {
		s += fmt.Sprintf(", %d could not be checked", f)
	}
	return s
}

// Adopted is what adopt staged.
type Adopted struct {
	Host    string
	Branch  string
	Entries []journal.Entry
}

// Summary implements Result.
func (r Adopted) Summary() string {
	return fmt.Sprintf("staged %s from %s; review with plan, then approve", count(len(r.Entries), "entry"), r.Host)
}

var pathFlag = Flag{Name: "path", Type: List, Value: "PATH", Help: "only this drifted path (repeatable; default: every one)"}

func driftVerbs() []*Verb {
	return []*Verb{
		{Name: "drift", Group: GroupFlow, Help: "compare the files the journal put on each host with what is there now (exit 3 if any drifted)",
			Args: []Arg{{Name: "HOST", Optional: true, Many: true}}, Flags: []Flag{branchFlag},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				db, err := driftBackend(b)
				if err != nil {
					return nil, err
				}
				rep, err := db.Drift(ctx, engine.DriftRequest{Branch: c.Branch(), Hosts: c.Args})
				if err != nil {
					return nil, err
				}
				return DriftDone{Report: rep}, driftErr(rep)
			}},
		{Name: "repair", Group: GroupFlow, Help: "plan putting the journal's version back where files drifted (then approve and push it)",
			Args: []Arg{{Name: "HOST", Optional: true, Many: true}}, Flags: []Flag{pathFlag, branchFlag},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				db, err := driftBackend(b)
				if err != nil {
					return nil, err
				}
				p, err := db.Repair(ctx, engine.FixRequest{Branch: c.Branch(), Hosts: c.Args, Paths: c.List("path")})
				if err != nil {
					return nil, err
				}
				return PlanDone{Plan: p}, nil
			}},
		{Name: "adopt", Group: GroupFlow, Help: "stage a host's drifted files as new entries, so its hand edit becomes the journal's (needs your lock)",
			Args: []Arg{{Name: "HOST"}}, Flags: []Flag{pathFlag, branchFlag},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				db, err := driftBackend(b)
				if err != nil {
					return nil, err
				}
				br, es, err := db.Adopt(ctx, c.Arg(0), engine.FixRequest{Branch: c.Branch(), Paths: c.List("path")})
				if len(es) == 0 && err != nil {
					return nil, err
				}
				return Adopted{Host: c.Arg(0), Branch: br, Entries: es}, err
			}},
	}
}

func driftBackend(b Backend) (DriftBackend, error) {
	db, ok := b.(DriftBackend)
	if !ok {
		return nil, usagef("this console cannot check drift")
	}
	return db, nil
}

// driftErr makes drift (or a host that could not be checked) exit 3, so
// cron can alert on it; the report is shown all the same.
func driftErr(r *engine.DriftReport) error {
	if d, f := r.Drifted(), r.Failed(); d > 0 || f > 0 {
		return fmt.Errorf("%w: %d of %d hosts drifted, %d could not be checked", engine.ErrHostsFail, d, len(r.Hosts), f)
	}
	return nil
}

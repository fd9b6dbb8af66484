package verbs

import (
	"context"
	"fmt"

	"github.com/discoterm/discoterm/engine"
)

var allowReboot = Flag{Name: "allow-reboot", Type: Bool, Help: "let reboot entries reboot hosts"}

func flowVerbs() []*Verb {
	return []*Verb{
		{Name: "plan", Group: GroupFlow, Help: "dry-run: what every pending entry would do on each host",
			Args: []Arg{{Name: "HOST", Optional: true, Many: true}}, Flags: []Flag{branchFlag},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				p, err := b.Plan(ctx, engine.PlanRequest{Branch: c.Branch(), Hosts: c.Args})
				if err != nil {
					return nil, err
				}
				return PlanDone{Plan: p}, planErr(p)
			}},
		{Name: "approve", Group: GroupFlow, Help: "commit the plan's staged entries (releases the lock) and approve it",
			Args:  []Arg{{Name: "PLAN", Optional: true}},
			Flags: []Flag{{Name: "keep-lock", Type: Bool, Help: "keep holding the lock"}},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				if c.Arg(0) == "" {
					return nil, usagef("approve needs the PLAN id that plan printed: %s", c.Verb.Usage())
				}
				p, err := b.Approve(c.Arg(0), c.Bool("keep-lock"))
				if err != nil {
					return nil, err
				}
				return Approved{Plan: p}, nil
			}},
		{Name: "push", Group: GroupFlow, Help: "apply an approved plan, in waves if asked (or by the branch's policy); exit 3 when stopped by --max-fail",
			Args: []Arg{{Name: "PLAN", Optional: true}}, Flags: append([]Flag{allowReboot,
				{Name: "prepare", Type: Bool, Help: "upload it now; each host applies it by itself at the start of the branch's next window (collect gathers the results)"}}, pushRolloutFlags...),
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				if c.Arg(0) == "" {
					return nil, usagef("push needs the PLAN id of an approved plan: %s", c.Verb.Usage())
				}
				if c.Bool("prepare") {
					if c.Has("must-come-back") {
						return nil, usagef("push --prepare applies when nobody is there to confirm: it cannot take --must-come-back")
					}
					return runPrepare(ctx, b, c)
				}
				opts, err := PushOptions(c)
				if err != nil {
					return nil, err
				}
				r, err := b.Push(ctx, c.Arg(0), opts)
				if r == nil {
					return nil, err
				}
				return Pushed{Result: r}, err
			}},
		{Name: "up", Group: GroupFlow, Help: "plan + approve + push (for scripts and cron: --yes)",
			Args: []Arg{{Name: "HOST", Optional: true, Many: true}},
			Flags: append([]Flag{{Name: "yes", Type: Bool, Help: "apply without asking"}, allowReboot, branchFlag,
				{Name: "now", Type: Bool, Help: "push even outside the branch's maintenance windows"}}, pushRolloutFlags...),
			Run: runUp},
	}
}

func runUp(ctx context.Context, b Backend, c *Call) (Result, error) {
	// What is committed only: staged entries are committed by their own
	// approve, after review.
	req := engine.PlanRequest{Branch: c.Branch(), Hosts: c.Args, NoStaged: true}
	opts, err := PushOptions(c)
	if err != nil {
		return nil, err
	}
	opts.IgnoreWindows = c.Bool("now")
	if c.Bool("yes") && req.Branch == "" && len(req.Hosts) == 0 {
		// Every branch, each host on its own.
		runs, err := b.UpAll(ctx, opts)
		if len(runs) == 0 {
			return nil, err
		}
		return UpAll{Runs: runs}, err
	}
	if c.Bool("yes") {
		p, r, err := b.Up(ctx, req, opts)
		if p == nil && r == nil {
			return nil, err
		}
		return Pushed{Plan: p, Result: r}, err
	}
	if c.Ask == nil {
		return nil, usagef("up asks before it applies; review with plan, then run up --yes")
	}
	p, err := b.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	ok, err := c.Ask(PlanDone{Plan: p}, fmt.Sprintf("apply plan %s to %d hosts?", p.ID, len(p.Hosts)))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: not applied", engine.ErrCancelled)
	}
	if _, err := b.Approve(p.ID, false); err != nil {
		return nil, err
	}
	r, err := b.Push(ctx, p.ID, opts)
	if r == nil {
		return nil, err
	}
	return Pushed{Result: r}, err
}

// planErr is the plan verb's outcome: hosts that could not be planned make
// it a partial failure (exit 3), with the plan still shown.
func planErr(p *engine.Plan) error {
	n := 0
	for _, h := range p.Hosts {
		if h.Err != "" {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%w: %d of %d hosts could not be planned", engine.ErrHostsFail, n, len(p.Hosts))
	}
	return nil
}

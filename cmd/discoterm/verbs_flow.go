package main

import (
	"fmt"

	"github.com/discoterm/discoterm/engine"
)

func registerFlowVerbs() {
	register(&verb{name: "plan", args: "[--branch B] [HOST…]", help: "dry-run: what every pending entry would do on each host", max: -1, run: func(b *batch) error {
		p, err := b.app.eng.Plan(b.ctx, engine.PlanRequest{Branch: b.inv.branch, Hosts: b.inv.args})
		if err != nil {
			return err
		}
		b.out.plan(p)
		return planErr(p)
	}})
	register(&verb{name: "approve", args: "PLAN [--keep-lock]", help: "commit the plan's staged entries (releases the lock) and approve it", min: 1, max: 1,
		flags: []string{"keep-lock"}, run: func(b *batch) error {
			p, err := b.app.eng.Approve(b.arg(0), b.inv.vf.keepLock)
			if err != nil {
				return err
			}
			b.out.ok("approve", fmt.Sprintf("plan %s approved: %d hosts, %d entries; push it with: discoterm --batch push %s", p.ID, len(p.Hosts), p.Entries(), p.ID))
			return nil
		}})
	register(&verb{name: "push", args: "PLAN [--allow-reboot]", help: "apply an approved plan", min: 1, max: 1,
		flags: []string{"allow-reboot"}, run: func(b *batch) error {
			r, err := b.app.eng.Push(b.ctx, b.arg(0), engine.PushOptions{AllowReboot: b.inv.vf.allowReboot})
			if r != nil {
				b.out.push(r)
			}
			return err
		}})
	register(&verb{name: "up", args: "[--yes] [--allow-reboot] [HOST…]", help: "plan + approve + push (for scripts and cron)", max: -1,
		flags: []string{"yes", "allow-reboot"}, run: func(b *batch) error {
			if !b.inv.vf.yes {
				// What is committed only: staged entries are committed by
				// their own approve, after review.
				p, err := b.app.eng.Plan(b.ctx, engine.PlanRequest{Branch: b.inv.branch, Hosts: b.inv.args, NoStaged: true})
				if err != nil {
					return err
				}
				b.out.plan(p)
				ok, err := confirm(fmt.Sprintf("apply plan %s to %d hosts?", p.ID, len(p.Hosts)))
				if err != nil || !ok {
					if err == nil {
						err = fmt.Errorf("%w: not applied", engine.ErrCancelled)
					}
					return err
				}
				if _, err := b.app.eng.Approve(p.ID, false); err != nil {
					return err
				}
				r, err := b.app.eng.Push(b.ctx, p.ID, engine.PushOptions{AllowReboot: b.inv.vf.allowReboot})
				if r != nil {
					b.out.push(r)
				}
				return err
			}
			opts := engine.PushOptions{AllowReboot: b.inv.vf.allowReboot}
			if b.inv.branch == "" && len(b.inv.args) == 0 {
				// Every branch, each host on its own.
				runs, err := b.app.eng.UpAll(b.ctx, opts)
				for _, run := range runs {
					if run.Plan != nil && !b.inv.json {
						b.out.plan(run.Plan)
					}
					if run.Push != nil {
						b.out.push(run.Push)
					}
				}
				return err
			}
			p, r, err := b.app.eng.Up(b.ctx, engine.PlanRequest{Branch: b.inv.branch, Hosts: b.inv.args}, opts)
			if p != nil && !b.inv.json {
				b.out.plan(p)
			}
			if r != nil {
				b.out.push(r)
			}
			return err
		}})
	register(&verb{name: "fork", args: "NEWBRANCH [--from BRANCH]", help: "new branch whose journal copies the parent's", min: 1, max: 1,
		flags: []string{"from"}, run: func(b *batch) error {
			from := b.inv.vf.from
			if from == "" {
				from = b.inv.branch
			}
			if from == "" {
				return fmt.Errorf("%w: fork needs --from BRANCH", engine.ErrUsage)
			}
			if err := b.app.eng.Fork(from, b.arg(0)); err != nil {
				return err
			}
			b.out.ok("fork", fmt.Sprintf("branch %s forked from %s", b.arg(0), from))
			return nil
		}})
	register(&verb{name: "migrate", args: "HOST BRANCH", help: "move a host to a branch whose journal contains what it applied", min: 2, max: 2, run: func(b *batch) error {
		if err := b.app.eng.Migrate(b.ctx, b.arg(0), b.arg(1)); err != nil {
			return err
		}
		b.out.ok("migrate", fmt.Sprintf("%s migrated to %s", b.arg(0), b.arg(1)))
		return nil
	}})
	register(&verb{name: "log", args: "[BRANCH]", help: "a branch's journal, staged entries and host positions", max: 1, run: func(b *batch) error {
		branch := b.inv.branch
		if len(b.inv.args) == 1 {
			branch = b.arg(0)
		}
		if branch == "" {
			bs, err := b.app.eng.Branches()
			if err != nil {
				return err
			}
			if len(bs) != 1 {
				return fmt.Errorf("%w: which branch? log BRANCH", engine.ErrUsage)
			}
			branch = bs[0].Name
		}
		v, err := b.app.eng.Log(branch)
		if err != nil {
			return err
		}
		b.out.log(v)
		return nil
	}})
	register(&verb{name: "report", args: "[HOST]", help: "per entry per host: result, exit code, duration", max: 1, run: func(b *batch) error {
		host := ""
		if len(b.inv.args) == 1 {
			host = b.arg(0)
		}
		rs, err := b.app.eng.Report(host)
		if err != nil {
			return err
		}
		b.out.report(rs)
		return nil
	}})
	register(&verb{name: "audit", args: "[BRANCH]", help: "who locked, unlocked, forced, approved, pushed", max: 1, run: func(b *batch) error {
		branch := ""
		if len(b.inv.args) == 1 {
			branch = b.arg(0)
		}
		as, err := b.app.eng.Audit(branch)
		if err != nil {
			return err
		}
		b.out.audit(as)
		return nil
	}})
}

// planErr is the plan verb's outcome: hosts that could not be planned make
// it a partial failure.
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

package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

func init() {
	register(&verb{name: "help", help: "list the verbs, flags and exit codes", max: -1, run: func(b *batch) error {
		fmt.Print(usageText())
		return nil
	}})
	register(&verb{name: "hosts", help: "list hosts: address, branch, position, last result, last seen", run: func(b *batch) error {
		hs, err := b.app.eng.Hosts(b.ctx)
		if err != nil {
			return err
		}
		b.out.hosts(hs)
		return nil
	}})
	register(&verb{name: "add-host", args: "ADDRESS [--port N --user U --name N]", help: "add a host not found by scanning", min: 1, max: 1,
		flags: []string{"port", "user", "name"}, run: func(b *batch) error {
			h, err := b.app.eng.AddHost(b.ctx, engine.AddHostRequest{Addr: b.arg(0), Port: b.inv.vf.port, User: b.inv.vf.user, Name: b.inv.vf.name})
			if err != nil {
				return err
			}
			b.out.hosts([]engine.HostView{h})
			return nil
		}})
	register(&verb{name: "assign", args: "HOST BRANCH", help: "put a host on a branch (overrides the classification file)", min: 2, max: 2, run: func(b *batch) error {
		if err := b.app.eng.Assign(b.arg(0), b.arg(1)); err != nil {
			return err
		}
		b.out.ok("assign", fmt.Sprintf("%s assigned to %s", b.arg(0), b.arg(1)))
		return nil
	}})
	register(&verb{name: "branches", help: "list branches with head and lock", run: func(b *batch) error {
		bs, err := b.app.eng.Branches()
		if err != nil {
			return err
		}
		if len(bs) == 0 && !b.inv.json {
			b.out.ok("branches", "no branches yet; start one with: discoterm --batch lock main MESSAGE")
		}
		for _, br := range bs {
			_, l, _ := b.app.eng.Staged(br.Name)
			b.out.branch(br, l)
		}
		return nil
	}})
	register(&verb{name: "lock", args: "BRANCH MESSAGE…", help: "lock a branch to stage changes (creates the branch if new)", min: 2, max: -1, run: func(b *batch) error {
		msg := strings.Join(b.inv.args[1:], " ")
		if err := b.app.eng.Lock(b.arg(0), msg); err != nil {
			return err
		}
		b.out.ok("lock", fmt.Sprintf("locked %s: %s", b.arg(0), msg))
		return nil
	}})
	register(&verb{name: "unlock", args: "BRANCH [--force]", help: "release a lock; --force breaks another's (recorded)", min: 1, max: 1,
		flags: []string{"force"}, run: func(b *batch) error {
			if err := b.app.eng.Unlock(b.arg(0), b.inv.vf.force); err != nil {
				return err
			}
			b.out.ok("unlock", "unlocked "+b.arg(0))
			return nil
		}})
	register(&verb{name: "snap", args: "LOCALFILE --to PATH [--mode --owner --group]", help: "stage a snapshot of a file", min: 1, max: 1,
		flags: []string{"to", "mode", "owner", "group"}, run: func(b *batch) error { return b.stageFile(journal.KindFile) }})
	register(&verb{name: "template", args: "LOCALFILE --to PATH [--mode --owner --group]", help: "stage a Go text/template rendered per host", min: 1, max: 1,
		flags: []string{"to", "mode", "owner", "group"}, run: func(b *batch) error { return b.stageFile(journal.KindTemplate) }})
	register(&verb{name: "exec", args: "[--creates PATH] [--unless CMD] -- COMMAND…", help: "stage a shell command", min: 1, max: -1,
		flags: []string{"creates", "unless"}, run: func(b *batch) error {
			branch, err := b.stageBranch()
			if err != nil {
				return err
			}
			e, err := b.app.eng.Stage(branch, engine.StageRequest{Kind: journal.KindExec, Command: strings.Join(b.inv.args, " "),
				Guard: journal.Guard{Creates: b.inv.vf.creates, Unless: b.inv.vf.unless}})
			if err != nil {
				return err
			}
			return b.printStaged(branch, e)
		}})
	register(&verb{name: "reboot", help: "stage a reboot", run: func(b *batch) error {
		branch, err := b.stageBranch()
		if err != nil {
			return err
		}
		e, err := b.app.eng.Stage(branch, engine.StageRequest{Kind: journal.KindReboot})
		if err != nil {
			return err
		}
		return b.printStaged(branch, e)
	}})
	register(&verb{name: "staged", args: "[BRANCH]", help: "list staged (uncommitted) entries", max: 1, run: func(b *batch) error {
		branch := b.inv.branch
		if len(b.inv.args) == 1 {
			branch = b.arg(0)
		}
		if branch == "" {
			var err error
			if branch, err = b.stageBranch(); err != nil {
				return err
			}
		}
		staged, l, err := b.app.eng.Staged(branch)
		if err != nil {
			return err
		}
		b.out.stagedList(branch, staged, l)
		return nil
	}})
	register(&verb{name: "drop", args: "N", help: "remove staged entry N", min: 1, max: 1, run: func(b *batch) error {
		n, err := strconv.Atoi(b.arg(0))
		if err != nil {
			return fmt.Errorf("%w: drop needs the number of a staged entry (see: staged)", engine.ErrUsage)
		}
		branch, err := b.stageBranch()
		if err != nil {
			return err
		}
		if err := b.app.eng.Drop(branch, n); err != nil {
			return err
		}
		b.out.ok("drop", fmt.Sprintf("dropped staged entry #%d on %s", n, branch))
		return nil
	}})
	registerFlowVerbs()
}

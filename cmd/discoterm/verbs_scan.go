package main

import (
	"context"
	"fmt"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
)

func init() {
	register(&verb{name: "scan", args: "[--iface IF] [--for DURATION | --watch] [--interval D]",
		help: "discover hosts by ICMPv6 echo to ff02::1; print them as they appear and change state", max: 0,
		flags: []string{"for", "watch", "interval"}, run: runScan})
	register(&verb{name: "policy", args: "BRANCH --catch-up on|off [--max-age D] [--parallel-catch-up N] [--allow-reboot]",
		help: "catch-up policy: push hosts that come back behind the branch automatically", min: 1, max: 1,
		flags: []string{"catch-up", "max-age", "parallel-catch-up", "allow-reboot"}, run: func(b *batch) error {
			vf := b.inv.vf
			var on bool
			switch vf.catchUp {
			case "on":
				on = true
			case "off":
			default:
				return fmt.Errorf("%w: policy needs --catch-up on or --catch-up off", engine.ErrUsage)
			}
			p := store.CatchUp{Enabled: on, MaxAge: vf.maxAge, Parallel: vf.parallelCU, AllowReboot: vf.allowReboot}
			if err := b.app.eng.SetCatchUp(b.arg(0), p); err != nil {
				return err
			}
			state := "off"
			if on {
				state = fmt.Sprintf("on (max age %s, %d at once, reboots allowed: %v)", p.MaxAge, max(p.Parallel, 1), p.AllowReboot)
			}
			b.out.ok("policy", fmt.Sprintf("catch-up on %s: %s", b.arg(0), state))
			return nil
		}})
}

// runScan runs discovery and prints what it finds as it happens.
func runScan(b *batch) error {
	vf := b.inv.vf
	opts := engine.DiscoverOptions{Interfaces: b.inv.ifaces, Interval: vf.interval}
	ctx := b.ctx
	switch {
	case vf.watch:
	case vf.forDur > 0:
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, vf.forDur)
		defer cancel()
	default:
		opts.Rounds = 1
	}
	events, stop := b.app.eng.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			switch ev := ev.(type) {
			case *engine.ScanEvent:
				if ev.State != "error" { // a failed start is the verb's error
					b.out.event(ev)
				}
			case *engine.HostEvent:
				b.out.event(ev)
			case *engine.LogEvent:
				if ev.Level > engine.LevelInfo || ev.Branch != "" {
					b.out.event(ev)
				}
			}
		}
	}()
	err := b.app.eng.Discover(ctx, opts)
	stop() // events already published stay readable after the close

	<-done
	if err != nil {
		return fmt.Errorf("%w: %v", engine.ErrUsage, err)
	}
	hs, err := b.app.eng.Hosts(b.ctx)
	if err != nil {
		return err
	}
	b.out.hosts(hs)
	return nil
}

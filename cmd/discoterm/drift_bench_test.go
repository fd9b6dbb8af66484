package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// BenchmarkRollout50 is issue 11's measures on one fleet of 50 hosts:
// drift with 12 owned paths each (11 files and a template, all applied)
// side by side with a plan that has nothing pending (the goal: drift
// within 1.2× of it), and a push of one file entry at once against the
// same push in waves of 10, each from cold connections as a --batch run
// has.
func BenchmarkRollout50(b *testing.B) {
	rg := newBenchRig(b, 50)
	ctx := context.Background()
	// rg.stage: 10 files, a template, a guarded exec; one file more.
	rg.stage(b)
	eng, client := rg.engine(b)
	if _, err := eng.Stage("main", engine.StageRequest{Kind: journal.KindFile, Content: []byte("twelfth\n"), Path: "/etc/bench/file10.conf"}); err != nil {
		b.Fatal(err)
	}
	p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
	if err == nil {
		_, err = eng.Approve(p.ID, false)
	}
	if err == nil {
		_, err = eng.Push(ctx, p.ID, engine.PushOptions{})
	}
	client.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plan-nothing-pending", func(b *testing.B) {
		for b.Loop() {
			eng, client := rg.engine(b)
			p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
			if err != nil || p.Hosts[0].Pending() != 0 {
				b.Fatalf("plan: %v", err)
			}
			b.StopTimer()
			rg.perHost(b, client)
			client.Close()
			b.StartTimer()
		}
	})
	b.Run("drift", func(b *testing.B) {
		for b.Loop() {
			eng, client := rg.engine(b)
			rep, err := eng.Drift(ctx, engine.DriftRequest{Branch: "main"})
			if err != nil || rep.Drifted() != 0 || rep.Failed() != 0 || rep.Hosts[0].Checked != 12 {
				b.Fatalf("drift: %v %+v", err, rep.Hosts[0])
			}
			b.StopTimer()
			rg.perHost(b, client)
			client.Close()
			b.StartTimer()
		}
	})
	round := 0
	pushOne := func(b *testing.B, opts engine.PushOptions) {
		for b.Loop() {
			b.StopTimer()
			round++
			eng, client := rg.engine(b)
			p, err := func() (*engine.Plan, error) {
				if err := eng.Lock("main", "bench push"); err != nil {
					return nil, err
				}
				if _, err := eng.Stage("main", engine.StageRequest{Kind: journal.KindFile, Content: []byte(fmt.Sprintf("round %d\n", round)), Path: "/etc/bench/wave.conf"}); err != nil {
					return nil, err
				}
				p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
				if err != nil {
					return nil, err
				}
				return eng.Approve(p.ID, false)
			}()
			client.Close()
			if err != nil {
				b.Fatal(err)
			}
			eng, client = rg.engine(b)
			b.StartTimer()
			r, err := eng.Push(ctx, p.ID, opts)
			b.StopTimer()
			if err != nil || r.Failed() > 0 {
				b.Fatalf("push: %v", err)
			}
			client.Close()
			b.StartTimer()
		}
	}
	b.Run("push-at-once", func(b *testing.B) { pushOne(b, engine.PushOptions{}) })
	ten := store.Amount{N: 10}
	b.Run("push-waves-of-10", func(b *testing.B) { pushOne(b, engine.PushOptions{Wave: &ten}) })
}

package main

import (
	"context"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// BenchmarkDrift50 is issue 11's measure: drift on 50 fleet hosts with 12
// owned paths each (11 files and a template, all applied) side by side
// with a plan that has nothing pending, each from cold connections as a
// --batch run has. The goal: drift within 1.2× of the plan.
func BenchmarkDrift50(b *testing.B) {
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
}

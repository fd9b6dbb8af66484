package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
)

// benchPrepare measures push --prepare of the fleet benchmark's plan (10
// files, a template, a guarded exec) beside a live push of the same plan:
// wall time, round trips and bytes per host. The window is days ahead, so
// nothing applies; the waiters are disarmed after each round.
func benchPrepare(b *testing.B, n int) {
	rg := newBenchRig(b, n)
	ctx := context.Background()
	at := time.Now().UTC().Add(72 * time.Hour)
	rg.stage(b)
	eng, client := rg.engine(b)
	p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := eng.Approve(p.ID, false); err != nil {
		b.Fatal(err)
	}
	if err := eng.SetWindows("main", []string{fmt.Sprintf("%s-%s UTC", at.Format("Mon 15:04"), at.Add(time.Hour).Format("15:04"))}); err != nil {
		b.Fatal(err)
	}
	client.Close()
	b.Run("prepare", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			eng, client := rg.engine(b)
			p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := eng.Approve(p.ID, false); err != nil {
				b.Fatal(err)
			}
			client.Close()
			eng, client = rg.engine(b)
			b.StartTimer()
			r, err := eng.PreparePush(ctx, p.ID, engine.PushOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if r.Hosts[0].Status != engine.PushPrepared {
				b.Fatalf("prepare: %+v", r.Hosts[0])
			}
			rg.perHost(b, client)
			client.Close()
			eng, client = rg.engine(b)
			if _, err := eng.Collect(ctx, nil, "main", true); err != nil { // disarm
				b.Fatal(err)
			}
			client.Close()
			b.StartTimer()
		}
	})
}

func BenchmarkPrepare10(b *testing.B) { benchPrepare(b, 10) }
func BenchmarkPrepare50(b *testing.B) { benchPrepare(b, 50) }

package engine

import (
	"testing"
	"time"
)

// A subscriber that does not read for a while loses old progress events,
// never the events that end an operation, and gets those in order.
func TestBusNeverDropsCriticalEvents(t *testing.T) {
	var b bus
	ch, stop := b.subscribe(100)
	for i := range 5000 {
		b.publish(&PlanHostEvent{Host: HostPlan{Name: "h"}})
		if i%50 == 0 {
			b.publish(&PlanDoneEvent{PlanID: "p", Hosts: i})
		}
	}
	b.publish(&PushDoneEvent{PlanID: "last"})
	stop()
	var done []int
	progress, last := 0, false
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				if len(done) != 100 {
					t.Fatalf("%d plan.done events delivered, want all 100", len(done))
				}
				for i, n := range done {
					if n != i*50 {
						t.Fatalf("plan.done out of order: %v", done)
					}
				}
				if !last {
					t.Fatal("the last push.done was dropped")
				}
				if progress > 100 {
					t.Errorf("%d progress events kept for a subscriber limited to 100", progress)
				}
				return
			}
			switch ev := ev.(type) {
			case *PlanDoneEvent:
				done = append(done, ev.Hosts)
			case *PlanHostEvent:
				progress++
			case *PushDoneEvent:
				last = true
			}
		case <-timeout:
			t.Fatal("the subscription did not close")
		}
	}
}

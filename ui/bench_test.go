package ui

import (
	"runtime"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/ui/uitest"
)

// The hosts table of a 10,000-host fleet, one frame.
func BenchmarkHostsView10k(b *testing.B) {
	d := newDriver(b, uitest.Options{Hosts: 10000}, 160, 48)
	d.keys("G") // the bottom: no cheating with the first rows
	b.ReportAllocs()
	for b.Loop() {
		_ = d.m.View()
	}
}

// Re-sorting and re-filtering 10,000 hosts after a change (what a burst
// of events costs before its frame).
func BenchmarkHostsPrepare10k(b *testing.B) {
	d := newDriver(b, uitest.Options{Hosts: 10000}, 160, 48)
	b.ReportAllocs()
	for b.Loop() {
		d.m.hosts.dirty = true
		d.m.hosts.prepare()
	}
}

// planFor500 builds a plan of 500 hosts with staged entries.
func planFor500(b *testing.B) (*driver, *engine.Plan) {
	d := newDriver(b, uitest.Options{Hosts: 625, Entries: 40}, 160, 48) // 500 on main
	d.f.Lock("main", "bench")
	d.f.Stage("main", engine.StageRequest{Kind: "file", Path: "/etc/motd"})
	p, err := d.f.Plan(b.Context(), engine.PlanRequest{Branch: "main"})
	if err != nil || len(p.Hosts) != 500 {
		b.Fatalf("plan of %d hosts: %v", len(p.Hosts), err)
	}
	return d, p
}

// A 500-host plan arriving: grouping identical changes, colouring diffs
// with word highlights, and the first frame.
func BenchmarkPlanReview500(b *testing.B) {
	d, p := planFor500(b)
	d.m.focusView(viewPlan)
	b.ReportAllocs()
	for b.Loop() {
		d.m.review.setPlan(p)
		_ = d.m.View()
	}
	b.ReportMetric(float64(len(d.m.review.lines)), "lines")
}

// Scrolling the review of a 500-host plan: one key and its frame.
func BenchmarkPlanScroll500(b *testing.B) {
	d, p := planFor500(b)
	d.m.review.setPlan(p)
	d.m.focusView(viewPlan)
	down := keyMsg("j")
	b.ReportAllocs()
	for b.Loop() {
		d.m.Update(down)
		_ = d.m.View()
	}
}

// A key press while 10,000 hosts stream events: the burst queued ahead of
// the key is applied (one Update), then the key, then one frame — the
// time the operator waits for the screen to answer.
func BenchmarkKeyAfterBurst10k(b *testing.B) {
	d := newDriver(b, uitest.Options{Hosts: 10000}, 160, 48)
	hs, _ := d.f.Hosts(b.Context())
	burst := make(eventsMsg, maxBurst)
	for i := range burst {
		h := hs[i%len(hs)]
		h.Liveness = "alive"
		if i%3 == 0 {
			h.Liveness = "lost"
		}
		burst[i] = &engine.HostEvent{Header: engine.Header{Time: uitest.Epoch}, Change: engine.HostChange(h.Liveness), Host: h}
	}
	down := keyMsg("j")
	var burstTime, keyTime time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		d.m.Update(burst)
		t1 := time.Now()
		d.m.Update(down)
		_ = d.m.View()
		keyTime += time.Since(t1)
		burstTime += t1.Sub(t0)
	}
	b.ReportMetric(float64(burstTime.Nanoseconds())/float64(b.N), "burst-ns/op")
	b.ReportMetric(float64(keyTime.Nanoseconds())/float64(b.N), "key+frame-ns/op")
}

// What 10,000 hosts and a 100,000-entry journal cost in memory.
func BenchmarkMemory10kHosts100kEntries(b *testing.B) {
	for b.Loop() {
		f := uitest.New(uitest.Options{Hosts: 10000, Entries: 100000})
		hs, _ := f.Hosts(b.Context())
		jv, _ := f.Log("main")
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := NewModel(f, Options{Theme: "dark", Now: func() time.Time { return uitest.Epoch }})
		if err != nil {
			b.Fatal(err)
		}
		m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
		m.Update(hostsMsg{hosts: hs})
		m.Update(journalMsg{branch: "main", view: jv})
		m.focusView(viewJournal)
		_ = m.View()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "ui-heap-B")
		runtime.KeepAlive(m)
		runtime.KeepAlive(hs)
		m.Close()
	}
}

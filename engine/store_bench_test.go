package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/store/natstest"
)

// storeBackends opens two stores on one fresh backing (two processes,
// two connections) for each backend.
var storeBackends = []struct {
	name string
	open func(b *testing.B) (store.Store, store.Store)
}{
	{"file", func(b *testing.B) (store.Store, store.Store) {
		p := filepath.Join(b.TempDir(), "s.db")
		return benchOpen(b, func() (store.Store, error) { return store.Open(p, store.Options{}) }),
			benchOpen(b, func() (store.Store, error) { return store.Open(p, store.Options{}) })
	}},
	{"nats", func(b *testing.B) (store.Store, store.Store) {
		url := natstest.Start(b) + "/bench"
		o := func() (store.Store, error) { return store.OpenNATS(store.NATSOptions{URL: url}) }
		return benchOpen(b, o), benchOpen(b, o)
	}},
}

func benchOpen(b *testing.B, open func() (store.Store, error)) store.Store {
	s, err := open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkStoreOps is the latency of what operators do most, on each
// backend: lock (+ unlock), staged, hosts (50 hosts).
func BenchmarkStoreOps(b *testing.B) {
	for _, be := range storeBackends {
		b.Run(be.name, func(b *testing.B) {
			st, _ := be.open(b)
			eng, err := engine.New(engine.Options{Store: st, Operator: "alice"})
			if err != nil {
				b.Fatal(err)
			}
			if err := st.Update(func(tx store.Tx) error {
				for i := range 50 {
					if err := tx.PutHost(store.Host{ID: fmt.Sprintf("mid:%032x", i), Name: fmt.Sprintf("node%d", i), Addr: "fd00::1"}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			b.Run("lock+unlock", func(b *testing.B) {
				for b.Loop() {
					if err := eng.Lock("main", "bench"); err != nil {
						b.Fatal(err)
					}
					if err := eng.Unlock("main", false); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("staged", func(b *testing.B) {
				for b.Loop() {
					if _, _, err := eng.Staged("main"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("hosts-50", func(b *testing.B) {
				for b.Loop() {
					if hs, err := eng.Hosts(context.Background()); err != nil || len(hs) != 50 {
						b.Fatal(len(hs), err)
					}
				}
			})
		})
	}
}

// BenchmarkWatchLatency is the time from one process's lock to the lock
// event in another process's engine (its console), on each backend.
func BenchmarkWatchLatency(b *testing.B) {
	for _, be := range storeBackends {
		b.Run(be.name, func(b *testing.B) {
			sa, sb := be.open(b)
			alice, _ := engine.New(engine.Options{Store: sa, Operator: "alice"})
			bob, _ := engine.New(engine.Options{Store: sb, Operator: "bob"})
			events, stop := alice.Subscribe()
			defer stop()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = alice.Watch(ctx) }()
			time.Sleep(100 * time.Millisecond)
			var total time.Duration
			wait := func(state string) time.Duration {
				start := time.Now()
				for {
					select {
					case ev := <-events:
						if l, ok := ev.(*engine.LockEvent); ok && l.State == state {
							return time.Since(start)
						}
					case <-time.After(2 * time.Second):
						b.Fatalf("no %s event within 2s", state)
					}
				}
			}
			for b.Loop() {
				if err := bob.Lock("main", "bench"); err != nil {
					b.Fatal(err)
				}
				total += wait("locked")
				if err := bob.Unlock("main", false); err != nil {
					b.Fatal(err)
				}
				wait("unlocked")
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/lock-seen")
		})
	}
}

// BenchmarkPlanStoreCost plans 50 fake hosts (no network: the fake
// remote answers at once) with a file and a template staged, on each
// backend: what is left is the engine's own work and the store's, so the
// difference between the two is what the shared store adds to a plan.
func BenchmarkPlanStoreCost(b *testing.B) {
	for _, be := range storeBackends {
		b.Run(be.name, func(b *testing.B) {
			st, _ := be.open(b)
			v := envOn(b, st)
			v.addHosts("node", 50)
			v.lock("main")
			v.stage("main", fileReq("/etc/bench.conf", "x = 1\n"), tmplReq("/etc/host.conf", "host {{.HOSTNAME}}\n"))
			ctx := context.Background()
			for b.Loop() {
				if _, err := v.eng.Plan(ctx, engine.PlanRequest{Branch: "main"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package engine_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/store/natstest"
)

// TestWatchShowsOtherProcess: alice's engine follows the store while bob,
// on his own open of it (another process, another NATS connection), locks,
// stages and unlocks; alice's engine reports each within a second, naming
// bob, and reports none of her own changes twice.
func TestWatchShowsOtherProcess(t *testing.T) {
	backends := map[string]func(t *testing.T) (store.Store, store.Store){
		"bolt": func(t *testing.T) (store.Store, store.Store) {
			p := filepath.Join(t.TempDir(), "s.db")
			return openT(t, func() (store.Store, error) { return store.Open(p, store.Options{}) }),
				openT(t, func() (store.Store, error) { return store.Open(p, store.Options{}) })
		},
		"nats": func(t *testing.T) (store.Store, store.Store) {
			url := natstest.Start(t) + "/w"
			o := func() (store.Store, error) { return store.OpenNATS(store.NATSOptions{URL: url}) }
			return openT(t, o), openT(t, o)
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			sa, sb := open(t)
			alice, err := engine.New(engine.Options{Store: sa, Operator: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			bob, err := engine.New(engine.Options{Store: sb, Operator: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			if err := bob.Lock("main", "first"); err != nil {
				t.Fatal(err)
			}
			if err := bob.Unlock("main", false); err != nil {
				t.Fatal(err)
			}
			events, stop := alice.Subscribe()
			defer stop()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = alice.Watch(ctx) }()
			time.Sleep(100 * time.Millisecond) // the watcher's first snapshot

			start := time.Now()
			if err := bob.Lock("main", "ntp rollout"); err != nil {
				t.Fatal(err)
			}
			ev := waitEvent(t, events, func(ev engine.Event) bool {
				l, ok := ev.(*engine.LockEvent)
				return ok && l.State == "locked" && l.Lock != nil && l.Lock.Holder == "bob"
			})
			t.Logf("lock seen after %v: %s", time.Since(start), ev.Meta().Message)
			if _, err := bob.Stage("main", fileReq("/etc/motd", "hi\n")); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, events, func(ev engine.Event) bool {
				s, ok := ev.(*engine.StagedEvent)
				return ok && s.Branch == "main" && s.Count == 1
			})
			if err := bob.Unlock("main", true); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, events, func(ev engine.Event) bool {
				l, ok := ev.(*engine.LockEvent)
				return ok && l.State == "unlocked"
			})
			// Alice's own lock: her engine's event, not a second one from the watcher.
			if err := alice.Lock("main", "mine"); err != nil {
				t.Fatal(err)
			}
			n := 0
			deadline := time.After(500 * time.Millisecond)
		count:
			for {
				select {
				case ev := <-events:
					if l, ok := ev.(*engine.LockEvent); ok && l.State == "locked" {
						n++
					}
				case <-deadline:
					break count
				}
			}
			if n != 1 {
				t.Errorf("alice's own lock was reported %d times, want once", n)
			}
		})
	}
}

func openT(t *testing.T, open func() (store.Store, error)) store.Store {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func waitEvent(t *testing.T, events <-chan engine.Event, match func(engine.Event) bool) engine.Event {
	t.Helper()
	deadline := time.After(time.Second)
	for {
		select {
		case ev := <-events:
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatal("no matching event within a second")
			return nil
		}
	}
}

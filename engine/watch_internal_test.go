package engine

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/store"
)

// TestRunningConsoleRenewsLocks: while the holder's console runs (its
// watch loop renews), the lock outlives its TTL; renewLocks touches only
// the operator's own, unexpired locks.
func TestRunningConsoleRenewsLocks(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	mk := func(op string) *Engine {
		e, err := New(Options{Store: st, Operator: op, Clock: clock, LockTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	alice, bob := mk("alice"), mk("bob")
	if err := alice.Lock("main", "long job"); err != nil {
		t.Fatal(err)
	}
	if err := bob.Lock("other", "bob's"); err != nil {
		t.Fatal(err)
	}
	for range 3 { // three hours, renewed every 40 minutes
		advance(40 * time.Minute)
		alice.renewLocks()
	}
	if err := bob.Lock("main", "mine now?"); !errors.Is(err, ErrLockHeld) {
		t.Fatalf("bob took a lock alice's console kept renewing: %v", err)
	}
	_ = st.View(func(tx store.Tx) error {
		l, _ := tx.Lock("main")
		if want := clock().Add(time.Hour); !l.Expires.Equal(want) {
			t.Errorf("main expires %v, want %v", l.Expires, want)
		}
		o, _ := tx.Lock("other")
		if o.Holder != "bob" || !o.Expired(clock()) {
			t.Errorf("alice's renewal touched bob's lock: %+v", o)
		}
		return nil
	})
}

// TestWatcherReportsAPlanFirstSeenPushed: a plan made, approved and
// pushed by another process between two looks (a cron `up`) is reported
// as made, approved and pushed, not only as made.
func TestWatcherReportsAPlanFirstSeenPushed(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := New(Options{Store: st, Operator: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	evs, stop := e.Subscribe()
	defer stop()
	w := &watcher{e: e, plans: map[string]store.PlanRecord{"p1": {ID: "p1", Branch: "main", Author: "bob", Approved: true, Approver: "carol", Pushed: true}}}
	w.diffPlans(map[string]store.PlanRecord{})
	var got []string
	for timeout := time.After(2 * time.Second); len(got) < 3; {
		select {
		case ev := <-evs:
			got = append(got, ev.Meta().Message)
		case <-timeout:
			t.Fatalf("events %q, want three", got)
		}
	}
	want := []string{"plan p1 of main made by bob", "plan p1 of main approved by carol", "plan p1 of main pushed"}
	if len(got) != len(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d %q, want %q", i, got[i], want[i])
		}
	}
}

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

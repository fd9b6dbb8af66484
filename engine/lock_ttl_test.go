package engine_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLockTTL: a lock lasts its TTL from the holder's last action; once
// expired another operator takes it (recorded), unless staged entries
// under it would be lost.
func TestLockTTL(t *testing.T) {
	v := newEnv(t)
	c := &clock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	withClock := func(o *engine.Options) { o.Clock = c.Now; o.LockTTL = time.Hour }
	alice, bob := v.engine("alice", withClock), v.engine("bob", withClock)

	if err := alice.Lock("main", "ntp"); err != nil {
		t.Fatal(err)
	}
	c.add(50 * time.Minute)
	if err := bob.Lock("main", "mine"); !errors.Is(err, engine.ErrLockHeld) {
		t.Fatalf("bob before expiry: %v, want ErrLockHeld", err)
	}
	// Staging renews: 50 more minutes later the lock still holds.
	if _, err := alice.Stage("main", fileReq("/etc/motd", "hi\n")); err != nil {
		t.Fatal(err)
	}
	c.add(50 * time.Minute)
	if err := bob.Lock("main", "mine"); !errors.Is(err, engine.ErrLockHeld) {
		t.Fatalf("bob after a renewal: %v, want ErrLockHeld", err)
	}
	// Expired, but alice's staged entry would be lost: refused, saying how.
	c.add(20 * time.Minute)
	err := bob.Lock("main", "mine")
	if !errors.Is(err, engine.ErrLockHeld) {
		t.Fatalf("bob over staged entries: %v, want ErrLockHeld", err)
	}
	wantContains(t, "expired lock with staged", err.Error(), "expired at", "1 staged entries", "unlock main --force")
	if _, err := alice.Stage("main", fileReq("/etc/issue", "x\n")); err != nil {
		t.Fatalf("alice after expiry, lock not taken by anyone: %v", err)
	}
	if err := alice.Unlock("main", true); err != nil {
		t.Fatal(err)
	}
	// An expired lock with nothing staged is free.
	if err := alice.Lock("main", "again"); err != nil {
		t.Fatal(err)
	}
	c.add(61 * time.Minute)
	if _, err := alice.Stage("main", fileReq("/etc/motd", "hi\n")); err != nil {
		t.Fatalf("the holder staging on its own expired lock: %v", err)
	}
	if err := alice.Drop("main", 1); err != nil {
		t.Fatal(err)
	}
	c.add(61 * time.Minute)
	if err := bob.Lock("main", "mine"); err != nil {
		t.Fatalf("bob on an expired lock: %v", err)
	}
	if _, err := alice.Stage("main", fileReq("/etc/motd", "hi\n")); !errors.Is(err, engine.ErrLockHeld) {
		t.Errorf("alice after bob took her expired lock: %v", err)
	}
	audit, err := bob.Audit("main")
	if err != nil {
		t.Fatal(err)
	}
	var expired bool
	for _, a := range audit {
		if a.Action == "lock-expired" && a.Actor == "bob" {
			expired = true
			wantContains(t, "audit", a.Message, "lock of alice", "again")
		}
	}
	if !expired {
		t.Errorf("no lock-expired audit record: %+v", audit)
	}
}

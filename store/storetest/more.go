package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

var errAbort = errors.New("abort")

// testFailedUpdateWritesNothing: Update is all-or-nothing; an fn that
// fails after writing to every area leaves no trace.
func testFailedUpdateWritesNothing(t *testing.T, open Opener) {
	s := open(t)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutBranch(store.Branch{Name: "main", Created: t0}) })
	es := sealed(nil, 2)
	var sum string
	err := s.Update(func(tx store.Tx) error {
		var err error
		for _, step := range []func() error{
			func() error { return tx.PutHost(store.Host{ID: "h1"}) },
			func() error { return tx.PutBranch(store.Branch{Name: "other"}) },
			func() error { return tx.Append("main", es) },
			func() error { return tx.PutLock(store.Lock{Branch: "main", Holder: "alice"}) },
			func() error { return tx.PutStaged("main", es) },
			func() error { return tx.PutPlan(store.PlanRecord{ID: "p1", Branch: "main"}) },
			func() error { return tx.AddResults([]store.RunResult{{HostID: "h1"}}) },
			func() error { return tx.AddAudit(store.AuditRecord{Branch: "main", Action: "lock"}) },
			func() error { sum, err = tx.PutBlob([]byte("never stored")); return err },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		// Reads inside the transaction see its own writes.
		if b, err := tx.Branch("main"); err != nil || b.Head != 2 {
			return fmt.Errorf("head inside the transaction: %+v %v", b, err)
		}
		if got, err := tx.Blob(sum); err != nil || string(got) != "never stored" {
			return fmt.Errorf("blob inside the transaction: %q %v", got, err)
		}
		if l, err := tx.Lock("main"); err != nil || l.Holder != "alice" {
			return fmt.Errorf("lock inside the transaction: %+v %v", l, err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	_ = s.View(func(tx store.Tx) error {
		if hs, _ := tx.Hosts(); len(hs) != 0 {
			t.Errorf("hosts after a failed update: %v", hs)
		}
		if bs, _ := tx.Branches(); len(bs) != 1 {
			t.Errorf("branches after a failed update: %v", bs)
		}
		if b, _ := tx.Branch("main"); b.Head != 0 {
			t.Errorf("head after a failed update: %d", b.Head)
		}
		if j, _ := tx.Journal("main"); len(j) != 0 {
			t.Errorf("journal after a failed update: %d entries", len(j))
		}
		if _, err := tx.Lock("main"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("lock after a failed update: %v", err)
		}
		if st, _ := tx.Staged("main"); len(st) != 0 {
			t.Errorf("staged after a failed update: %v", st)
		}
		if ps, _ := tx.Plans(); len(ps) != 0 {
			t.Errorf("plans after a failed update: %v", ps)
		}
		if rs, _ := tx.Results(""); len(rs) != 0 {
			t.Errorf("results after a failed update: %v", rs)
		}
		if as, _ := tx.Audit(""); len(as) != 0 {
			t.Errorf("audit after a failed update: %v", as)
		}
		if _, err := tx.Blob(sum); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("blob after a failed update: %v", err)
		}
		return nil
	})
}

// testSecondOpenSeesWrites: what one open (process, connection) commits,
// another reads in its next transaction.
func testSecondOpenSeesWrites(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	mustUpdate(t, a, func(tx store.Tx) error {
		return tx.PutLock(store.Lock{Branch: "main", Holder: "alice", Message: "m", Time: t0})
	})
	var got store.Lock
	if err := b.View(func(tx store.Tx) error { var err error; got, err = tx.Lock("main"); return err }); err != nil || got.Holder != "alice" {
		t.Fatalf("second open sees lock %+v, %v", got, err)
	}
	mustUpdate(t, b, func(tx store.Tx) error { return tx.DeleteLock("main") })
	if err := a.View(func(tx store.Tx) error { _, err := tx.Lock("main"); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("first open still sees the lock: %v", err)
	}
}

// testConcurrentReadModifyWrite: transactions from several opens that read
// a record and write it back never lose an update.
func testConcurrentReadModifyWrite(t *testing.T, open Opener) {
	const opens, each = 4, 10
	stores := make([]store.Store, opens)
	for i := range stores {
		stores[i] = open(t)
	}
	mustUpdate(t, stores[0], func(tx store.Tx) error { return tx.PutHost(store.Host{ID: "counter"}) })
	var wg sync.WaitGroup
	errs := make(chan error, opens*each)
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- s.Update(func(tx store.Tx) error {
					h, err := tx.Host("counter")
					if err != nil {
						return err
					}
					h.Position++
					return tx.PutHost(h)
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	_ = stores[0].View(func(tx store.Tx) error {
		h, _ := tx.Host("counter")
		if h.Position != opens*each {
			t.Errorf("counter = %d after %d increments: updates were lost", h.Position, opens*each)
		}
		return nil
	})
}

// testLockRace: many opens try to take one branch lock at once, each
// checking it is free first, as the engine does: exactly one gets it.
func testLockRace(t *testing.T, open Opener) {
	const n = 8
	var wg sync.WaitGroup
	won := make(chan int, n)
	for i := range n {
		s := open(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(func(tx store.Tx) error {
				if l, err := tx.Lock("main"); err == nil {
					return fmt.Errorf("held by %s", l.Holder)
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				return tx.PutLock(store.Lock{Branch: "main", Holder: fmt.Sprint("op", i), Time: t0})
			})
			if err == nil {
				won <- i
			}
		}()
	}
	wg.Wait()
	close(won)
	var winners []int
	for i := range won {
		winners = append(winners, i)
	}
	if len(winners) != 1 {
		t.Fatalf("%d winners %v, want 1", len(winners), winners)
	}
	_ = open(t).View(func(tx store.Tx) error {
		l, err := tx.Lock("main")
		if err != nil || l.Holder != fmt.Sprint("op", winners[0]) {
			t.Errorf("lock = %+v, %v; want op%d", l, err, winners[0])
		}
		return nil
	})
}

// testAppendRace: several opens append an entry sealed against the same
// head: one lands, the others get ErrHeadMoved, and the chain verifies.
func testAppendRace(t *testing.T, open Opener) {
	const n = 6
	base := sealed(nil, 1)
	mustUpdate(t, open(t), func(tx store.Tx) error {
		if err := tx.PutBranch(store.Branch{Name: "main", Created: t0}); err != nil {
			return err
		}
		return tx.Append("main", base)
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	cands := make([][]journal.Entry, n)
	for i := range n {
		e := journal.Seal(&base[0], journal.Entry{Kind: journal.KindExec, Command: fmt.Sprint("echo ", i), Author: fmt.Sprint("op", i), Time: t0})
		cands[i] = []journal.Entry{e}
		s := open(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(func(tx store.Tx) error { return tx.Append("main", cands[i]) })
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("both %d and %d appended seq 2", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrHeadMoved):
			t.Errorf("loser %d: %v, want ErrHeadMoved", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no append landed")
	}
	_ = open(t).View(func(tx store.Tx) error {
		b, _ := tx.Branch("main")
		j, err := tx.Journal("main")
		if err != nil {
			t.Fatal(err)
		}
		if err := journal.Verify("main", j, b.HeadHash); err != nil {
			t.Errorf("Verify: %v", err)
		}
		if len(j) != 2 || !reflect.DeepEqual(j[1], cands[winner][0]) {
			t.Errorf("journal %v, want base + the winner's entry", j)
		}
		return nil
	})
}

// testOddKeys: IDs and names with every character the engine allows (and
// some it does not produce) round-trip and list in order.
func testOddKeys(t *testing.T, open Opener) {
	s := open(t)
	ids := []string{"mid:0123abcd", "key:SHA256:+/x=", "mac:52:54:00:aa:bb:cc", "a.b", "trailing.", "ünï", "-dash", "x y"}
	branches := []string{"main", "release.1", "a..b", "end.", "_x", "x-1"}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, id := range ids {
			if err := tx.PutHost(store.Host{ID: id, Name: id}); err != nil {
				return err
			}
			if err := tx.AddResults([]store.RunResult{{HostID: id, Result: "ok"}}); err != nil {
				return err
			}
		}
		for _, b := range branches {
			if err := tx.PutBranch(store.Branch{Name: b}); err != nil {
				return err
			}
			if err := tx.Append(b, sealed(nil, 2)); err != nil {
				return err
			}
			if err := tx.PutLock(store.Lock{Branch: b, Holder: "h"}); err != nil {
				return err
			}
			if err := tx.AddAudit(store.AuditRecord{Branch: b, Action: "lock"}); err != nil {
				return err
			}
		}
		return nil
	})
	_ = s.View(func(tx store.Tx) error {
		hs, err := tx.Hosts()
		if err != nil || len(hs) != len(ids) {
			t.Fatalf("hosts %v, %v", hs, err)
		}
		for i := 1; i < len(hs); i++ {
			if hs[i-1].ID >= hs[i].ID {
				t.Errorf("hosts not ordered by ID: %q before %q", hs[i-1].ID, hs[i].ID)
			}
		}
		for _, id := range ids {
			if h, err := tx.Host(id); err != nil || h.Name != id {
				t.Errorf("Host(%q) = %+v, %v", id, h, err)
			}
			if rs, err := tx.Results(id); err != nil || len(rs) != 1 || rs[0].HostID != id {
				t.Errorf("Results(%q) = %v, %v", id, rs, err)
			}
		}
		bs, _ := tx.Branches()
		if len(bs) != len(branches) {
			t.Errorf("branches %v", bs)
		}
		for _, b := range branches {
			if j, err := tx.Journal(b); err != nil || len(j) != 2 {
				t.Errorf("Journal(%q) = %d entries, %v", b, len(j), err)
			}
			if as, err := tx.Audit(b); err != nil || len(as) != 1 {
				t.Errorf("Audit(%q) = %v, %v", b, as, err)
			}
		}
		return nil
	})
}

// testBlobs: Blobs lists every stored sum once, in order, including a
// transaction's own; a big plan's data is not a content blob.
func testBlobs(t *testing.T, open Opener) {
	s := open(t)
	var sums []string
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, c := range []string{"b", "a", "c", "a"} {
			sum, err := tx.PutBlob([]byte(c))
			if err != nil {
				return err
			}
			sums = append(sums, sum)
		}
		if err := tx.PutPlan(store.PlanRecord{ID: "big", Data: make([]byte, 600<<10)}); err != nil {
			return err
		}
		got, err := tx.Blobs()
		if err != nil || len(got) != 3 {
			t.Errorf("Blobs inside the transaction: %v, %v", got, err)
		}
		return nil
	})
	_ = s.View(func(tx store.Tx) error {
		got, err := tx.Blobs()
		if err != nil {
			t.Fatal(err)
		}
		want := []string{sums[1], sums[0], sums[2]}
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Blobs = %v, want %v", got, want)
		}
		if p, err := tx.Plan("big"); err != nil || len(p.Data) != 600<<10 {
			t.Errorf("big plan: %d bytes, %v", len(p.Data), err)
		}
		return nil
	})
}

// Package storetest is the contract every store.Store backend keeps: one
// suite, run by each backend's tests against a real instance (a temp
// bbolt file; an in-process NATS server with JetStream).
package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// Opener returns a store on the backend's storage for the current test.
// The first call in a test makes fresh, empty storage; later calls in the
// same test open the same storage again, as another process would (another
// open of the file, another NATS connection). The opener closes what it
// opened when the test ends.
type Opener func(t *testing.T) store.Store

// Run runs the whole contract against one backend.
func Run(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"RoundTrip", testRoundTrip},
		{"JournalAppendAndLoad", testJournalAppendAndLoad},
		{"AppendRefused", testAppendRefused},
		{"NotFound", testNotFound},
		{"WritesInViewRefused", testWritesInViewRefused},
		{"FailedUpdateWritesNothing", testFailedUpdateWritesNothing},
		{"SecondOpenSeesWrites", testSecondOpenSeesWrites},
		{"ConcurrentReadModifyWrite", testConcurrentReadModifyWrite},
		{"LockRace", testLockRace},
		{"AppendRace", testAppendRace},
		{"OddKeys", testOddKeys},
		{"Blobs", testBlobs},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// Sealed returns n sealed exec entries continuing after prev (nil: from 1).
func Sealed(prev *journal.Entry, n int) []journal.Entry {
	out := make([]journal.Entry, 0, n)
	for i := 0; i < n; i++ {
		e := journal.Seal(prev, journal.Entry{
			Kind: journal.KindExec, Command: fmt.Sprintf("echo %d", i),
			Author: "alice", Message: "change " + strconv.Itoa(i), Time: t0.Add(time.Duration(i) * time.Second),
		})
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}

func sealed(prev *journal.Entry, n int) []journal.Entry { return Sealed(prev, n) }

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func testRoundTrip(t *testing.T, open Opener) {
	s := open(t)
	host := store.Host{ID: "mid:abc", Name: "web1", Addr: "fe80::1%br0", Addrs: []string{"fe80::1%br0", "10.0.0.5"},
		Port: 2222, User: "root", MAC: "52:54:00:12:34:56", Trusted: true, Branch: "web",
		Position: 7, PositionHash: "ab", StateSeen: t0, LastResult: "ok", LastPush: t0, RTT: 3 * time.Millisecond, Liveness: "alive",
		Drift: &store.DriftSummary{Checked: t0, Position: 7, Paths: []string{"/etc/motd", "/etc/ntp.conf"}}}
	branch := store.Branch{Name: "web", Parent: "main", ForkSeq: 3, Created: t0,
		CatchUp: store.CatchUp{Enabled: true, MaxAge: time.Hour, Parallel: 4},
		Rollout: store.Rollout{Canary: 1, Wave: &store.Amount{N: 20, Percent: true}, MaxFail: &store.Amount{N: 0},
			Pause: time.Minute, AliveWithin: 5 * time.Minute, DriftEvery: time.Hour, Repair: true}}
	lock := store.Lock{Branch: "web", Holder: "alice@jump1", Message: "ntp", Time: t0}
	staged := []journal.Entry{{Kind: journal.KindFile, Path: "/etc/motd", Blob: strings.Repeat("a", 64), Mode: 0o644, Message: "motd", Time: t0}}
	plan := store.PlanRecord{ID: "p1", Branch: "web", Created: t0, Author: "alice", Approved: true, Approver: "bob", Data: []byte(`{"x":1}`)}
	results := []store.RunResult{
		{PlanID: "p1", HostID: "h1", Branch: "web", Seq: 1, Kind: journal.KindExec, Result: "ok", Duration: time.Second, Time: t0},
		{PlanID: "p1", HostID: "h2", Branch: "web", Seq: 1, Kind: journal.KindExec, Result: "failed", ExitCode: 2, Output: "boom", Time: t0},
		{PlanID: "p1", HostID: "h1", Branch: "web", Seq: 2, Kind: journal.KindReboot, Result: "reboot-pending", Time: t0},
	}
	audit := []store.AuditRecord{
		{Branch: "web", Time: t0, Actor: "alice", Action: "lock", Message: "ntp"},
		{Branch: "main", Time: t0, Actor: "bob", Action: "fork", Message: "web"},
	}
	blob := []byte("hello\x00world\n")
	var sum string

	mustUpdate(t, s, func(tx store.Tx) error {
		var err error
		for _, step := range []func() error{
			func() error { return tx.PutHost(host) },
			func() error { return tx.PutBranch(branch) },
			func() error { return tx.PutLock(lock) },
			func() error { return tx.PutStaged("web", staged) },
			func() error { return tx.PutPlan(plan) },
			func() error { return tx.AddResults(results) },
			func() error { return tx.AddAudit(audit[0]) },
			func() error { return tx.AddAudit(audit[1]) },
			func() error { sum, err = tx.PutBlob(blob); return err },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})

	tests := []struct {
		name string
		get  func(store.Tx) (any, error)
		want any
	}{
		{"host", func(tx store.Tx) (any, error) { return tx.Host(host.ID) }, host},
		{"hosts", func(tx store.Tx) (any, error) { return tx.Hosts() }, []store.Host{host}},
		{"branch", func(tx store.Tx) (any, error) { return tx.Branch("web") }, branch},
		{"branches", func(tx store.Tx) (any, error) { return tx.Branches() }, []store.Branch{branch}},
		{"lock", func(tx store.Tx) (any, error) { return tx.Lock("web") }, lock},
		{"staged", func(tx store.Tx) (any, error) { return tx.Staged("web") }, staged},
		{"staged none", func(tx store.Tx) (any, error) { return tx.Staged("main") }, []journal.Entry{}},
		{"plan", func(tx store.Tx) (any, error) { return tx.Plan("p1") }, plan},
		{"plans", func(tx store.Tx) (any, error) { return tx.Plans() }, []store.PlanRecord{plan}},
		{"results all", func(tx store.Tx) (any, error) { return tx.Results("") }, results},
		{"results h1", func(tx store.Tx) (any, error) { return tx.Results("h1") }, []store.RunResult{results[0], results[2]}},
		{"results none", func(tx store.Tx) (any, error) { return tx.Results("h9") }, []store.RunResult{}},
		{"audit all", func(tx store.Tx) (any, error) { return tx.Audit("") }, audit},
		{"audit main", func(tx store.Tx) (any, error) { return tx.Audit("main") }, audit[1:]},
		{"blob", func(tx store.Tx) (any, error) { return tx.Blob(sum) }, blob},
		{"journal empty", func(tx store.Tx) (any, error) { return tx.Journal("web") }, []journal.Entry{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			err := s.View(func(tx store.Tx) error {
				var err error
				got, err = tt.get(tx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}

	if want := sha256.Sum256(blob); sum != hex.EncodeToString(want[:]) {
		t.Errorf("blob sum %q is not the hex sha256 of its content", sum)
	}
	t.Run("blob idempotent", func(t *testing.T) {
		mustUpdate(t, s, func(tx store.Tx) error {
			again, err := tx.PutBlob(blob)
			if again != sum {
				t.Errorf("second PutBlob = %q, want %q", again, sum)
			}
			return err
		})
	})
	t.Run("deletes", func(t *testing.T) {
		mustUpdate(t, s, func(tx store.Tx) error {
			for _, err := range []error{tx.DeleteHost(host.ID), tx.DeleteLock("web"), tx.PutStaged("web", nil), tx.DeleteLock("never-locked")} {
				if err != nil {
					return err
				}
			}
			return nil
		})
		_ = s.View(func(tx store.Tx) error {
			if _, err := tx.Host(host.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("store.Host after delete: %v, want store.ErrNotFound", err)
			}
			if _, err := tx.Lock("web"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("store.Lock after delete: %v, want store.ErrNotFound", err)
			}
			if st, err := tx.Staged("web"); err != nil || len(st) != 0 {
				t.Errorf("Staged after clear: %v, %v", st, err)
			}
			return nil
		})
	})
}

func testJournalAppendAndLoad(t *testing.T, open Opener) {
	s := open(t)
	es := sealed(nil, 5)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.PutBranch(store.Branch{Name: "main", Created: t0}); err != nil {
			return err
		}
		if err := tx.Append("main", es[:2]); err != nil {
			return err
		}
		return tx.Append("main", es[2:])
	})
	_ = s.View(func(tx store.Tx) error {
		b, err := tx.Branch("main")
		if err != nil {
			t.Fatal(err)
		}
		if b.Head != 5 || b.HeadHash != es[4].Hash {
			t.Errorf("head = %d %s, want 5 %s", b.Head, b.HeadHash, es[4].Hash)
		}
		got, err := tx.Journal("main")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, es) {
			t.Errorf("journal differs:\n got %v\nwant %v", got, es)
		}
		if err := journal.Verify("main", got, b.HeadHash); err != nil {
			t.Errorf("Verify: %v", err)
		}
		return nil
	})

	// PutBranch edits metadata only: a stale Head in the argument is ignored.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutBranch(store.Branch{Name: "main", Created: t0, CatchUp: store.CatchUp{Enabled: true}})
	})
	_ = s.View(func(tx store.Tx) error {
		b, _ := tx.Branch("main")
		if b.Head != 5 || b.HeadHash != es[4].Hash || !b.CatchUp.Enabled {
			t.Errorf("after PutBranch: %+v", b)
		}
		return nil
	})
	if err := s.Update(func(tx store.Tx) error { return tx.PutBranch(store.Branch{Name: "new", Head: 3}) }); err == nil {
		t.Error("PutBranch of a new branch with a head succeeded")
	}
}

func testAppendRefused(t *testing.T, open Opener) {
	es := sealed(nil, 4)
	unsealed := es[2]
	unsealed.Message = "edited after sealing"
	invalid := journal.Seal(&es[1], journal.Entry{Kind: journal.KindFile, Path: "relative/path", Blob: strings.Repeat("0", 64)})
	gap := []journal.Entry{es[2], es[3]}
	gap[1].Seq = 5
	// The right seq, sealed after some other head: someone appended first.
	otherChain := journal.Seal(&journal.Entry{Seq: 2, Hash: strings.Repeat("f", 64)}, es[2])

	tests := []struct {
		name    string
		branch  string
		entries []journal.Entry
		is      error  // errors.Is target, or nil
		msg     string // substring of the message
	}{
		{"unknown branch", "nope", es[2:], store.ErrNotFound, `branch "nope"`},
		{"seq already taken", "main", es[1:], store.ErrHeadMoved, "head is now seq 2"},
		{"seq skips ahead", "main", es[3:], store.ErrHeadMoved, "at seq 4"},
		{"prev hash differs", "main", []journal.Entry{otherChain}, store.ErrHeadMoved, "at seq 3"},
		{"not consecutive", "main", gap, store.ErrHeadMoved, "seq 5 follows seq 3"},
		{"edited after sealing", "main", []journal.Entry{unsealed}, nil, "not sealed"},
		{"invalid entry", "main", []journal.Entry{invalid}, nil, "relative"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			mustUpdate(t, s, func(tx store.Tx) error {
				if err := tx.PutBranch(store.Branch{Name: "main"}); err != nil {
					return err
				}
				return tx.Append("main", es[:2])
			})
			err := s.Update(func(tx store.Tx) error { return tx.Append(tt.branch, tt.entries) })
			if err == nil {
				t.Fatal("Append succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			// Nothing was written: the head is unchanged.
			_ = s.View(func(tx store.Tx) error {
				b, _ := tx.Branch("main")
				j, _ := tx.Journal("main")
				if b.Head != 2 || len(j) != 2 {
					t.Errorf("after refused append: head %d, %d entries", b.Head, len(j))
				}
				return nil
			})
		})
	}
}

func testNotFound(t *testing.T, open Opener) {
	s := open(t)
	tests := []struct {
		name string
		call func(store.Tx) error
	}{
		{"Host", func(tx store.Tx) error { _, err := tx.Host("h"); return err }},
		{"Host empty id", func(tx store.Tx) error { _, err := tx.Host(""); return err }},
		{"Branch", func(tx store.Tx) error { _, err := tx.Branch("b"); return err }},
		{"Journal", func(tx store.Tx) error { _, err := tx.Journal("b"); return err }},
		{"Blob", func(tx store.Tx) error { _, err := tx.Blob(strings.Repeat("0", 64)); return err }},
		{"Lock", func(tx store.Tx) error { _, err := tx.Lock("b"); return err }},
		{"Plan", func(tx store.Tx) error { _, err := tx.Plan("p"); return err }},
		{"Append", func(tx store.Tx) error { return tx.Append("b", sealed(nil, 1)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(tt.call)
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("got %v, want store.ErrNotFound", err)
			}
		})
	}
}

func testWritesInViewRefused(t *testing.T, open Opener) {
	s := open(t)
	writes := map[string]func(store.Tx) error{
		"PutHost":    func(tx store.Tx) error { return tx.PutHost(store.Host{ID: "h"}) },
		"DeleteHost": func(tx store.Tx) error { return tx.DeleteHost("h") },
		"PutBranch":  func(tx store.Tx) error { return tx.PutBranch(store.Branch{Name: "b"}) },
		"Append":     func(tx store.Tx) error { return tx.Append("b", sealed(nil, 1)) },
		"PutBlob":    func(tx store.Tx) error { _, err := tx.PutBlob([]byte("x")); return err },
		"PutLock":    func(tx store.Tx) error { return tx.PutLock(store.Lock{Branch: "b"}) },
		"DeleteLock": func(tx store.Tx) error { return tx.DeleteLock("b") },
		"PutStaged":  func(tx store.Tx) error { return tx.PutStaged("b", nil) },
		"PutPlan":    func(tx store.Tx) error { return tx.PutPlan(store.PlanRecord{ID: "p"}) },
		"AddResults": func(tx store.Tx) error { return tx.AddResults([]store.RunResult{{HostID: "h"}}) },
		"AddAudit":   func(tx store.Tx) error { return tx.AddAudit(store.AuditRecord{Branch: "b"}) },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			err := s.View(write)
			if !errors.Is(err, store.ErrReadOnly) || !strings.Contains(err.Error(), name) {
				t.Errorf("got %v, want store.ErrReadOnly naming %s", err, name)
			}
		})
	}
}

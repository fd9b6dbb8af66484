package store

import (
	bolt "go.etcd.io/bbolt"

	"path/filepath"
	"testing"

	"github.com/discoterm/discoterm/engine/journal"
)

func benchStore(b *testing.B) Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if err := s.Update(func(tx Tx) error { return tx.PutBranch(Branch{Name: "main", Created: t0}) }); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkAppend commits one entry per transaction, as approving a
// one-change changeset does; the cost is dominated by bbolt's fsync.
func BenchmarkAppend(b *testing.B) {
	s := benchStore(b)
	var prev *journal.Entry
	for b.Loop() {
		e := sealed(prev, 1)
		if err := s.Update(func(tx Tx) error { return tx.Append("main", e) }); err != nil {
			b.Fatal(err)
		}
		prev = &e[0]
	}
}

// BenchmarkJournalLoad reads a 100,000-entry journal, as opening the journal
// pane or planning against a long-lived branch does, and verifies it.
func BenchmarkJournalLoad(b *testing.B) {
	const n, batch = 100_000, 5_000
	s := benchStore(b)
	all := sealed(nil, n)
	for i := 0; i < n; i += batch {
		chunk := all[i : i+batch]
		if err := s.Update(func(tx Tx) error { return tx.Append("main", chunk) }); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			err := s.View(func(tx Tx) error {
				es, err := tx.Journal("main")
				if len(es) != n {
					b.Fatalf("loaded %d entries, want %d", len(es), n)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("load+verify", func(b *testing.B) {
		for b.Loop() {
			err := s.View(func(tx Tx) error {
				br, err := tx.Branch("main")
				if err != nil {
					return err
				}
				es, err := tx.Journal("main")
				if err != nil {
					return err
				}
				return journal.Verify("main", es, br.HeadHash)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOpenPerTx measures what opening the file per transaction costs:
// an empty View through the store against one on a bbolt handle kept open.
func BenchmarkOpenPerTx(b *testing.B) {
	s := benchStore(b)
	b.Run("store-view", func(b *testing.B) {
		for b.Loop() {
			if err := s.View(func(Tx) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bbolt-view-held-open", func(b *testing.B) {
		db, err := bolt.Open(s.Path(), 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			_ = db.View(func(*bolt.Tx) error { return nil })
		}
	})
}

package store

import (
	"errors"
	"fmt"
	"sort"

	"github.com/discoterm/discoterm/engine/journal"
)

// CopyStats counts what Copy moved.
type CopyStats struct {
	Hosts, Branches, Entries, Blobs, Locks, Staged, Plans, Results, Audit int
}

func (c CopyStats) String() string {
	return fmt.Sprintf("%d hosts, %d branches with %d journal entries, %d blobs, %d locks, %d staged lists, %d plans, %d results, %d audit records",
		c.Hosts, c.Branches, c.Entries, c.Blobs, c.Locks, c.Staged, c.Plans, c.Results, c.Audit)
}

// copyChunk is how many journal entries one transaction of Copy appends:
// a NATS update must commit within the store mutex's lease.
const copyChunk = 2000

// Copy moves every record of src into dst, which must be empty: it never
// merges two stores. Every journal's chain is verified as read from src
// before anything is written, and again as read back from dst, entry by
// entry against src. The copy is several transactions (a long journal is
// appended in chunks), so a copy that fails half-way leaves dst partly
// filled; the error says so, and since dst is then not empty a second run
// refuses until it is cleared.
func Copy(dst, src Store) (CopyStats, error) {
	var st CopyStats
	var (
		hosts    []Host
		branches []Branch
		journals = map[string][]journal.Entry{}
		locks    []Lock
		staged   = map[string][]journal.Entry{}
		plans    []PlanRecord
		results  []RunResult
		audit    []AuditRecord
		blobs    []string
	)
	err := src.View(func(tx Tx) error {
		var err error
		if hosts, err = tx.Hosts(); err != nil {
			return err
		}
		if branches, err = tx.Branches(); err != nil {
			return err
		}
		for _, b := range branches {
			es, err := tx.Journal(b.Name)
			if err != nil {
				return err
			}
			if err := journal.Verify(b.Name, es, b.HeadHash); err != nil {
				return fmt.Errorf("source journal of %s does not verify, nothing copied: %w", b.Name, err)
			}
			journals[b.Name] = es
			if l, err := tx.Lock(b.Name); err == nil {
				locks = append(locks, l)
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			if s, err := tx.Staged(b.Name); err != nil {
				return err
			} else if len(s) > 0 {
				staged[b.Name] = s
			}
		}
		if plans, err = tx.Plans(); err != nil {
			return err
		}
		if results, err = tx.Results(""); err != nil {
			return err
		}
		if audit, err = tx.Audit(""); err != nil {
			return err
		}
		blobs, err = tx.Blobs()
		return err
	})
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", src.Path(), err)
	}
	err = dst.View(func(tx Tx) error {
		hs, err := tx.Hosts()
		if err != nil {
			return err
		}
		bs, err := tx.Branches()
		if err != nil {
			return err
		}
		if len(hs) > 0 || len(bs) > 0 {
			return fmt.Errorf("%s is not empty (%d hosts, %d branches); migrate copies into an empty store only, never merging two", dst.Path(), len(hs), len(bs))
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	partial := func(err error) error {
		return fmt.Errorf("copying into %s stopped half-way (%v so far): %w; %s now holds part of the store: clear it and run migrate again", dst.Path(), st, err, dst.Path())
	}
	// Blobs first, so no entry ever points at content not yet there.
	for i := 0; i < len(blobs); i += 64 {
		chunk := blobs[i:min(i+64, len(blobs))]
		err := copyTx(dst, src, func(dt, stx Tx) error {
			for _, sum := range chunk {
				b, err := stx.Blob(sum)
				if err != nil {
					return err
				}
				if got, err := dt.PutBlob(b); err != nil {
					return err
				} else if got != sum {
					return fmt.Errorf("blob %s has content hashing to %s: %w", sum, got, ErrCorruptRecord)
				}
			}
			return nil
		})
		if err != nil {
			return st, partial(err)
		}
		st.Blobs += len(chunk)
	}
	for _, b := range branches {
		meta := b
		meta.Head, meta.HeadHash = 0, ""
		if err := dst.Update(func(tx Tx) error { return tx.PutBranch(meta) }); err != nil {
			return st, partial(err)
		}
		es := journals[b.Name]
		for i := 0; i < len(es); i += copyChunk {
			chunk := es[i:min(i+copyChunk, len(es))]
			if err := dst.Update(func(tx Tx) error { return tx.Append(b.Name, chunk) }); err != nil {
				return st, partial(err)
			}
			st.Entries += len(chunk)
		}
		st.Branches++
	}
	err = dst.Update(func(tx Tx) error {
		for _, h := range hosts {
			if err := tx.PutHost(h); err != nil {
				return err
			}
		}
		for _, l := range locks {
			if err := tx.PutLock(l); err != nil {
				return err
			}
		}
		for b, s := range staged {
			if err := tx.PutStaged(b, s); err != nil {
				return err
			}
		}
		for _, p := range plans {
			if err := tx.PutPlan(p); err != nil {
				return err
			}
		}
		if err := tx.AddResults(results); err != nil {
			return err
		}
		for _, a := range audit {
			if err := tx.AddAudit(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return st, partial(err)
	}
	st.Hosts, st.Locks, st.Staged, st.Plans, st.Results, st.Audit = len(hosts), len(locks), len(staged), len(plans), len(results), len(audit)
	return st, verifyCopy(dst, branches, journals)
}

func copyTx(dst, src Store, fn func(dt, stx Tx) error) error {
	return src.View(func(stx Tx) error {
		return dst.Update(func(dt Tx) error { return fn(dt, stx) })
	})
}

// verifyCopy reads every journal back from dst and checks it is the
// source's, entry for entry, and that its chain verifies.
func verifyCopy(dst Store, branches []Branch, want map[string][]journal.Entry) error {
	return dst.View(func(tx Tx) error {
		for _, b := range branches {
			got, err := tx.Journal(b.Name)
			if err != nil {
				return err
			}
			db, err := tx.Branch(b.Name)
			if err != nil {
				return err
			}
			if err := journal.Verify(b.Name, got, db.HeadHash); err != nil {
				return fmt.Errorf("the copied journal of %s does not verify: %w", b.Name, err)
			}
			w := want[b.Name]
			if len(got) != len(w) || db.HeadHash != b.HeadHash {
				return fmt.Errorf("the copied journal of %s has %d entries (head %s), the source %d (head %s)", b.Name, len(got), db.HeadHash, len(w), b.HeadHash)
			}
			for i := range got {
				if got[i].Hash != w[i].Hash {
					return fmt.Errorf("the copied journal of %s differs at seq %d", b.Name, got[i].Seq)
				}
			}
		}
		return nil
	})
}

// sortedKeys is a map's keys in order, for listings that must be stable.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

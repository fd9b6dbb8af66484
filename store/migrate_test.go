package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store/natstest"
)

// dump is everything a store holds, for comparing two stores.
type dump struct {
	Hosts    []Host
	Branches []Branch
	Journals map[string][]journal.Entry
	Locks    []Lock
	Staged   map[string][]journal.Entry
	Plans    []PlanRecord
	Results  []RunResult
	Audit    []AuditRecord
	Blobs    map[string]string
}

func dumpStore(t *testing.T, s Store) dump {
	t.Helper()
	d := dump{Journals: map[string][]journal.Entry{}, Staged: map[string][]journal.Entry{}, Blobs: map[string]string{}}
	err := s.View(func(tx Tx) error {
		var err error
		d.Hosts, _ = tx.Hosts()
		d.Branches, _ = tx.Branches()
		for _, b := range d.Branches {
			d.Journals[b.Name], _ = tx.Journal(b.Name)
			if l, err := tx.Lock(b.Name); err == nil {
				d.Locks = append(d.Locks, l)
			}
			if st, _ := tx.Staged(b.Name); len(st) > 0 {
				d.Staged[b.Name] = st
			}
		}
		d.Plans, _ = tx.Plans()
		d.Results, _ = tx.Results("")
		d.Audit, _ = tx.Audit("")
		sums, err := tx.Blobs()
		for _, sum := range sums {
			b, _ := tx.Blob(sum)
			d.Blobs[sum] = string(b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fillStore(t *testing.T, s Store) {
	t.Helper()
	mustUpdate(t, s, func(tx Tx) error {
		sum, err := tx.PutBlob([]byte("motd\n"))
		if err != nil {
			return err
		}
		if _, err := tx.PutBlob([]byte(strings.Repeat("big plan ", 40000))); err != nil {
			return err
		}
		for _, b := range []string{"main", "release.1"} {
			if err := tx.PutBranch(Branch{Name: b, Created: t0}); err != nil {
				return err
			}
			if err := tx.Append(b, sealed(nil, 5)); err != nil {
				return err
			}
		}
		for _, step := range []error{
			tx.PutHost(Host{ID: "mid:1", Name: "web1", Position: 5}),
			tx.PutHost(Host{ID: "mid:2", Name: "web2", Position: 3}),
			tx.PutLock(Lock{Branch: "main", Holder: "alice", Message: "motd", Time: t0, Expires: t0.Add(time.Hour)}),
			tx.PutStaged("main", []journal.Entry{{Kind: journal.KindFile, Path: "/etc/motd", Blob: sum, Mode: 0o644, Time: t0}}),
			tx.PutPlan(PlanRecord{ID: "p1", Branch: "main", Created: t0, Author: "alice", Data: []byte(strings.Repeat("x", 300<<10))}),
			tx.AddResults([]RunResult{{PlanID: "p1", HostID: "mid:1", Result: "ok", Time: t0}, {PlanID: "p1", HostID: "mid:2", Result: "failed", Time: t0}}),
			tx.AddAudit(AuditRecord{Branch: "main", Time: t0, Actor: "alice", Action: "lock"}),
			tx.AddAudit(AuditRecord{Branch: "release.1", Time: t0, Actor: "bob", Action: "fork"}),
		} {
			if step != nil {
				return step
			}
		}
		return nil
	})
	// A second changeset, so journals span transactions.
	mustUpdate(t, s, func(tx Tx) error {
		es, _ := tx.Journal("main")
		return tx.Append("main", sealed(&es[len(es)-1], 3))
	})
}

// TestCopyFileToNATSAndBack: a file store moved to NATS and back holds
// exactly what it held, every journal verified on both sides; a copy into
// a store that is not empty is refused, and so is a source whose chain is
// broken.
func TestCopyFileToNATSAndBack(t *testing.T) {
	src, path := openTemp(t)
	fillStore(t, src)
	want := dumpStore(t, src)

	mid, err := OpenNATS(NATSOptions{URL: natstest.Start(t) + "/moved"})
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	stats, err := Copy(mid, src)
	if err != nil {
		t.Fatalf("file → NATS: %v", err)
	}
	if stats.Entries != 13 || stats.Blobs != 2 || stats.Results != 2 || stats.Branches != 2 {
		t.Errorf("stats: %v", stats)
	}
	sameDump(t, "file → NATS", dumpStore(t, mid), want)
	back, _ := openTemp(t)
	if _, err := Copy(back, mid); err != nil {
		t.Fatalf("NATS → file: %v", err)
	}
	sameDump(t, "NATS → file", dumpStore(t, back), want)

	if _, err := Copy(back, src); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("copy into a non-empty store: %v", err)
	}

	_ = src.Close()
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		jb := tx.Bucket(bucketJournals).Bucket([]byte("main"))
		var e journal.Entry
		_ = json.Unmarshal(jb.Get(seqKey(2)), &e)
		e.Command = "rm -rf /"
		v, _ := json.Marshal(e)
		return jb.Put(seqKey(2), v)
	})
	tampered, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tampered.Close()
	fresh, err := Open(filepath.Join(t.TempDir(), "fresh.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := Copy(fresh, tampered); err == nil || !strings.Contains(err.Error(), "does not verify, nothing copied") {
		t.Errorf("copy of a tampered journal: %v", err)
	}
	if d := dumpStore(t, fresh); len(d.Branches) != 0 || len(d.Blobs) != 0 {
		t.Errorf("a refused copy wrote %+v", d)
	}
}

// sameDump names the parts of two dumps that differ (values can be large).
func sameDump(t *testing.T, what string, got, want dump) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < g.NumField(); i++ {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			gs, ws := fmt.Sprintf("%+v", g.Field(i).Interface()), fmt.Sprintf("%+v", w.Field(i).Interface())
			t.Errorf("%s: %s differ:\n got %.400s\nwant %.400s", what, g.Type().Field(i).Name, gs, ws)
		}
	}
}

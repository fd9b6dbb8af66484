package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/discoterm/discoterm/engine/journal"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func openTemp(t *testing.T) (Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "discoterm.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// sealed returns n sealed exec entries continuing after prev (nil: from 1).
func sealed(prev *journal.Entry, n int) []journal.Entry {
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

func mustUpdate(t *testing.T, s Store, fn func(Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func TestOpenStampsSchemaAndPIDFile(t *testing.T) {
	s, path := openTemp(t)
	if got := readPID(path + ".pid"); got != os.Getpid() {
		t.Errorf("PID file holds %d, want %d", got, os.Getpid())
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(path + ".pid"); !os.IsNotExist(err) {
		t.Errorf("PID file still there after Close: %v", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keySchema)); v != strconv.Itoa(SchemaVersion) {
			t.Errorf("schema = %q, want %d", v, SchemaVersion)
		}
		return nil
	})
}

func TestRoundTrip(t *testing.T) {
	s, _ := openTemp(t)
	host := Host{ID: "mid:abc", Name: "web1", Addr: "fe80::1%br0", Addrs: []string{"fe80::1%br0", "10.0.0.5"},
		Port: 2222, User: "root", MAC: "52:54:00:12:34:56", Trusted: true, Branch: "web",
		Position: 7, PositionHash: "ab", StateSeen: t0, LastResult: "ok", LastPush: t0, RTT: 3 * time.Millisecond, Liveness: "alive"}
	branch := Branch{Name: "web", Parent: "main", ForkSeq: 3, Created: t0,
		CatchUp: CatchUp{Enabled: true, MaxAge: time.Hour, Parallel: 4}}
	lock := Lock{Branch: "web", Holder: "alice@jump1", Message: "ntp", Time: t0}
	staged := []journal.Entry{{Kind: journal.KindFile, Path: "/etc/motd", Blob: strings.Repeat("a", 64), Mode: 0o644, Message: "motd", Time: t0}}
	plan := PlanRecord{ID: "p1", Branch: "web", Created: t0, Author: "alice", Approved: true, Approver: "bob", Data: []byte(`{"x":1}`)}
	results := []RunResult{
		{PlanID: "p1", HostID: "h1", Branch: "web", Seq: 1, Kind: journal.KindExec, Result: "ok", Duration: time.Second, Time: t0},
		{PlanID: "p1", HostID: "h2", Branch: "web", Seq: 1, Kind: journal.KindExec, Result: "failed", ExitCode: 2, Output: "boom", Time: t0},
		{PlanID: "p1", HostID: "h1", Branch: "web", Seq: 2, Kind: journal.KindReboot, Result: "reboot-pending", Time: t0},
	}
	audit := []AuditRecord{
		{Branch: "web", Time: t0, Actor: "alice", Action: "lock", Message: "ntp"},
		{Branch: "main", Time: t0, Actor: "bob", Action: "fork", Message: "web"},
	}
	blob := []byte("hello\x00world\n")
	var sum string

	mustUpdate(t, s, func(tx Tx) error {
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
		get  func(Tx) (any, error)
		want any
	}{
		{"host", func(tx Tx) (any, error) { return tx.Host(host.ID) }, host},
		{"hosts", func(tx Tx) (any, error) { return tx.Hosts() }, []Host{host}},
		{"branch", func(tx Tx) (any, error) { return tx.Branch("web") }, branch},
		{"branches", func(tx Tx) (any, error) { return tx.Branches() }, []Branch{branch}},
		{"lock", func(tx Tx) (any, error) { return tx.Lock("web") }, lock},
		{"staged", func(tx Tx) (any, error) { return tx.Staged("web") }, staged},
		{"staged none", func(tx Tx) (any, error) { return tx.Staged("main") }, []journal.Entry{}},
		{"plan", func(tx Tx) (any, error) { return tx.Plan("p1") }, plan},
		{"plans", func(tx Tx) (any, error) { return tx.Plans() }, []PlanRecord{plan}},
		{"results all", func(tx Tx) (any, error) { return tx.Results("") }, results},
		{"results h1", func(tx Tx) (any, error) { return tx.Results("h1") }, []RunResult{results[0], results[2]}},
		{"results none", func(tx Tx) (any, error) { return tx.Results("h9") }, []RunResult{}},
		{"audit all", func(tx Tx) (any, error) { return tx.Audit("") }, audit},
		{"audit main", func(tx Tx) (any, error) { return tx.Audit("main") }, audit[1:]},
		{"blob", func(tx Tx) (any, error) { return tx.Blob(sum) }, blob},
		{"journal empty", func(tx Tx) (any, error) { return tx.Journal("web") }, []journal.Entry{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			err := s.View(func(tx Tx) error {
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
		mustUpdate(t, s, func(tx Tx) error {
			again, err := tx.PutBlob(blob)
			if again != sum {
				t.Errorf("second PutBlob = %q, want %q", again, sum)
			}
			return err
		})
	})
	t.Run("deletes", func(t *testing.T) {
		mustUpdate(t, s, func(tx Tx) error {
			for _, err := range []error{tx.DeleteHost(host.ID), tx.DeleteLock("web"), tx.PutStaged("web", nil), tx.DeleteLock("never-locked")} {
				if err != nil {
					return err
				}
			}
			return nil
		})
		_ = s.View(func(tx Tx) error {
			if _, err := tx.Host(host.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("Host after delete: %v, want ErrNotFound", err)
			}
			if _, err := tx.Lock("web"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Lock after delete: %v, want ErrNotFound", err)
			}
			if st, err := tx.Staged("web"); err != nil || len(st) != 0 {
				t.Errorf("Staged after clear: %v, %v", st, err)
			}
			return nil
		})
	})
}

func TestJournalAppendAndLoad(t *testing.T) {
	s, _ := openTemp(t)
	es := sealed(nil, 5)
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.PutBranch(Branch{Name: "main", Created: t0}); err != nil {
			return err
		}
		if err := tx.Append("main", es[:2]); err != nil {
			return err
		}
		return tx.Append("main", es[2:])
	})
	_ = s.View(func(tx Tx) error {
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
	mustUpdate(t, s, func(tx Tx) error {
		return tx.PutBranch(Branch{Name: "main", Created: t0, CatchUp: CatchUp{Enabled: true}})
	})
	_ = s.View(func(tx Tx) error {
		b, _ := tx.Branch("main")
		if b.Head != 5 || b.HeadHash != es[4].Hash || !b.CatchUp.Enabled {
			t.Errorf("after PutBranch: %+v", b)
		}
		return nil
	})
	if err := s.Update(func(tx Tx) error { return tx.PutBranch(Branch{Name: "new", Head: 3}) }); err == nil {
		t.Error("PutBranch of a new branch with a head succeeded")
	}
}

func TestAppendRefused(t *testing.T) {
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
		{"unknown branch", "nope", es[2:], ErrNotFound, `branch "nope"`},
		{"seq already taken", "main", es[1:], ErrHeadMoved, "head is now seq 2"},
		{"seq skips ahead", "main", es[3:], ErrHeadMoved, "at seq 4"},
		{"prev hash differs", "main", []journal.Entry{otherChain}, ErrHeadMoved, "at seq 3"},
		{"not consecutive", "main", gap, ErrHeadMoved, "seq 5 follows seq 3"},
		{"edited after sealing", "main", []journal.Entry{unsealed}, nil, "not sealed"},
		{"invalid entry", "main", []journal.Entry{invalid}, nil, "relative"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			mustUpdate(t, s, func(tx Tx) error {
				if err := tx.PutBranch(Branch{Name: "main"}); err != nil {
					return err
				}
				return tx.Append("main", es[:2])
			})
			err := s.Update(func(tx Tx) error { return tx.Append(tt.branch, tt.entries) })
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
			_ = s.View(func(tx Tx) error {
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

func TestNotFound(t *testing.T) {
	s, _ := openTemp(t)
	tests := []struct {
		name string
		call func(Tx) error
	}{
		{"Host", func(tx Tx) error { _, err := tx.Host("h"); return err }},
		{"Host empty id", func(tx Tx) error { _, err := tx.Host(""); return err }},
		{"Branch", func(tx Tx) error { _, err := tx.Branch("b"); return err }},
		{"Journal", func(tx Tx) error { _, err := tx.Journal("b"); return err }},
		{"Blob", func(tx Tx) error { _, err := tx.Blob(strings.Repeat("0", 64)); return err }},
		{"Lock", func(tx Tx) error { _, err := tx.Lock("b"); return err }},
		{"Plan", func(tx Tx) error { _, err := tx.Plan("p"); return err }},
		{"Append", func(tx Tx) error { return tx.Append("b", sealed(nil, 1)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(tt.call)
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
	}
}

func TestWritesInViewRefused(t *testing.T) {
	s, _ := openTemp(t)
	writes := map[string]func(Tx) error{
		"PutHost":    func(tx Tx) error { return tx.PutHost(Host{ID: "h"}) },
		"DeleteHost": func(tx Tx) error { return tx.DeleteHost("h") },
		"PutBranch":  func(tx Tx) error { return tx.PutBranch(Branch{Name: "b"}) },
		"Append":     func(tx Tx) error { return tx.Append("b", sealed(nil, 1)) },
		"PutBlob":    func(tx Tx) error { _, err := tx.PutBlob([]byte("x")); return err },
		"PutLock":    func(tx Tx) error { return tx.PutLock(Lock{Branch: "b"}) },
		"DeleteLock": func(tx Tx) error { return tx.DeleteLock("b") },
		"PutStaged":  func(tx Tx) error { return tx.PutStaged("b", nil) },
		"PutPlan":    func(tx Tx) error { return tx.PutPlan(PlanRecord{ID: "p"}) },
		"AddResults": func(tx Tx) error { return tx.AddResults([]RunResult{{HostID: "h"}}) },
		"AddAudit":   func(tx Tx) error { return tx.AddAudit(AuditRecord{Branch: "b"}) },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			err := s.View(write)
			if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), name) {
				t.Errorf("got %v, want ErrReadOnly naming %s", err, name)
			}
		})
	}
}

func TestReadOnlyOpen(t *testing.T) {
	s, path := openTemp(t)
	mustUpdate(t, s, func(tx Tx) error { return tx.PutHost(Host{ID: "h1"}) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Update(func(tx Tx) error { return nil }); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Update on read-only store: %v, want ErrReadOnly", err)
	}
	if err := ro.View(func(tx Tx) error { _, err := tx.Host("h1"); return err }); err != nil {
		t.Errorf("View on read-only store: %v", err)
	}
}

// TestHelperHoldStore is not a test: TestOpenInUse runs the test binary
// again with this as the only test, so that a second process holds the file.
func TestHelperHoldStore(t *testing.T) {
	path := os.Getenv("DISCOTERM_TEST_HOLD_STORE")
	if path == "" {
		t.Skip("helper process for TestOpenInUse")
	}
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // hold until the parent closes stdin
	_ = s.Close()
	os.Exit(0)
}

func TestOpenInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "discoterm.db")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperHoldStore$")
	cmd.Env = append(os.Environ(), "DISCOTERM_TEST_HOLD_STORE="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)

	start := time.Now()
	_, err = Open(path, Options{})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Open waited %v for a held store", took)
	}
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
	want := "store " + path + " is in use by PID " + pid + " (another discoterm?); close it or use --store to choose another file"
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err, want)
	}

	// Without a readable PID file the message still says what to do.
	if err := os.Remove(path + ".pid"); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{ReadOnly: true})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("read-only Open of held store: %v", err)
	}

	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after the holder exited: %v", err)
	}
	_ = s.Close()
}

// rawUpdate edits the file with bbolt directly, as damage or a newer
// discoterm would.
func rawUpdate(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTemp(t)
	_ = s.Close()
	rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open: %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{"schema version 99", "supports up to version " + strconv.Itoa(SchemaVersion), "upgrade discoterm"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestNotAStore(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not bolt ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(junk, Options{}); err == nil || !strings.Contains(err.Error(), "not a discoterm store") {
		t.Errorf("Open of a junk file: %v", err)
	}
	other := filepath.Join(dir, "other.db")
	rawUpdate(t, other, func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	if _, err := Open(other, Options{}); err == nil || !strings.Contains(err.Error(), "not a discoterm store") {
		t.Errorf("Open of a foreign bbolt file: %v", err)
	}
}

func TestCorruptRecord(t *testing.T) {
	s, path := openTemp(t)
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.PutBranch(Branch{Name: "main"}); err != nil {
			return err
		}
		return tx.Append("main", sealed(nil, 3))
	})
	_ = s.Close()
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketHosts).Put([]byte("h1"), []byte(`{"id":`)); err != nil {
			return err
		}
		return tx.Bucket(bucketJournals).Bucket([]byte("main")).Put(seqKey(2), []byte("garbage"))
	})
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		name        string
		call        func(Tx) error
		bucket, key string
	}{
		{"Host", func(tx Tx) error { _, err := tx.Host("h1"); return err }, "hosts", "h1"},
		{"Hosts", func(tx Tx) error { _, err := tx.Hosts(); return err }, "hosts", "h1"},
		{"Journal", func(tx Tx) error { _, err := tx.Journal("main"); return err }, "journals/main", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.View(tt.call)
			var ce *CorruptRecordError
			if !errors.Is(err, ErrCorruptRecord) || !errors.As(err, &ce) {
				t.Fatalf("got %v, want a CorruptRecordError", err)
			}
			if ce.Bucket != tt.bucket || ce.Key != tt.key {
				t.Errorf("names bucket %q key %q, want %q %q", ce.Bucket, ce.Key, tt.bucket, tt.key)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("bucket %q, key %q", tt.bucket, tt.key)) {
				t.Errorf("message %q does not name the record", err)
			}
		})
	}
}

func TestTamperedJournalFailsVerify(t *testing.T) {
	s, path := openTemp(t)
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.PutBranch(Branch{Name: "main"}); err != nil {
			return err
		}
		return tx.Append("main", sealed(nil, 6))
	})
	_ = s.Close()
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		jb := tx.Bucket(bucketJournals).Bucket([]byte("main"))
		var e journal.Entry
		if err := json.Unmarshal(jb.Get(seqKey(4)), &e); err != nil {
			return err
		}
		e.Message = "nothing to see here"
		v, _ := json.Marshal(e)
		return jb.Put(seqKey(4), v)
	})
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(func(tx Tx) error {
		b, _ := tx.Branch("main")
		es, err := tx.Journal("main")
		if err != nil {
			t.Fatal(err)
		}
		err = journal.Verify("main", es, b.HeadHash)
		var ce *journal.ChainError
		if !errors.As(err, &ce) || ce.Seq != 4 {
			t.Errorf("Verify: %v, want a ChainError at seq 4", err)
		}
		return nil
	})
}

func TestDefaultPath(t *testing.T) {
	state := t.TempDir()
	home := t.TempDir()
	tests := []struct {
		name, xdg, want string
	}{
		{"XDG_STATE_HOME", state, filepath.Join(state, "discoterm", "discoterm.db")},
		{"unset", "", filepath.Join(home, ".local", "state", "discoterm", "discoterm.db")},
		{"relative is ignored", "rel/state", filepath.Join(home, ".local", "state", "discoterm", "discoterm.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			t.Setenv("HOME", home)
			got, err := DefaultPath()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DefaultPath() = %q, want %q", got, tt.want)
			}
			fi, err := os.Stat(filepath.Dir(got))
			if err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("directory: %v, mode %v", err, fi.Mode())
			}
		})
	}
}

package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/discoterm/discoterm/engine/journal"
)

func TestOpenStampsSchema(t *testing.T) {
	s, path := openTemp(t)
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
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

// TestHelperHoldStore is not a test: TestStoreBusy runs the test binary
// again with this as the only test, so that a second process sits inside
// an Update until its stdin closes.
func TestHelperHoldStore(t *testing.T) {
	path := os.Getenv("DISCOTERM_TEST_HOLD_STORE")
	if path == "" {
		t.Skip("helper process for TestStoreBusy")
	}
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	_ = s.Update(func(tx Tx) error {
		fmt.Println("ready")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // hold until the parent closes stdin
		return tx.PutHost(Host{ID: "from-helper"})
	})
	_ = s.Close()
	os.Exit(0)
}

// TestStoreBusy: two processes open the same store at once (no "in use"
// at open); a transaction that outlasts the wait is named with its PID and
// command line; once it ends, the other process sees its write at once.
func TestStoreBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "discoterm.db")
	s, err := Open(path, Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
	err = s.View(func(tx Tx) error { return nil })
	if took := time.Since(start); took > 2*time.Second || took < 250*time.Millisecond {
		t.Errorf("View waited %v for a held store, want about 300ms", took)
	}
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("View during another process's Update: %v, want ErrInUse", err)
	}
	for _, want := range []string{"store " + path + " is busy: held by PID " + pid + " (" + os.Args[0], "for more than 300ms", "wait for it to finish"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if err := s.Update(func(tx Tx) error { return tx.PutHost(Host{ID: "mine"}) }); !errors.Is(err, ErrInUse) {
		t.Errorf("Update during another process's Update: %v, want ErrInUse", err)
	}

	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if err := s.View(func(tx Tx) error { _, err := tx.Host("from-helper"); return err }); err != nil {
		t.Errorf("the other process's write is not visible: %v", err)
	}
	mustUpdate(t, s, func(tx Tx) error { return tx.PutHost(Host{ID: "mine"}) })
}

// TestTwoOpensSeeEachOther: two Store values on one file (as two processes
// have) read each other's commits at once and never block each other
// between transactions.
func TestTwoOpensSeeEachOther(t *testing.T) {
	a, path := openTemp(t)
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("second open of a store in use: %v", err)
	}
	defer b.Close()
	mustUpdate(t, a, func(tx Tx) error {
		return tx.PutLock(Lock{Branch: "main", Holder: "alice", Message: "m"})
	})
	var got Lock
	if err := b.View(func(tx Tx) error { var err error; got, err = tx.Lock("main"); return err }); err != nil || got.Holder != "alice" {
		t.Fatalf("b sees lock %+v, %v", got, err)
	}
	mustUpdate(t, b, func(tx Tx) error { return tx.DeleteLock("main") })
	if err := a.View(func(tx Tx) error { _, err := tx.Lock("main"); return err }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a still sees the lock: %v", err)
	}
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

func TestParseProcLocks(t *testing.T) {
	in := `1: POSIX  ADVISORY  WRITE 999 08:01:77 0 EOF
2: FLOCK  ADVISORY  WRITE 4242 08:01:77 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4343 08:01:77 0 EOF
3: FLOCK  ADVISORY  READ 4444 00:2a:77 0 EOF
4: FLOCK  ADVISORY  READ 4545 08:01:78 0 EOF
5: FLOCK  ADVISORY  READ 100 08:01:77 0 EOF
6: FLOCK garbage
`
	got := parseProcLocks(bufio.NewScanner(strings.NewReader(in)), 77, 100)
	if len(got) != 2 || got[0].PID != 4242 || !got[0].Write || got[1].PID != 4444 || got[1].Write {
		t.Errorf("holders = %+v, want 4242 (write) and 4444 (read)", got)
	}
}

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configure Open.
type Options struct {
	// ReadOnly opens the file with a shared lock: any number of read-only
	// opens may coexist, but none with a writer. Update then fails.
	ReadOnly bool
	// Timeout bounds the wait for the file lock; 0 means DefaultTimeout.
	// It is never unbounded: a console that hangs on start is worse than one
	// that says who holds the file.
	Timeout time.Duration
}

// DefaultTimeout is how long Open waits for another process to release the
// file. bbolt retries every 50ms, so this is a handful of attempts.
const DefaultTimeout = 200 * time.Millisecond

// ErrReadOnly is returned by write methods called in a View transaction and
// by Update on a store opened with Options.ReadOnly.
var ErrReadOnly = errors.New("store is read-only here")

// InUseError is returned by Open when another process holds the file.
// errors.Is(err, ErrInUse) matches it.
type InUseError struct {
	Path string
	PID  int // 0 when the holder did not leave a readable PID file
}

func (e *InUseError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "PID " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("store %s is in use by %s (another discoterm?); close it or use --store to choose another file", e.Path, who)
}

// Unwrap lets errors.Is(err, ErrInUse) match.
func (e *InUseError) Unwrap() error { return ErrInUse }

// NewerSchemaError is returned by Open for a file written by a newer
// discoterm. errors.Is(err, ErrNewerSchema) matches it.
type NewerSchemaError struct {
	Path      string
	Version   int // what the file has
	Supported int // what this build writes
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("store %s has schema version %d but this discoterm supports up to version %d; upgrade discoterm to open it", e.Path, e.Version, e.Supported)
}

// Unwrap lets errors.Is(err, ErrNewerSchema) match.
func (e *NewerSchemaError) Unwrap() error { return ErrNewerSchema }

// CorruptRecordError names a record that could not be decoded.
// errors.Is(err, ErrCorruptRecord) matches it.
type CorruptRecordError struct {
	Bucket string
	Key    string
	Err    error
}

func (e *CorruptRecordError) Error() string {
	return fmt.Sprintf("corrupt record in store: bucket %q, key %q: %v; restore the store from a backup", e.Bucket, e.Key, e.Err)
}

// Unwrap lets errors.Is match both ErrCorruptRecord and the decoding error.
func (e *CorruptRecordError) Unwrap() []error { return []error{ErrCorruptRecord, e.Err} }

// DefaultPath returns $XDG_STATE_HOME/discoterm/discoterm.db, or
// ~/.local/state/discoterm/discoterm.db when XDG_STATE_HOME is unset, and
// creates its directory (mode 0700: the store holds host keys and outputs).
func DefaultPath() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	// The XDG spec says relative values are invalid and must be ignored.
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the default store: %w; set XDG_STATE_HOME or use --store", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(base, "discoterm")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the store directory: %w; use --store to choose another file", err)
	}
	return filepath.Join(dir, "discoterm.db"), nil
}

// boltStore is the default Store: one bbolt file.
type boltStore struct {
	db        *bolt.DB
	path      string
	pidFile   string // "" when this open did not write one (read-only)
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the store at path. It never waits longer than
// opts.Timeout for another process; see InUseError.
func Open(path string, opts Options) (Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty path; use --store to choose a file")
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, &InUseError{Path: path, PID: readPID(pidPath(path))}
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
			return nil, fmt.Errorf("open store %s: %w; the file is not a discoterm store or is damaged — use --store to choose another file", path, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &boltStore{db: db, path: path}
	if err := s.checkSchema(opts.ReadOnly); err != nil {
		_ = db.Close()
		return nil, err
	}
	// Only a writer owns the file; several read-only opens would overwrite
	// and remove each other's PID file.
	if !opts.ReadOnly {
		s.pidFile = pidPath(path)
		if err := writePID(s.pidFile); err != nil {
			// The PID file only improves a message; the lock is what counts.
			s.pidFile = ""
		}
	}
	return s, nil
}

func pidPath(path string) string { return path + ".pid" }

// readPID returns the PID in file if that process still runs, else 0. A
// writer that crashed leaves its PID file behind, and the file may now be
// held by a read-only open, which writes none: naming the dead PID would
// send the operator after the wrong process.
func readPID(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if p, err := os.FindProcess(pid); err != nil || !alive(p) {
		return 0
	}
	return pid
}

// alive probes with signal 0; EPERM means it exists but is someone else's.
func alive(p *os.Process) bool {
	err := p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// writePID replaces the PID file atomically so that a concurrent reader never
// sees a half-written number.
func writePID(file string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// checkSchema stamps a new file with SchemaVersion and refuses newer ones.
func (s *boltStore) checkSchema(readOnly bool) error {
	var version int
	var empty bool
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			k, _ := tx.Cursor().First()
			empty = k == nil
			if !empty {
				return fmt.Errorf("open store %s: the file is a bbolt database but not a discoterm store (no %q bucket); use --store to choose another file", s.path, bucketMeta)
			}
			return nil
		}
		raw := meta.Get(keySchema)
		v, err := strconv.Atoi(string(raw))
		if err != nil {
			return &CorruptRecordError{Bucket: string(bucketMeta), Key: string(keySchema), Err: fmt.Errorf("schema version %q is not a number", raw)}
		}
		version = v
		return nil
	})
	if err != nil {
		return err
	}
	if version > SchemaVersion {
		return &NewerSchemaError{Path: s.path, Version: version, Supported: SchemaVersion}
	}
	if readOnly {
		// A read-only open of a fresh file sees no buckets; every read then
		// finds nothing, which is the truth.
		return nil
	}
	// Creating every bucket on each writable open lets Tx methods assume
	// they exist.
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if empty {
			return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
		}
		return nil
	})
}

// View runs fn in a read-only transaction. fn must not keep tx.
func (s *boltStore) View(fn func(Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&boltTx{tx: tx}) })
}

// Update runs fn in a read-write transaction, committed only if fn returns
// nil.
func (s *boltStore) Update(fn func(Tx) error) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return fn(&boltTx{tx: tx}) })
	if errors.Is(err, bolterrors.ErrDatabaseReadOnly) {
		return fmt.Errorf("store %s was opened read-only: %w", s.path, ErrReadOnly)
	}
	return err
}

// Path is the store's file.
func (s *boltStore) Path() string { return s.path }

// Close releases the file. Calling it again does nothing.
func (s *boltStore) Close() error {
	s.closeOnce.Do(func() {
		// Remove the PID file first, while the lock still guarantees it is ours.
		if s.pidFile != "" && readPID(s.pidFile) == os.Getpid() {
			_ = os.Remove(s.pidFile)
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

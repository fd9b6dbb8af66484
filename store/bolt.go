package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configure Open.
type Options struct {
	// ReadOnly refuses Update. Reads still take the shared file lock, so a
	// read-only store never sees a half-committed write.
	ReadOnly bool
	// Timeout bounds the wait for the file lock of one transaction; 0 means
	// DefaultTimeout. It is never unbounded: a console that hangs is worse
	// than one that says who holds the file.
	Timeout time.Duration
}

// DefaultTimeout is how long one transaction waits for other processes'
// transactions. Transactions are short (milliseconds), so this is only
// reached when something holds the file for far longer than discoterm ever
// does: a stuck process, or a tool holding the database open.
const DefaultTimeout = 10 * time.Second

// ErrReadOnly is returned by write methods called in a View transaction and
// by Update on a store opened with Options.ReadOnly.
var ErrReadOnly = errors.New("store is read-only here")

// InUseError is returned when a transaction waited Options.Timeout for the
// file lock. errors.Is(err, ErrInUse) matches it.
type InUseError struct {
	Path    string
	Waited  time.Duration
	Holders []Holder // who held the lock when the wait ended; may be empty
}

// Holder is a process holding the store's lock, as the kernel reports it.
type Holder struct {
	PID     int
	Command string // its command line, escaped and shortened; "" if unreadable
	Write   bool   // an exclusive (write) lock rather than a shared one
}

func (e *InUseError) Error() string {
	who := "another process"
	if len(e.Holders) > 0 {
		who = ""
		for i, h := range e.Holders {
			if i > 0 {
				who += ", "
			}
			who += "PID " + strconv.Itoa(h.PID)
			if h.Command != "" {
				who += " (" + h.Command + ")"
			}
		}
	}
	return fmt.Sprintf("store %s is busy: held by %s for more than %v; wait for it to finish or stop it, or use --store to choose another file", e.Path, who, e.Waited.Round(time.Millisecond))
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
	// An older or hand-made directory is closed to others too: the store
	// holds secret file entries.
	if err := restrict(dir, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(dir, "discoterm.db"), nil
}

// boltStore is the default Store: one bbolt file shared by every process
// on the machine.
//
// bbolt locks its file for as long as it is open, and a reader in one
// process cannot safely share the file with a writer in another (the
// writer reuses pages the reader may still be reading). So the file is
// opened per transaction and closed at its end, under a lock on a side file
// (PATH.lock): shared for View, exclusive for Update. Opening costs a few
// tens of microseconds (an mmap and two meta pages; see BenchmarkOpenPerTx),
// which is small beside the fsync every commit pays anyway. Keeping the file
// open read-only and upgrading to write per Update is not possible: bbolt's
// own shared lock would block every other process's writer for the
// console's whole life, which is the "in use" failure this design removes.
type boltStore struct {
	path     string
	readOnly bool
	timeout  time.Duration
	lock     *fileLock

	// In-process coordination: the side file's flock belongs to one open
	// file description, so goroutines share it through rw and the readers
	// count instead of taking it each.
	rw      sync.RWMutex
	readMu  sync.Mutex
	readers int
	readDB  *bolt.DB // shared by this process's concurrent Views

	gen genTracker // change generations this process wrote (for Watch)

	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the store at path. Nothing is held between
// transactions; each waits at most opts.Timeout for other processes.
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
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open store %s read-only: %w", path, err)
	}
	lk, err := openFileLock(path+".lock", opts.ReadOnly)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if !opts.ReadOnly {
		// bbolt creates the file 0600; one copied in or made by an older
		// version is made so: it holds secret file entries.
		for _, p := range []string{path, path + ".lock"} {
			if err := restrict(p, 0o600); err != nil {
				_ = lk.close()
				return nil, err
			}
		}
	}
	s := &boltStore{path: path, readOnly: opts.ReadOnly, timeout: timeout, lock: lk}
	if err := s.checkSchema(); err != nil {
		_ = lk.close()
		return nil, err
	}
	return s, nil
}

// restrict takes every permission beyond perm away from path (a store
// file 0600, its default directory 0700).
func restrict(path string, perm os.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.Mode().Perm()&^perm == 0 {
		return nil
	}
	if err := os.Chmod(path, fi.Mode().Perm()&perm); err != nil {
		return fmt.Errorf("%s can be read by other users (mode %04o) and cannot be restricted: %v; chmod %o it, it holds secrets", path, fi.Mode().Perm(), err, perm)
	}
	return nil
}

// openDB opens the bbolt file while the side lock is held; bbolt's own
// lock then never waits, except for a process that opens the file without
// discoterm's side lock, which bbolt's timeout bounds.
func (s *boltStore) openDB(readOnly bool) (*bolt.DB, error) {
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.timeout, ReadOnly: readOnly})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, &InUseError{Path: s.path, Waited: s.timeout, Holders: lockHolders(s.path)}
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
			return nil, fmt.Errorf("open store %s: %w; the file is not a discoterm store or is damaged — use --store to choose another file", s.path, err)
		}
		return nil, fmt.Errorf("open store %s: %w", s.path, err)
	}
	return db, nil
}

// checkSchema stamps a new file with SchemaVersion, creates the buckets and
// refuses newer versions.
func (s *boltStore) checkSchema() error {
	version, empty := 0, false
	if fi, err := os.Stat(s.path); err == nil && fi.Size() == 0 || errors.Is(err, os.ErrNotExist) {
		// A read-only bbolt open cannot initialise a file: a new store is
		// created by the write below.
		empty = true
	}
	read := s.view
	if empty {
		read = func(func(*bolt.Tx) error) error { return nil }
	}
	err := read(func(tx *bolt.Tx) error {
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
	if s.readOnly || (!empty && version == SchemaVersion) {
		// A read-only open of a fresh file sees no buckets; every read then
		// finds nothing, which is the truth.
		return nil
	}
	// Creating every bucket once lets Tx methods assume they exist.
	return s.update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketMeta).Get(keySchema) == nil {
			return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
		}
		return nil
	})
}

// view runs fn on a read-only bbolt transaction under the shared lock.
// Concurrent Views of this process share one open of the file.
func (s *boltStore) view(fn func(*bolt.Tx) error) error {
	s.rw.RLock()
	defer s.rw.RUnlock()
	db, err := s.acquireRead()
	if err != nil {
		return err
	}
	defer s.releaseRead()
	return db.View(fn)
}

func (s *boltStore) acquireRead() (*bolt.DB, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.readers > 0 {
		s.readers++
		return s.readDB, nil
	}
	if err := s.lock.acquire(false, s.timeout, s.path); err != nil {
		return nil, err
	}
	db, err := s.openDB(true)
	if err != nil {
		s.lock.release()
		return nil, err
	}
	s.readers, s.readDB = 1, db
	return db, nil
}

func (s *boltStore) releaseRead() {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.readers--; s.readers == 0 {
		_ = s.readDB.Close()
		s.readDB = nil
		s.lock.release()
	}
}

// update runs fn on a read-write bbolt transaction under the exclusive
// lock; the file is closed (and the lock released) before it returns.
func (s *boltStore) update(fn func(*bolt.Tx) error) error {
	s.rw.Lock()
	defer s.rw.Unlock()
	if err := s.lock.acquire(true, s.timeout, s.path); err != nil {
		return err
	}
	defer s.lock.release()
	db, err := s.openDB(false)
	if err != nil {
		return err
	}
	err = db.Update(fn)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store %s: closing after commit: %w", s.path, cerr)
	}
	return err
}

// View runs fn in a read-only transaction. fn must not keep tx.
func (s *boltStore) View(fn func(Tx) error) error {
	return s.view(func(tx *bolt.Tx) error { return fn(&boltTx{tx: tx}) })
}

// Update runs fn in a read-write transaction, committed only if fn returns
// nil. Every commit that wrote something also advances the change
// generation Watch reports.
func (s *boltStore) Update(fn func(Tx) error) error {
	if s.readOnly {
		return fmt.Errorf("store %s was opened read-only: %w", s.path, ErrReadOnly)
	}
	var gen uint64
	err := s.update(func(tx *bolt.Tx) error {
		t := &boltTx{tx: tx}
		if err := fn(t); err != nil {
			return err
		}
		if t.areas == 0 {
			return nil
		}
		var err error
		gen, err = bumpGen(tx, t.areas)
		return err
	})
	if err == nil && gen > 0 {
		s.gen.own(gen)
	}
	return err
}

// Path is the store's file.
func (s *boltStore) Path() string { return s.path }

// Close releases the side lock file. Calling it again does nothing.
func (s *boltStore) Close() error {
	s.closeOnce.Do(func() {
		s.rw.Lock()
		defer s.rw.Unlock()
		s.closeErr = s.lock.close()
	})
	return s.closeErr
}

package testfleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// RegistryDir records every fleet on the machine: RegistryDir/<id>/ holds
// fleet.json (the fleet's resources, written before any of them is created)
// and lock, which the owning process holds flock'ed for its lifetime. A lock
// that can be taken means the owner is gone (the kernel drops flocks of dead
// processes), so the fleet is a leftover — unless it is Detached (made by
// `testfleet up`), which lives until `testfleet down`.
var RegistryDir = "/run/discoterm-testfleet"

var (
	idRe      = regexp.MustCompile(`^[0-9a-f]{4}$`)
	nsNameRe  = regexp.MustCompile(`^dt([0-9a-f]{4})h[0-9]+$`)
	linkRe    = regexp.MustCompile(`^dt(?:b([0-9a-f]{4})|([0-9a-f]{4})v[0-9]+)$`)
	globalLck = ".lock"
)

// lockFile opens path (creating it only with create) and takes an exclusive
// flock; with wait false it fails with unix.EWOULDBLOCK when someone else
// holds it. Only the owner creates a fleet's lock file, so a sweeper never
// re-creates one in a registry entry its owner is removing.
func lockFile(path string, wait, create bool) (*os.File, error) {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// withGlobalLock serialises registry-wide decisions (limit raising/restoring).
func withGlobalLock(fn func() error) error {
	if err := os.MkdirAll(RegistryDir, 0o755); err != nil {
		return err
	}
	l, err := lockFile(filepath.Join(RegistryDir, globalLck), true, true)
	if err != nil {
		return err
	}
	defer l.Close()
	return fn()
}

// register allocates a fleet id that is free on this machine and creates its
// registry entry with the lock held by this process.
func register(f *Fleet) error {
	if err := os.MkdirAll(RegistryDir, 0o755); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	for try := 0; try < 100; try++ {
		id := randHex(2)
		if exists(filepath.Join(RegistryDir, id)) || linkExists("dtb"+id) || netnsExists("dt"+id+"h1") {
			continue
		}
		tmp, err := os.MkdirTemp(RegistryDir, ".new-")
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		lock, err := lockFile(filepath.Join(tmp, "lock"), false, true)
		if err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("registry lock: %w", err)
		}
		f.plan(id)
		if err := writeFileAtomic(filepath.Join(tmp, "fleet.json"), f.marshal(), 0o644); err != nil {
			lock.Close()
			os.RemoveAll(tmp)
			return fmt.Errorf("registry: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(RegistryDir, id)); err != nil {
			lock.Close()
			os.RemoveAll(tmp)
			continue // taken meanwhile
		}
		f.lock = lock
		return nil
	}
	return errors.New("testfleet: could not allocate a free fleet id")
}

func (f *Fleet) registryDir() string { return filepath.Join(RegistryDir, f.ID) }

// Sweep removes leftovers of fleets whose owning process is dead: fleets in
// the registry whose lock is free (except complete Detached fleets whose
// bridge still exists), and namespaces/links named like a fleet's whose id is
// not registered at all. Fleets of live processes are never touched.
func Sweep() error { return sweep(false) }

func sweep(includeDetached bool) error {
	var errs []error
	ents, _ := os.ReadDir(RegistryDir)
	for _, e := range ents {
		name := e.Name()
		dir := filepath.Join(RegistryDir, name)
		if strings.HasPrefix(name, ".new-") {
			// An allocation in progress, or one whose process died before
			// creating anything: remove when its lock is free.
			l, err := lockFile(filepath.Join(dir, "lock"), false, false)
			if (err == nil || errors.Is(err, os.ErrNotExist)) && olderThan(dir, 10*time.Second) {
				os.RemoveAll(dir)
			}
			if l != nil {
				l.Close()
			}
			continue
		}
		if !e.IsDir() || !idRe.MatchString(name) {
			continue
		}
		lock, err := lockFile(filepath.Join(dir, "lock"), false, false)
		if errors.Is(err, os.ErrNotExist) && olderThan(dir, 30*time.Second) {
			// Owners create the lock before the entry appears: a lock
			// missing for long is a remnant of an interrupted removal.
			lock, err = nil, nil
		}
		if err != nil && exists(filepath.Join(dir, "sweeper")) {
			// Another sweeper is removing it: wait, so that leftovers are
			// gone when Sweep returns.
			lock, err = waitLock(dir, 15*time.Second)
		}
		if err != nil {
			continue // owner alive (or being removed): not ours to touch
		}
		if !exists(dir) { // removed meanwhile
			if lock != nil {
				lock.Close()
			}
			continue
		}
		f, rerr := readState(filepath.Join(dir, "fleet.json"))
		if rerr != nil {
			f = &Fleet{ID: name, Bridge: "dtb" + name}
		}
		if f.Detached && f.Ready && linkExists(f.Bridge) && !includeDetached {
			lock.Close()
			continue
		}
		f.lock = lock
		_ = os.WriteFile(filepath.Join(dir, "sweeper"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
		if err := f.teardown(); err != nil {
			errs = append(errs, fmt.Errorf("fleet %s: %w", name, err))
		}
	}
	if err := sweepOrphans(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitLock waits until the registry entry dir's lock can be taken; an
// error satisfying errors.Is(err, os.ErrNotExist) means the entry is gone.
func waitLock(dir string, timeout time.Duration) (*os.File, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := lockFile(filepath.Join(dir, "lock"), false, false)
		if err == nil {
			return l, nil
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func olderThan(path string, d time.Duration) bool {
	fi, err := os.Stat(path)
	return err == nil && time.Since(fi.ModTime()) > d
}

// sweepOrphans removes namespaces and links with fleet names whose fleet id
// has no registry entry (registry entries are created before resources, so
// an unregistered id can only be a leftover).
func sweepOrphans() error {
	ids := map[string]bool{}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if m := nsNameRe.FindStringSubmatch(e.Name()); m != nil {
				ids[m[1]] = true
			}
		}
	}
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			if m := linkRe.FindStringSubmatch(e.Name()); m != nil {
				ids[m[1]+m[2]] = true
			}
		}
	}
	var errs []error
	for id := range ids {
		if exists(filepath.Join(RegistryDir, id)) {
			continue
		}
		f := &Fleet{ID: id, Bridge: "dtb" + id}
		if err := f.teardown(); err != nil {
			errs = append(errs, fmt.Errorf("orphan fleet %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func readState(path string) (*Fleet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := &Fleet{}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, h := range f.Hosts {
		h.fleet = f
	}
	return f, nil
}

// RegistryEntry describes one registered fleet (for `testfleet status`).
type RegistryEntry struct {
	ID       string
	Dir      string
	Hosts    int
	OwnerPID int
	Alive    bool // the owning process still holds the fleet
	Detached bool
	Ready    bool
	Bridge   bool // the bridge exists
}

// List returns the fleets in the registry.
func List() ([]RegistryEntry, error) {
	ents, err := os.ReadDir(RegistryDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RegistryEntry
	for _, e := range ents {
		if !idRe.MatchString(e.Name()) {
			continue
		}
		dir := filepath.Join(RegistryDir, e.Name())
		re := RegistryEntry{ID: e.Name()}
		if f, err := readState(filepath.Join(dir, "fleet.json")); err == nil {
			re.Dir, re.Hosts, re.OwnerPID, re.Detached, re.Ready = f.Dir, len(f.Hosts), f.OwnerPID, f.Detached, f.Ready
		}
		if l, err := lockFile(filepath.Join(dir, "lock"), false, false); err == nil {
			l.Close()
		} else {
			re.Alive = true
		}
		re.Bridge = linkExists("dtb" + e.Name())
		out = append(out, re)
	}
	return out, nil
}

// ---- machine-wide limits for big fleets -----------------------------------

// Limits raised (never lowered) for fleets of more than LimitsThreshold
// hosts, and restored when the last fleet that needed them is gone.
var bigFleetLimits = []struct {
	name string
	min  int
}{
	{"net.core.netdev_max_backlog", 10000},
	{"net.ipv6.neigh.default.gc_thresh1", 4096},
	{"net.ipv6.neigh.default.gc_thresh2", 8192},
	{"net.ipv6.neigh.default.gc_thresh3", 16384},
}

// LimitsThreshold: fleets with more hosts raise the limits above.
const LimitsThreshold = 30

const savedLimits = "limits-saved.json"

// raiseLimits must run in the root network namespace (any goroutine not
// inside inNetns is).
func (f *Fleet) raiseLimits() error {
	return withGlobalLock(func() error {
		saved := filepath.Join(RegistryDir, savedLimits)
		if !exists(saved) {
			orig := map[string]string{}
			for _, l := range bigFleetLimits {
				v, err := readSysctl(l.name)
				if err != nil {
					return err
				}
				orig[l.name] = v
			}
			b, _ := json.Marshal(orig)
			if err := writeFileAtomic(saved, b, 0o644); err != nil {
				return err
			}
		}
		f.RaisedLimits = true
		if err := f.saveState(); err != nil {
			return err
		}
		for _, l := range bigFleetLimits {
			v, _ := readSysctl(l.name)
			if n, err := strconv.Atoi(v); err == nil && n >= l.min {
				continue
			}
			if err := writeSysctl(l.name, strconv.Itoa(l.min)); err != nil {
				return err
			}
		}
		return nil
	})
}

// restoreLimits puts the saved values back unless another registered fleet
// still needs raised limits.
func (f *Fleet) restoreLimits() error {
	return withGlobalLock(func() error {
		ents, _ := os.ReadDir(RegistryDir)
		for _, e := range ents {
			if !idRe.MatchString(e.Name()) || e.Name() == f.ID {
				continue
			}
			if o, err := readState(filepath.Join(RegistryDir, e.Name(), "fleet.json")); err == nil && o.RaisedLimits {
				return nil
			}
		}
		saved := filepath.Join(RegistryDir, savedLimits)
		b, err := os.ReadFile(saved)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		orig := map[string]string{}
		if err := json.Unmarshal(b, &orig); err != nil {
			os.Remove(saved)
			return err
		}
		var errs []error
		for name, v := range orig {
			if err := writeSysctl(name, v); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			os.Remove(saved)
		}
		return errors.Join(errs...)
	})
}

// DownAll removes every detached fleet and every leftover (what
// `testfleet down -all` does). With force it also removes fleets whose
// owning process is alive (running tests will fail).
func DownAll(force bool) error {
	err := sweep(true)
	if !force {
		return err
	}
	errs := []error{err}
	ents, _ := os.ReadDir(RegistryDir)
	for _, e := range ents {
		if !idRe.MatchString(e.Name()) {
			continue
		}
		f, rerr := readState(filepath.Join(RegistryDir, e.Name(), "fleet.json"))
		if rerr != nil {
			f = &Fleet{ID: e.Name(), Bridge: "dtb" + e.Name()}
		}
		if err := f.teardown(); err != nil {
			errs = append(errs, fmt.Errorf("fleet %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

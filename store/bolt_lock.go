package store

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// fileLock is the side file whose flock orders transactions across
// processes. A flock (not fcntl) lock belongs to the open file
// description, so the kernel frees it the moment its process dies: a
// crashed discoterm never leaves the store locked.
type fileLock struct {
	f *os.File
}

func openFileLock(path string, readOnly bool) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil && readOnly {
		// A read-only user may not be able to create or write it; a shared
		// flock works on a read-only descriptor too.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	return &fileLock{f: f}, nil
}

// acquire waits up to timeout, polling with a short, growing, jittered
// pause: a blocking flock cannot be abandoned when the wait runs out, and
// a fixed long pause (bbolt's is 50 ms) makes a hundred processes queue for
// seconds behind transactions that take a millisecond.
func (l *fileLock) acquire(exclusive bool, timeout time.Duration, store string) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	pause := 200 * time.Microsecond
	for {
		err := syscall.Flock(int(l.f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("store %s: locking %s: %w", store, l.f.Name(), err)
		}
		if time.Now().After(deadline) {
			return &InUseError{Path: store, Waited: timeout, Holders: lockHolders(store)}
		}
		time.Sleep(pause/2 + rand.N(pause))
		pause = min(pause*2, 10*time.Millisecond)
	}
}

func (l *fileLock) release() { _ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN) }

func (l *fileLock) close() error { return l.f.Close() }

// lockHolders names the processes holding the store's side lock, from
// /proc/locks (Linux), so that a timeout says whom to ask rather than
// "another process". Best effort: an empty list only weakens the message.
func lockHolders(store string) []Holder {
	fi, err := os.Stat(store + ".lock")
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseProcLocks(bufio.NewScanner(f), st.Ino, os.Getpid())
}

// parseProcLocks reads lines such as
//
//	3: FLOCK  ADVISORY  WRITE 4242 08:01:1311 0 EOF
//
// keeping the holders (not the waiters, marked "->") of inode ino.
func parseProcLocks(sc *bufio.Scanner, ino uint64, self int) []Holder {
	var out []Holder
	seen := map[int]bool{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] == "->" || f[1] != "FLOCK" {
			continue
		}
		dev := strings.Split(f[5], ":")
		if len(dev) != 3 || dev[2] != strconv.FormatUint(ino, 10) {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid <= 0 || pid == self || seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, Holder{PID: pid, Command: commandLine(pid), Write: f[3] == "WRITE"})
	}
	return out
}

// commandLine is the process's argv joined by spaces, with anything not
// printable replaced and cut to 80 characters: it goes into an error
// message shown on a terminal.
func commandLine(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	s := strings.TrimRight(string(b), "\x00")
	s = strings.Map(func(r rune) rune {
		if r == 0 {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}

package store

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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

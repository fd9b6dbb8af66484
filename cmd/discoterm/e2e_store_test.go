package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestBatchLockRace: 100 processes try to lock one branch of one local
// store at once. The store serialises them without "in use" errors:
// exactly one holds the lock, and the other 99 exit 4 naming that holder.
func TestBatchLockRace(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store.db")
	const n = 100
	type out struct {
		code   int
		stderr string
	}
	res := make([]out, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(binary, "--batch", "--store", st, "--ssh-config", "none",
				"--operator", fmt.Sprintf("op%02d@jump", i), "lock", "main", fmt.Sprintf("change %d", i))
			cmd.Env = append(os.Environ(), "HOME="+dir, "SSH_AUTH_SOCK=")
			var se bytes.Buffer
			cmd.Stderr = &se
			<-start
			err := cmd.Run()
			var ee *exec.ExitError
			switch {
			case err == nil:
			case errors.As(err, &ee):
				res[i].code = ee.ExitCode()
			default:
				res[i].code = -1
			}
			res[i].stderr = se.String()
		}()
	}
	close(start)
	wg.Wait()

	var holders []int
	for i, r := range res {
		if r.code == 0 {
			holders = append(holders, i)
		}
	}
	if len(holders) != 1 {
		t.Fatalf("%d processes got the lock (%v), want exactly 1", len(holders), holders)
	}
	holder := fmt.Sprintf("op%02d@jump", holders[0])
	for i, r := range res {
		if i == holders[0] {
			continue
		}
		if r.code != exitLockHeld || !strings.Contains(r.stderr, "locked by "+holder) {
			t.Errorf("process %d: exit %d, stderr %q; want exit 4 naming %s", i, r.code, r.stderr, holder)
		}
	}
}

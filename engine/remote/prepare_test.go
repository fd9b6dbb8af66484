package remote

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// sessionAlive lists the live (not zombie) processes of session sid.
func sessionAlive(sid int) []string {
	var live []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		var state string
		var ppid, pgrp, session int
		if _, err := fmt.Sscan(s[i+1:], &state, &ppid, &pgrp, &session); err != nil || session != sid || state == "Z" {
			continue
		}
		live = append(live, e.Name()+" "+s[:i+1])
	}
	return live
}

// TestCancelPreparedKillsWaiter: a plan prepared for an hour ahead and
// then forgotten (cancel-prepared) leaves no process of its waiter — the
// waiter's shell and the sleep it waits in — and no file behind.
func TestCancelPreparedKillsWaiter(t *testing.T) {
	cancelPrepared(t, &Steps{R: localRunner{}}, Target{}, filepath.Join(t.TempDir(), "state"))
}

// The same through real sshd on a fleet host (its processes are in the
// machine's PID namespace, so /proc shows them).
func TestFleetCancelPreparedKillsWaiter(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	h := f.Hosts[0]
	cancelPrepared(t, &Steps{R: fleetClient(t, f, nil)}, Target{Addr: h.ULA, Name: h.Name}, "/var/lib/discoterm")
}

func cancelPrepared(t *testing.T, st *Steps, tg Target, sd string) {
	b := &Bundle{StateDir: sd, Branch: "main", Entries: []BundleEntry{{Seq: 1, Op: OpExec, Command: "true"}}}
	ctx := context.Background()
	armed, _, err := st.Prepare(ctx, tg, b, "p0123abcd", time.Now().Add(time.Hour))
	if err != nil || armed.Timer {
		t.Fatalf("prepare: %v %v", armed, err)
	}
	pid := armed.Pid
	deadline := time.Now().Add(5 * time.Second)
	for len(sessionAlive(pid)) < 2 { // the waiter and its sleep
		if time.Now().After(deadline) {
			t.Fatalf("waiter %d: processes %q", pid, sessionAlive(pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	ps, err := st.Collect(ctx, tg, sd)
	if err != nil || len(ps) != 1 || ps[0].State != "waiting" {
		t.Fatalf("collect before cancel: %+v %v", ps, err)
	}
	if err := st.Forget(ctx, tg, sd, "p0123abcd"); err != nil {
		t.Fatal(err)
	}
	for live := sessionAlive(pid); len(live) > 0; live = sessionAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("cancelled waiter still runs: %q", live)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ps, err := st.Collect(ctx, tg, sd); err != nil || len(ps) != 0 {
		t.Errorf("collect after cancel: %+v %v", ps, err)
	}
}

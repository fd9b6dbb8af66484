package engine

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// failingRemote refuses every host, counting the attempts.
type failingRemote struct {
	mu     sync.Mutex
	probes int
}

func (f *failingRemote) Probe(ctx context.Context, t remote.Target, req remote.ProbeRequest) (*remote.ProbeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes++
	return nil, &remote.UnreachableError{Host: t.Addr, Err: errors.New("no route to host")}
}
func (f *failingRemote) Fetch(context.Context, remote.Target, []string) (map[string][]byte, error) {
	return nil, errors.New("unreachable")
}
func (f *failingRemote) Apply(context.Context, remote.Target, *remote.Bundle, func(remote.EntryReport)) (*remote.ApplyResult, error) {
	return nil, errors.New("unreachable")
}
func (f *failingRemote) Sandbox(context.Context, remote.Target, remote.SandboxRequest) (*remote.SandboxResult, error) {
	return nil, errors.New("unreachable")
}
func (f *failingRemote) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.probes }

// A host the policy would catch up but whose push fails is not retried in a
// tight loop: it waits BackoffMin, then twice that, up to BackoffMax.
func TestCatchUpBacksOff(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fr := &failingRemote{}
	key, allowed := testSigner(t, "cron")
	e, err := New(Options{Store: st, Remote: fr, Operator: "cron", Clock: func() time.Time { return now }, Signer: key, AllowedSigners: allowed})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Lock("main", "one entry"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Stage("main", StageRequest{Kind: journal.KindExec, Command: "true"}); err != nil {
		t.Fatal(err)
	}
	p, err := e.Plan(context.Background(), PlanRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Approve(p.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := e.SetCatchUp("main", store.CatchUp{Enabled: true, Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	h := store.Host{ID: "mid:1", Name: "web1", Addr: "fe80::1%br0", MAC: "02:00:00:00:00:01", Trusted: true, Branch: "main", Liveness: "alive"}
	if err := st.Update(func(tx store.Tx) error { return tx.PutHost(h) }); err != nil {
		t.Fatal(err)
	}
	d := &discovery{e: e, opts: DiscoverOptions{BackoffMin: time.Minute, BackoffMax: 3 * time.Minute},
		running: map[string]bool{}, backoff: map[string]time.Time{}, fails: map[string]int{}, slots: make(chan struct{}, 4)}
	touched := map[string]store.Host{h.MAC: h}
	round := func() int {
		before := fr.count()
		d.catchUp(context.Background(), touched)
		d.wg.Wait()
		return fr.count() - before
	}
	if n := round(); n != 1 {
		t.Fatalf("first round: %d attempts, want 1", n)
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{
		{30 * time.Second, 0}, // within the first back-off (1m)
		{31 * time.Second, 1}, // past it: try again; next wait 2m
		{90 * time.Second, 0},
		{31 * time.Second, 1}, // past 2m; next wait capped at 3m
		{2 * time.Minute, 0},
		{61 * time.Second, 1},
	} {
		now = now.Add(step.advance)
		if n := round(); n != step.want {
			t.Fatalf("after +%s: %d attempts, want %d (fails %d, backoff until %s)", step.advance, n, step.want, d.fails[h.ID], d.backoff[h.ID])
		}
	}
}

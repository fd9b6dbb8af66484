package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/discoterm/discoterm/store"
)

// The drift watch checks a branch as often as its policy says and no
// more: rounds in between start nothing.
func TestDriftWatchSchedules(t *testing.T) {
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
	if err := e.Lock("main", "branch"); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tx store.Tx) error {
		return tx.PutHost(store.Host{ID: "h1", Name: "web1", Addr: "10.0.0.1", Trusted: true, Branch: "main"})
	}); err != nil {
		t.Fatal(err)
	}
	d := &discovery{e: e}
	round := func() {
		d.driftChecks(context.Background())
		d.wg.Wait()
	}
	round()
	if n := fr.count(); n != 0 {
		t.Fatalf("no policy: %d drift probes", n)
	}
	if err := e.SetRollout("main", store.Rollout{DriftEvery: time.Hour}); err != nil {
		t.Fatal(err)
	}
	round()
	now = now.Add(30 * time.Minute)
	round()
	if n := fr.count(); n != 1 {
		t.Fatalf("after two rounds within the hour: %d drift probes, want 1", n)
	}
	now = now.Add(31 * time.Minute)
	round()
	if n := fr.count(); n != 2 {
		t.Fatalf("an hour later: %d drift probes, want 2", n)
	}
	var h store.Host
	_ = st.View(func(tx store.Tx) error { h, err = tx.Host("h1"); return err })
	if h.Drift == nil || h.Drift.Err == "" {
		t.Errorf("an unreachable host's drift summary says nothing: %+v", h.Drift)
	}
}

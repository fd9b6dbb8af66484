package engine_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/store/natstest"
)

// envOn is newEnv on a given store.
func envOn(t testing.TB, st store.Store) *testEnv {
	dir := t.TempDir()
	v := &testEnv{t: t, dir: dir, st: st, fr: newFakeRemote(), classFile: filepath.Join(dir, "main.cf"),
		keys: map[string]ssh.Signer{}, allowed: filepath.Join(dir, "allowed_signers")}
	v.writeClass(defaultClass)
	v.eng = v.engine("alice")
	return v
}

// TestRacingApprovals: two plans of the same staged changes approved at
// the same moment from two processes (two opens of the file, two NATS
// connections): exactly one changeset lands, the other approval is told
// to re-plan, and the journal verifies.
func TestRacingApprovals(t *testing.T) {
	backends := map[string]func(t *testing.T) (store.Store, store.Store){
		"bolt": func(t *testing.T) (store.Store, store.Store) {
			p := filepath.Join(t.TempDir(), "s.db")
			return openT(t, func() (store.Store, error) { return store.Open(p, store.Options{}) }),
				openT(t, func() (store.Store, error) { return store.Open(p, store.Options{}) })
		},
		"nats": func(t *testing.T) (store.Store, store.Store) {
			url := natstest.Start(t) + "/race"
			o := func() (store.Store, error) { return store.OpenNATS(store.NATSOptions{URL: url}) }
			return openT(t, o), openT(t, o)
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			sa, sb := open(t)
			v := envOn(t, sa)
			other := v.engine("alice", func(o *engine.Options) { o.Store = sb })
			v.addHosts("10.0.0.", 3)
			v.lock("main")
			v.stage("main", fileReq("/etc/a", "a\n"), fileReq("/etc/b", "b\n"))
			p1 := v.plan(engine.PlanRequest{})
			p2, err := other.Plan(t.Context(), engine.PlanRequest{Branch: "main"})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for i, run := range []func() error{
				func() error { _, err := v.eng.Approve(p1.ID, false); return err },
				func() error { _, err := other.Approve(p2.ID, false); return err },
			} {
				wg.Add(1)
				go func() { defer wg.Done(); <-start; errs[i] = run() }()
			}
			close(start)
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case errors.Is(err, engine.ErrStale) && strings.Contains(err.Error(), "re-plan"):
				default:
					t.Errorf("approval %d: %v, want success or a stale plan saying re-plan", i+1, err)
				}
			}
			if won != 1 {
				t.Fatalf("%d approvals succeeded (%v), want exactly 1", won, errs)
			}
			for _, e := range []*engine.Engine{v.eng, other} {
				jv, err := e.Log("main")
				if err != nil {
					t.Fatal(err)
				}
				if len(jv.Entries) != 2 || jv.Branch.Head != 2 {
					t.Errorf("journal has %d entries, head %d; want the one changeset of 2", len(jv.Entries), jv.Branch.Head)
				}
				if err := journal.Verify("main", jv.Entries, jv.Branch.HeadHash); err != nil {
					t.Errorf("journal does not verify: %v", err)
				}
			}
		})
	}
}

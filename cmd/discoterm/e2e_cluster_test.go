package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/remote/testfleet"
	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/store/natstest"
)

// TestClusterLeaderLostMidPush: a 3-node NATS cluster with replicas 3
// holds the store; while a push of 20 fleet hosts runs, the server leading
// the state bucket is killed. The push completes, every host's results are
// stored, and the journal verifies.
func TestClusterLeaderLostMidPush(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 20})
	c := natstest.StartCluster(t, 3)
	st, err := store.OpenNATS(store.NATSOptions{URL: c.URL() + "/fleet?replicas=3", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	cls := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(cls, []byte("DEFAULT:\n    BRANCH = main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{KnownHostsFiles: []string{f.KnownHosts}, IdentityFiles: []string{f.ClientKey}, ConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	eng, err := engine.New(engine.Options{Store: st, Remote: &remote.Steps{R: client, HostKey: client.HostKey}, Operator: "alice",
		ClassFile: cls, Parallel: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, h := range f.Hosts {
		if _, err := eng.AddHost(ctx, engine.AddHostRequest{Addr: h.ULA}); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(eng.Lock("main", "through a failover"))
	_, err = eng.Stage("main", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/failover.conf", Content: []byte("survives\n")})
	must(err)
	// Long enough that the kill lands while hosts are applying.
	_, err = eng.Stage("main", engine.StageRequest{Kind: journal.KindExec, Command: "sleep 1"})
	must(err)
	p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
	must(err)
	_, err = eng.Approve(p.ID, false)
	must(err)

	events, stop := eng.Subscribe()
	defer stop()
	killed := make(chan string, 1)
	go func() {
		for ev := range events {
			if ph, ok := ev.(*engine.PushHostEvent); ok && ph.Status == engine.PushApplying {
				for _, srv := range c.Servers {
					if srv.JetStreamIsStreamLeader("$G", "KV_fleet-state") {
						srv.Shutdown()
						killed <- srv.Name()
						return
					}
				}
			}
		}
	}()
	start := time.Now()
	res, err := eng.Push(ctx, p.ID, engine.PushOptions{})
	if err != nil {
		t.Fatalf("push through the failover: %v", err)
	}
	select {
	case name := <-killed:
		t.Logf("killed %s, the state bucket's leader, during the push; push took %v", name, time.Since(start))
	default:
		t.Fatal("the leader was never killed: the test did not test a failover")
	}
	if res.Failed() != 0 {
		t.Fatalf("%d hosts failed", res.Failed())
	}
	err = st.View(func(tx store.Tx) error {
		b, err := tx.Branch("main")
		if err != nil {
			return err
		}
		es, err := tx.Journal("main")
		if err != nil {
			return err
		}
		if err := journal.Verify("main", es, b.HeadHash); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		hs, err := tx.Hosts()
		if err != nil {
			return err
		}
		if len(hs) != 20 {
			return fmt.Errorf("%d hosts in the store", len(hs))
		}
		for _, h := range hs {
			rs, err := tx.Results(h.ID)
			if err != nil {
				return err
			}
			n := 0
			for _, r := range rs {
				if r.PlanID == p.ID && r.Result == "ok" {
					n++
				}
			}
			if n != 2 || h.Position != b.Head || h.LastResult != string(engine.PushDone) {
				t.Errorf("%s: %d ok results of 2, position %d of %d, last result %q", h.Name, n, h.Position, b.Head, h.LastResult)
			}
		}
		rec, err := tx.Plan(p.ID)
		if err != nil || !rec.Pushed {
			t.Errorf("plan record after the push: pushed=%v %v", rec.Pushed, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

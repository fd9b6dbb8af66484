package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/remote/testfleet"
	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/store/natstest"
	"golang.org/x/crypto/ssh"
)

// TestClusterLeaderLostMidPush: a 3-node NATS cluster with replicas 3
// holds the store; while a push of 20 fleet hosts runs, the server leading
// the state bucket is killed. The push completes, every host's results are
// stored, and the journal verifies.
func TestClusterLeaderLostMidPush(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	st, err := store.OpenNATS(store.NATSOptions{URL: c.URL() + "/fleet?replicas=3", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, p := approvedPush(t, st, 20)
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
	res, err := eng.Push(context.Background(), p.ID, engine.PushOptions{})
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

// approvedPush starts a fleet of n hosts, registers them in st and returns
// an engine and an approved plan whose push takes a second per host (an
// exec of sleep 1), so that faults can be injected during it.
func approvedPush(t *testing.T, st store.Store, n int) (*engine.Engine, *engine.Plan) {
	f := testfleet.StartT(t, testfleet.Options{N: n})
	dir := t.TempDir()
	cls := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(cls, []byte("DEFAULT:\n    BRANCH = main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	client, err := remote.New(remote.Options{KnownHostsFiles: []string{f.KnownHosts}, IdentityFiles: []string{f.ClientKey}, ConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	signer, err := f.Signer()
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, append([]byte("alice "), ssh.MarshalAuthorizedKey(signer.PublicKey())...), 0o600); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st, Remote: &remote.Steps{R: client, HostKey: client.HostKey}, Operator: "alice",
		ClassFile: cls, Parallel: 10, Signer: signer, AllowedSigners: allowed})
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

	return eng, p
}

// TestStoreLostMidPush: the only NATS server stops during a push of 10
// hosts and comes back 3 s later. The push goes on (the hosts' state files
// are the truth), says the store is unreachable, and stores every result
// once the server is back.
func TestStoreLostMidPush(t *testing.T) {
	dir := t.TempDir()
	srv, err := natstest.Run(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	port := srv.Addr().(*net.TCPAddr).Port
	st, err := store.OpenNATS(store.NATSOptions{URL: srv.ClientURL() + "/lost", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, p := approvedPush(t, st, 10)
	events, stop := eng.Subscribe()
	defer stop()
	back := make(chan error, 1)
	var warned atomic.Bool
	go func() {
		stopped := false
		for ev := range events {
			if ph, ok := ev.(*engine.PushHostEvent); ok && ph.Status == engine.PushApplying && !stopped {
				stopped = true
				srv.Shutdown()
				go func() {
					time.Sleep(3 * time.Second)
					s2, err := natstest.Run(dir, port)
					if err == nil {
						t.Cleanup(s2.Shutdown)
					}
					back <- err
				}()
			}
			if l, ok := ev.(*engine.LogEvent); ok && l.Level == engine.LevelWarn && strings.Contains(l.Message, "store unreachable") {
				warned.Store(true)
			}
		}
	}()
	t.Cleanup(srv.Shutdown)
	res, err := eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if err != nil {
		t.Fatalf("push with the store lost: %v", err)
	}
	if err := <-back; err != nil {
		t.Fatalf("restarting the server: %v", err)
	}
	if res.Failed() != 0 {
		t.Fatalf("%d hosts failed", res.Failed())
	}
	if !warned.Load() {
		t.Error("nobody was told the store was unreachable")
	}
	err = st.View(func(tx store.Tx) error {
		hs, err := tx.Hosts()
		if err != nil {
			return err
		}
		for _, h := range hs {
			rs, _ := tx.Results(h.ID)
			if len(rs) != 2 || h.LastResult != string(engine.PushDone) || h.Position != 2 {
				t.Errorf("%s: %d results, last %q, position %d", h.Name, len(rs), h.LastResult, h.Position)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

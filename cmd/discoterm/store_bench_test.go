package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/remote/testfleet"
	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/store/natstest"
)

// BenchmarkPlanStore is a plan of 50 fleet hosts (a file and a template
// staged) on each store backend: what a shared NATS store adds to the
// operation operators wait for most.
func BenchmarkPlanStore(b *testing.B) {
	f := testfleet.StartT(b, testfleet.Options{N: 50})
	dir := b.TempDir()
	cls := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(cls, []byte("DEFAULT:\n    BRANCH = main\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	backends := []struct {
		name string
		open func() (store.Store, error)
	}{
		{"file", func() (store.Store, error) { return store.Open(filepath.Join(dir, "plan.db"), store.Options{}) }},
		{"nats", func() (store.Store, error) {
			return store.OpenNATS(store.NATSOptions{URL: natstest.Start(b) + "/plan"})
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			st, err := be.open()
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			client, err := remote.New(remote.Options{KnownHostsFiles: []string{f.KnownHosts}, IdentityFiles: []string{f.ClientKey}, ConfigFile: "none"})
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			eng, err := engine.New(engine.Options{Store: st, Remote: &remote.Steps{R: client, HostKey: client.HostKey}, Operator: "bench",
				ClassFile: cls, Parallel: 64})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for _, h := range f.Hosts {
				if _, err := eng.AddHost(ctx, engine.AddHostRequest{Addr: h.ULA}); err != nil {
					b.Fatal(err)
				}
			}
			if err := eng.Lock("main", "bench"); err != nil {
				b.Fatal(err)
			}
			if _, err := eng.Stage("main", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/bench.conf", Content: []byte("x = 1\n")}); err != nil {
				b.Fatal(err)
			}
			if _, err := eng.Stage("main", engine.StageRequest{Kind: journal.KindTemplate, Path: "/etc/host.conf", Content: []byte("host {{.HOSTNAME}}\n")}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
				if err != nil || len(p.Hosts) != 50 {
					b.Fatal(err)
				}
			}
		})
	}
}

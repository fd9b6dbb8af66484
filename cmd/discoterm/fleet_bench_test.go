package main

import (
	"context"
	"fmt"
	"golang.org/x/crypto/ssh"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/remote/testfleet"
	"github.com/discoterm/discoterm/store"
)

// The fleet benchmarks measure what issue #2 asks: on N hosts, each with 10
// static files, one template and one guarded exec pending, the wall time of
// plan, of push, and of a second plan with nothing pending; SSH round trips
// and bytes per host; and the floor: N parallel `ssh HOST true` with
// OpenSSH's client. Each operation starts from cold connections, as a
// --batch invocation does.

type benchRig struct {
	fleet *testfleet.Fleet
	st    store.Store
	dir   string
	round int
}

func newBenchRig(b *testing.B, n int) *benchRig {
	f := testfleet.StartT(b, testfleet.Options{N: n})
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cls := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(cls, []byte("DEFAULT\n    BRANCH = main\n    ROLE = bench\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	rg := &benchRig{fleet: f, st: st, dir: dir}
	eng, client := rg.engine(b)
	defer client.Close()
	for _, h := range f.Hosts {
		if _, err := eng.AddHost(context.Background(), engine.AddHostRequest{Addr: h.ULA}); err != nil {
			b.Fatal(err)
		}
	}
	return rg
}

// engine builds an engine with a fresh SSH client (cold connections).
func (rg *benchRig) engine(b *testing.B, mods ...func(*engine.Options)) (*engine.Engine, *remote.Client) {
	client, err := remote.New(remote.Options{KnownHostsFiles: []string{rg.fleet.KnownHosts}, IdentityFiles: []string{rg.fleet.ClientKey}, ConfigFile: "none"})
	if err != nil {
		b.Fatal(err)
	}
	signer, err := rg.fleet.Signer()
	if err != nil {
		b.Fatal(err)
	}
	allowed := filepath.Join(rg.dir, "allowed_signers")
	if err := os.WriteFile(allowed, append([]byte("bench "), ssh.MarshalAuthorizedKey(signer.PublicKey())...), 0o600); err != nil {
		b.Fatal(err)
	}
	opts := engine.Options{Store: rg.st, Remote: &remote.Steps{R: client, HostKey: client.HostKey}, Operator: "bench",
		ClassFile: filepath.Join(rg.dir, "main.cf"), Parallel: 64, Signer: signer, AllowedSigners: allowed}
	for _, m := range mods {
		m(&opts)
	}
	eng, err := engine.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return eng, client
}

// stage puts 10 files, a template and a guarded exec under the lock and
// returns an approved plan covering them.
func (rg *benchRig) stage(b *testing.B) {
	rg.round++
	eng, client := rg.engine(b)
	defer client.Close()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(eng.Lock("main", fmt.Sprintf("bench round %d", rg.round)))
	for i := 0; i < 10; i++ {
		content := []byte(fmt.Sprintf("# file %d, round %d\nsetting = %d\n", i, rg.round, i*rg.round))
		_, err := eng.Stage("main", engine.StageRequest{Kind: journal.KindFile, Content: content, Path: fmt.Sprintf("/etc/bench/file%d.conf", i)})
		must(err)
	}
	_, err := eng.Stage("main", engine.StageRequest{Kind: journal.KindTemplate, Content: []byte("host {{.HOSTNAME}} role {{.ROLE}} round " + fmt.Sprint(rg.round) + "\n"), Path: "/etc/bench/host.conf"})
	must(err)
	_, err = eng.Stage("main", engine.StageRequest{Kind: journal.KindExec, Command: fmt.Sprintf("touch /etc/bench/done%d", rg.round),
		Guard: journal.Guard{Creates: fmt.Sprintf("/etc/bench/done%d", rg.round)}})
	must(err)
}

func (rg *benchRig) perHost(b *testing.B, client *remote.Client) {
	var sessions, sent, recv int64
	for _, h := range rg.fleet.Hosts {
		s := client.Stats(remote.Target{Addr: h.ULA})
		sessions += s.Sessions
		sent += s.BytesSent
		recv += s.BytesReceived
	}
	n := float64(len(rg.fleet.Hosts))
	b.ReportMetric(float64(sessions)/n, "roundtrips/host")
	b.ReportMetric(float64(sent)/n, "bytes-sent/host")
	b.ReportMetric(float64(recv)/n, "bytes-recv/host")
}

func reportRSS(b *testing.B) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MiB")
	}
}

func benchFleet(b *testing.B, n int) {
	rg := newBenchRig(b, n)
	ctx := context.Background()
	b.Run("ssh-true-floor", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for _, h := range rg.fleet.Hosts {
				wg.Add(1)
				go func(h *testfleet.Host) {
					defer wg.Done()
					out, err := exec.Command("ssh", "-F", "/dev/null", "-i", rg.fleet.ClientKey, "-o", "UserKnownHostsFile="+rg.fleet.KnownHosts,
						"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "root@"+h.ULA, "true").CombinedOutput()
					if err != nil {
						b.Errorf("ssh %s: %v %s", h.Name, err, out)
					}
				}(h)
			}
			wg.Wait()
		}
	})
	// plan carries the exec out in each host's sandbox; plan-no-sandbox
	// is the same plan without simulating it (what a plan cost before).
	rg.stage(b)
	for _, sandboxed := range []bool{true, false} {
		name := "plan"
		if !sandboxed {
			name = "plan-no-sandbox"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				eng, client := rg.engine(b, func(o *engine.Options) { o.NoSandbox = !sandboxed })
				p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for _, hp := range p.Hosts {
					if hp.Pending() != 12 {
						b.Fatalf("%s: want 12 pending entries, got %d (%s)", hp.Name, hp.Pending(), hp.Err)
					}
					if ex := hp.Changes[11]; ex.Sandboxed != sandboxed || sandboxed && len(ex.Files) != 1 {
						b.Fatalf("%s: exec sandboxed %v (%s), files %+v", hp.Name, ex.Sandboxed, ex.NotSimulated, ex.Files)
					}
				}
				rg.perHost(b, client)
				client.Close()
				b.StartTimer()
			}
			reportRSS(b)
		})
	}
	b.Run("push", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			eng, client := rg.engine(b)
			if _, _, err := eng.Staged("main"); err != nil {
				b.Fatal(err)
			}
			if staged, _, _ := eng.Staged("main"); len(staged) == 0 {
				rg.stage(b)
			}
			p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := eng.Approve(p.ID, false); err != nil {
				b.Fatal(err)
			}
			client.Close()
			eng, client = rg.engine(b)
			b.StartTimer()
			r, err := eng.Push(ctx, p.ID, engine.PushOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if r.Hosts[0].To != p.Head+12 {
				b.Fatalf("push ended at %d", r.Hosts[0].To)
			}
			rg.perHost(b, client)
			client.Close()
			b.StartTimer()
		}
		reportRSS(b)
	})
	b.Run("plan-nothing-pending", func(b *testing.B) {
		for b.Loop() {
			eng, client := rg.engine(b)
			p, err := eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
			if err != nil {
				b.Fatal(err)
			}
			if p.Hosts[0].Pending() != 0 {
				b.Fatalf("want nothing pending, got %d", p.Hosts[0].Pending())
			}
			b.StopTimer()
			rg.perHost(b, client)
			client.Close()
			b.StartTimer()
		}
	})
}

func BenchmarkFleet10(b *testing.B) { benchFleet(b, 10) }
func BenchmarkFleet50(b *testing.B) { benchFleet(b, 50) }

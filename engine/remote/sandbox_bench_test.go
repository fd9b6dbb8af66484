package remote

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// benchEntries is the fleet benchmark's pending work: 10 files, a
// rendered template and a guarded exec.
func benchEntries(round int) []SandboxEntry {
	var es []SandboxEntry
	for i := 0; i < 10; i++ {
		es = append(es, SandboxEntry{Seq: uint64(i + 1), Kind: "file", Path: fmt.Sprintf("/etc/bench/file%d.conf", i),
			Content: []byte(fmt.Sprintf("# file %d, round %d\nsetting = %d\n", i, round, i*round)), Mode: 0o644})
	}
	es = append(es, SandboxEntry{Seq: 11, Kind: "file", Path: "/etc/bench/host.conf", Content: []byte("host node1 role bench\n"), Mode: 0o644})
	es = append(es, SandboxEntry{Seq: 12, Kind: "exec", Command: fmt.Sprintf("touch /etc/bench/done%d", round), Creates: fmt.Sprintf("/etc/bench/done%d", round)})
	return es
}

// childCPU is the CPU time of this process's reaped children.
func childCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runOnHost runs a step's program inside a fleet host as sshd would (its
// namespaces, root), as a child of this process, so its CPU is counted.
func runOnHost(b *testing.B, h *testfleet.Host, cmd, program string) []byte {
	c := h.Command(context.Background(), "sh", "-c", cmd)
	c.Stdin = strings.NewReader(program)
	var out bytes.Buffer
	c.Stdout = &out
	if err := c.Run(); err != nil {
		b.Fatalf("%v: %s", err, out.Bytes())
	}
	return out.Bytes()
}

// BenchmarkSandboxHostCPU: the host-side CPU of the sandbox step for the
// fleet benchmark's pending entries, beside the probe's.
func BenchmarkSandboxHostCPU(b *testing.B) {
	f := testfleet.StartT(b, testfleet.Options{N: 1})
	h := f.Hosts[0]
	probe, err := probeProgram(ProbeRequest{StateDir: "/var/lib/discoterm", Paths: []string{"/etc/bench/file0.conf", "/etc/bench/done1"}})
	if err != nil {
		b.Fatal(err)
	}
	sb, err := sandboxScript(SandboxRequest{Entries: benchEntries(1), Env: map[string]string{"ROLE": "bench"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, cmd, program string }{
		{"probe", remoteShell, probe},
		{"sandbox", sandboxCommand, sb},
	} {
		b.Run(c.name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				before := childCPU()
				out := runOnHost(b, h, c.cmd, c.program)
				cpu += childCPU() - before
				if c.name == "sandbox" {
					res, err := ParseSandbox(out)
					if err != nil || len(res.Execs) != 1 || len(res.Execs[0].Effects) == 0 {
						b.Fatalf("%v %+v", err, res)
					}
					if e := res.Execs[0].Effects[len(res.Execs[0].Effects)-1]; e.Path != "/etc/bench/done1" || e.Before.Exists {
						b.Fatalf("%+v", e)
					}
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "host-cpu-ms/op")
		})
	}
}

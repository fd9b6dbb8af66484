package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
)

// The push view sums each host's per-step metrics (exec entries) from the
// push's result, and says how many commands they cover.
func TestPushRowUsage(t *testing.T) {
	p := &pushPane{byID: map[string]*pushRow{}}
	p.setResult(&engine.PushResult{Hosts: []engine.HostPush{{HostID: "mid:1", Name: "web1", Status: engine.PushDone, Entries: []engine.EntryResult{
		{Seq: 1, Result: "ok", Usage: &store.Usage{UserCPU: 300 * time.Millisecond, SysCPU: 20 * time.Millisecond, ReadChars: 10 << 20, WriteChars: 10 << 20}},
		{Seq: 2, Result: "ok"}, // a file entry: nothing measured
		{Seq: 3, Result: "ok", Usage: &store.Usage{UserCPU: 10 * time.Millisecond, ReadChars: -1, WriteChars: 512}},
	}}}})
	r := p.byID["mid:1"]
	if got := r.usageLine(); !strings.Contains(got, "CPU 0.31s user + 0.02s sys") || !strings.Contains(got, "read 10.0 MiB, wrote 10.0 MiB, peak mem n/a (2 commands)") {
		t.Fatalf("usage line: %q", got)
	}
}

// The push view's peak memory is the largest of the host's commands; n/a
// when none was measured (the host had no writable cgroup v2).
func TestPushRowPeakMem(t *testing.T) {
	p := &pushPane{byID: map[string]*pushRow{}}
	p.setResult(&engine.PushResult{Hosts: []engine.HostPush{{HostID: "mid:1", Name: "web1", Status: engine.PushDone, Entries: []engine.EntryResult{
		{Seq: 1, Result: "ok", Usage: &store.Usage{PeakMem: 70 << 20}},
		{Seq: 2, Result: "ok", Usage: &store.Usage{PeakMem: -1}},
		{Seq: 3, Result: "ok", Usage: &store.Usage{PeakMem: 3 << 20}},
	}}}})
	if got := p.byID["mid:1"].usageLine(); !strings.Contains(got, "peak mem 70.0 MiB (3 commands)") {
		t.Fatalf("usage line: %q", got)
	}
}

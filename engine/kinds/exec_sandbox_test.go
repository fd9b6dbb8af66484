package kinds

import (
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/textsafe"
)

func TestSafeText(t *testing.T) {
	for _, in := range []string{"plain\ttext\n", "\x1b[31mred\x1b[0m", "bell\a and \u009b csi", "bad utf8 \xff"} {
		for _, multi := range []bool{true, false} {
			got := SafeText(in, multi)
			for _, r := range got {
				if r < 0x20 && !(multi && (r == '\n' || r == '\t')) || r == 0x7f || r >= 0x80 && r < 0xa0 {
					t.Errorf("SafeText(%q, %v) = %q keeps %U", in, multi, got, r)
				}
			}
		}
	}
	if got := SafeText("plain\ttext\n", true); got != "plain\ttext\n" {
		t.Errorf("multi-line text changed: %q", got)
	}
}

// What a host reports of an exec reaches the plan escaped; a directory the
// overlay only copied up is no change; the host's own files bind the push.
func TestSandboxChangeFromReport(t *testing.T) {
	h := NewHost(&remote.ProbeResult{Paths: map[string]remote.PathInfo{}}, nil)
	dir := remote.FileState{Exists: true, Type: "dir", Mode: 0o755, Owner: "root", Group: "root"}
	h.Sandbox = &remote.SandboxResult{Execs: []remote.ExecReport{{Seq: 1, Ran: true, ExitCode: 3, Output: []byte("\x1b]0;pwned\a"), OutputSize: 10,
		Effects: []remote.FileEffect{
			{Path: "/etc", Before: dir, After: dir},
			{Path: "/etc/\x1bx", After: remote.FileState{Exists: true, Type: "file", Mode: 0o600, Owner: "root", Group: "root", Content: []byte("hi\n"), Hash: Sum([]byte("hi\n"))}},
		}}}}
	k, _ := Lookup(journal.KindExec)
	c := k.Simulate(journal.Entry{Seq: 1, Kind: journal.KindExec, Command: "x"}, nil, h)
	if c.Effect != EffectFail || c.ExitCode != 3 || c.Output != textsafe.Text("\x1b]0;pwned\a") || !c.Sandboxed {
		t.Errorf("%+v", c)
	}
	if len(c.Files) != 1 || c.Files[0].Path != textsafe.Line("/etc/\x1bx") || c.Files[0].Effect != EffectCreate || c.Files[0].NewMode != "0600" ||
		c.Files[0].Diff != textsafe.Text("--- /dev/null\n+++ b/etc/\x1bx\n@@ -0,0 +1 @@\n+hi\n") {
		t.Fatalf("files %+v", c.Files)
	}
	if len(h.Bound) != 2 {
		t.Errorf("bound %+v", h.Bound)
	}
	// A later file entry sees what the command left.
	if p := h.Path("/etc/\x1bx"); !p.Exists || string(p.Content) != "hi\n" {
		t.Errorf("after: %+v", p)
	}
}

// A command the sandbox stopped at a cap would fail, and the plan names
// the cap with its size.
func TestSandboxCapIsNamed(t *testing.T) {
	h := NewHost(&remote.ProbeResult{Paths: map[string]remote.PathInfo{}}, nil)
	h.NoopSpace, h.NoopProcs, h.NoopOutput = 32<<20, 64, 256<<10
	h.Sandbox = &remote.SandboxResult{Execs: []remote.ExecReport{{Seq: 1, Ran: true, ExitCode: 1, Cap: remote.CapSpace}, {Seq: 2, Ran: true, ExitCode: 137, Cap: remote.CapTime},
		{Seq: 3, Ran: true, ExitCode: 137, Cap: remote.CapProcs}, {Seq: 4, Ran: true, ExitCode: 141, Cap: remote.CapOutput}}}
	k, _ := Lookup(journal.KindExec)
	c := k.Simulate(journal.Entry{Seq: 1, Kind: journal.KindExec, Command: "yes > /big"}, nil, h)
	if c.Effect != EffectFail || c.Cap != "space" || c.Err != "stopped: it filled the sandbox's 32 MiB for changes (--noop-space)" {
		t.Errorf("%+v", c)
	}
	c = k.Simulate(journal.Entry{Seq: 2, Kind: journal.KindExec, Command: "sleep 1000"}, nil, h)
	if c.Effect != EffectFail || c.Err != "stopped at the time limit (--noop-timeout 1m0s)" {
		t.Errorf("%+v", c)
	}
	// The caps the plan was made with are the ones named.
	c = k.Simulate(journal.Entry{Seq: 3, Kind: journal.KindExec, Command: "fork"}, nil, h)
	if c.Err != "stopped at the process limit (--noop-procs 64 processes at once)" {
		t.Errorf("%+v", c)
	}
	c = k.Simulate(journal.Entry{Seq: 4, Kind: journal.KindExec, Command: "yes"}, nil, h)
	if c.Err != "stopped at the output limit (--noop-output 256 KiB)" {
		t.Errorf("%+v", c)
	}
	// An exec the sandbox did not reach (an earlier one failed) says so.
	c = k.Simulate(journal.Entry{Seq: 5, Kind: journal.KindExec, Command: "true", Guard: journal.Guard{Unless: "false"}}, nil, h)
	if c.Sandboxed || !strings.Contains(c.NotSimulated, "not reached") || !strings.Contains(c.Guard, "not evaluated") {
		t.Errorf("%+v", c)
	}
}

// A command after the point where the sandbox stopped (an earlier entry
// changed what the sandbox itself runs) is not simulated, says why, and
// its --unless guard is not run anywhere.
func TestSandboxStoppedIsNotSimulated(t *testing.T) {
	h := NewHost(&remote.ProbeResult{Paths: map[string]remote.PathInfo{}}, nil)
	h.Sandbox = &remote.SandboxResult{Execs: []remote.ExecReport{{Seq: 1, Ran: true}}, Stopped: 2,
		StopReason: "an earlier entry changes /etc/ld.so.preload, which the sandbox itself starts with full privileges inside it"}
	k, _ := Lookup(journal.KindExec)
	c := k.Simulate(journal.Entry{Seq: 2, Kind: journal.KindExec, Command: "true", Guard: journal.Guard{Unless: "touch /x; false"}}, nil, h)
	if c.Sandboxed || !strings.Contains(c.NotSimulated, "/etc/ld.so.preload") || !strings.Contains(c.NotSimulated, "before seq 2") || !strings.Contains(c.Guard, "not evaluated") {
		t.Errorf("%+v", c)
	}
}

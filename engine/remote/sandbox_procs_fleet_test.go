package remote

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// TestFleetSandboxProcessCount: processes are what a sandbox costs (each
// ~2 ms of CPU on the test VM), so the count for the fleet benchmark's
// entries is pinned: the login shell, unshare, sh, one mount, unshare
// --root, setpriv, sh, the command and one stat; besides those, the
// watchdog's sleep, one per 0.1 s the command runs (none when it ended
// before the watchdog got to start one), so not counted.
// When the only command comes first and its --creates path is there, no
// sandbox is made: the login shell, unshare and sh.
func TestFleetSandboxProcessCount(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed: cannot count the sandbox's processes")
	}
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	h := f.Hosts[0]
	skipped := benchEntries(1)[11:]
	skipped[0].Creates = "/etc/passwd"
	for _, c := range []struct {
		name    string
		entries []SandboxEntry
		want    int
	}{{"bench", benchEntries(1), 9}, {"creates-first", skipped, 3}} {
		sb, err := sandboxScript(SandboxRequest{Entries: c.entries, Env: map[string]string{"ROLE": "bench"}})
		if err != nil {
			t.Fatal(err)
		}
		cmd := h.Command(context.Background(), "strace", "-f", "-qq", "-e", "trace=execve", "-e", "status=successful", "sh", "-c", sandboxCommand)
		cmd.Stdin = strings.NewReader(sb)
		var out, trace bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &trace
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v %s", c.name, err, trace.Bytes())
		}
		res, err := ParseSandbox(out.Bytes())
		if err != nil || len(res.Execs) != 1 {
			t.Fatalf("%s: %v %+v", c.name, err, res)
		}
		n := strings.Count(trace.String(), "execve(") - strings.Count(trace.String(), `execve("/usr/bin/sleep"`) - strings.Count(trace.String(), `execve("/bin/sleep"`)
		if n != c.want {
			t.Errorf("%s: %d processes started besides sleep, want %d:\n%s", c.name, n, c.want, trace.Bytes())
		}
	}
}

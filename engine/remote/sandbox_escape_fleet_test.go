package remote

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// An entry may change what the sandbox itself runs with privileges inside
// a layer: the setpriv that drops an entry's capabilities is started there
// (after the chroot), as are the dynamic loader, the libraries and
// /etc/ld.so.preload it reads. A command that plants any of those for the
// next one must not get code run with the sandbox's full capabilities,
// which reach the host (here through /proc/1/root, the sandbox's PID 1's
// root: the host's): the next command is not simulated, and says why.
func TestFleetSandboxPlantedToolsDoNotEscape(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	ctx := context.Background()
	// A stand-in that writes to the host through PID 1's root, then
	// hands over to the real setpriv so that nothing else shows.
	plant := func(path, mark string) string {
		return "printf '#!/bin/sh\\ntouch /proc/1/root/tmp/" + mark + " 2>/dev/null\\nexec /usr/bin/setpriv \"$@\"\\n' > " + path + ".new && chmod 755 " + path + ".new && mv " + path + ".new " + path
	}
	for _, c := range []struct {
		name, first, mark, why string
		simulated              bool
	}{
		// First in PATH: the sandbox must not look setpriv up in the layer.
		{"path", plant("/usr/local/sbin/setpriv", "escaped-path"), "escaped-path", "", true},
		// The setpriv the sandbox runs, replaced.
		{"setpriv", "cp /usr/bin/setpriv /usr/bin/setpriv.real && " + strings.ReplaceAll(plant("/usr/bin/setpriv", "escaped-setpriv"), "exec /usr/bin/setpriv", "exec /usr/bin/setpriv.real"), "escaped-setpriv", "/usr/bin/setpriv", false},
		// What the loader preloads into every program.
		{"preload", "echo /nonexistent/libx.so > /etc/ld.so.preload", "", "/etc/ld.so.preload", false},
		// A library.
		{"library", "cp /bin/true /usr/lib/libdt-test.so", "", "/usr/lib/libdt-test.so", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := hostSnapshot(t, h)
			res, err := st.Sandbox(ctx, target(h), SandboxRequest{Entries: []SandboxEntry{
				{Seq: 1, Kind: "exec", Command: c.first},
				{Seq: 2, Kind: "exec", Command: "echo second > /etc/second"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if c.mark != "" {
				if _, err := h.ReadFile("/tmp/" + c.mark); err == nil {
					t.Fatalf("/tmp/%s exists on the host: a planted program ran with the sandbox's privileges", c.mark)
				}
			}
			if after := hostSnapshot(t, h); after != before {
				t.Errorf("the host changed:\n%s\n---\n%s", before, after)
			}
			if len(res.Execs) == 0 || res.Execs[0].ExitCode != 0 {
				t.Fatalf("first command did not run cleanly: %d execs, unavailable %q", len(res.Execs), res.Unavailable)
			}
			_, ran := res.Exec(2)
			if ran != c.simulated {
				t.Fatalf("second command simulated %v, want %v", ran, c.simulated)
			}
			if !c.simulated && (res.Stopped != 2 || !strings.Contains(res.StopReason, c.why)) {
				t.Fatalf("want a stop at 2 naming %s, got %d %q", c.why, res.Stopped, res.StopReason)
			}
		})
	}
}

// Real-time scheduling and locked memory reach past the sandbox: a
// command holding a CPU at real-time priority, or pinning memory, starves
// the host's own processes while the plan runs. An entry has neither.
func TestFleetSandboxNoRealtimeNoMemlock(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	res, err := st.Sandbox(context.Background(), target(h), SandboxRequest{Entries: []SandboxEntry{
		{Seq: 1, Kind: "exec", Command: "chrt -f 1 true && echo realtime >> /etc/gained; sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status > /etc/caps"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := res.Exec(1)
	if !ok {
		t.Fatalf("not run: %q", res.Unavailable)
	}
	var caps string
	for _, e := range r.Effects {
		switch e.Path {
		case "/etc/gained":
			t.Errorf("an entry could take real-time priority: %q", e.After.Content)
		case "/etc/caps":
			caps = strings.TrimSpace(string(e.After.Content))
		}
	}
	// CAP_IPC_LOCK is bit 14, CAP_SYS_NICE bit 23.
	var eff uint64
	if _, err := fmt.Sscanf(caps, "%x", &eff); err != nil {
		t.Fatalf("CapEff %q: %v", caps, err)
	}
	if eff&(1<<14) != 0 || eff&(1<<23) != 0 {
		t.Errorf("an entry keeps CAP_IPC_LOCK or CAP_SYS_NICE: CapEff %s", caps)
	}
}

package main

import (
	"strings"
	"testing"
	"time"
)

// TestBatchPlanSandboxCapOneHost: while one host's command hangs (time
// cap) and another's floods its output (output cap), the third host's
// plan completes with its real report; each capped host's plan line names
// its cap with the option that sets it; no host changed.
func TestBatchPlanSandboxCapOneHost(t *testing.T) {
	rg := newRig(t, 3)
	rg.setup()
	hang, flood, fine := rg.fleet.Hosts[0], rg.fleet.Hosts[1], rg.fleet.Hosts[2]
	rg.must("--batch", "lock", "main", "caps")
	rg.must("--batch", "exec", "--", `case $(cat /etc/hostname) in `+hang.Name+`) sleep 1000 ;; `+flood.Name+`) yes ;; esac; echo done > /etc/capped-ok`)

	start := time.Now()
	r := rg.must("--batch", "--json", "--noop-timeout", "2s", "--noop-output", "64K", "plan")
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("the plan took %v: a capped host held the others up", el)
	}
	got := map[string]map[string]any{}
	for _, hp := range r.lines(t, "plan.host") {
		changes, _ := hp["changes"].([]any)
		if len(changes) != 1 {
			t.Fatalf("%v", hp)
		}
		got[hp["host"].(string)] = changes[0].(map[string]any)
	}
	if c := got[hang.Name]; c["cap"] != "time" || c["effect"] != "would fail" || !strings.Contains(c["error"].(string), "--noop-timeout 2s") {
		t.Errorf("%s (hangs): %v", hang.Name, c)
	}
	if c := got[flood.Name]; c["cap"] != "output" || c["effect"] != "would fail" || !strings.Contains(c["error"].(string), "--noop-output 64 KiB") {
		t.Errorf("%s (floods): %v", flood.Name, c)
	}
	c := got[fine.Name]
	files, _ := c["files"].([]any)
	if c["cap"] != nil || c["effect"] == "would fail" || len(files) != 1 {
		t.Fatalf("%s (fine): %v", fine.Name, c)
	}
	if f := files[0].(map[string]any); f["path"] != "/etc/capped-ok" || f["effect"] != "created" || !strings.Contains(f["diff"].(string), "+done") {
		t.Errorf("%s (fine): %v", fine.Name, f)
	}
	text := rg.must("--batch", "--noop-timeout", "2s", "--noop-output", "64K", "plan").stdout
	for _, want := range []string{"stopped at the time limit (--noop-timeout 2s)", "stopped at the output limit (--noop-output 64 KiB)", "created /etc/capped-ok"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan text lacks %q:\n%s", want, text)
		}
	}
	for _, h := range rg.fleet.Hosts {
		if _, err := h.ReadFile("/etc/capped-ok"); err == nil {
			t.Errorf("%s: the plan left /etc/capped-ok", h.Name)
		}
		out, _ := h.Exec(t.Context(), "sh", "-c", "ps -e -o args= | grep -c -x -e 'sleep 1000' -e yes || true")
		if n := strings.TrimSpace(string(out)); n != "0" {
			t.Errorf("%s: %s sandbox processes left", h.Name, n)
		}
	}
}

// TestBatchPlanSandboxStopsAtPlantedLibrary: a command that puts a shared
// object where the sandbox's own setpriv would load it stops the sandbox
// before the next command; the plan shows the first command's report, the
// next as not simulated with the path, its --unless guard not run; the
// host is untouched.
func TestBatchPlanSandboxStopsAtPlantedLibrary(t *testing.T) {
	rg := newRig(t, 1)
	rg.setup()
	h := rg.fleet.Hosts[0]
	rg.must("--batch", "lock", "main", "plant")
	rg.must("--batch", "exec", "--", "cp /bin/true /usr/lib/libdt-planted.so")
	rg.must("--batch", "exec", "--unless", "touch /tmp/guard-ran; false", "--", "echo two > /etc/two")
	text := rg.must("--batch", "plan").stdout
	for _, want := range []string{"created /usr/lib/libdt-planted.so", "not simulated: an earlier entry changes /usr/lib/libdt-planted.so", "not evaluated"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan text lacks %q:\n%s", want, text)
		}
	}
	for _, p := range []string{"/usr/lib/libdt-planted.so", "/tmp/guard-ran", "/etc/two"} {
		if _, err := h.ReadFile(p); err == nil {
			t.Errorf("the plan left %s on the host", p)
		}
	}
}

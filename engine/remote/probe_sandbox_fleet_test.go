package remote

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The probe and the sandbox in one session: both answer; for a login user
// that may not create namespaces the probe still answers, the sandbox
// says why it cannot, and nothing (no guard) ran.
func TestFleetProbeSandboxOneSession(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	ctx := context.Background()
	must(t, h.WriteFile("/etc/sbx-probed", []byte("x\n"), 0o644))
	preq := ProbeRequest{StateDir: "/var/lib/discoterm", Paths: []string{"/etc/sbx-probed", "/etc/sbx-none"}}
	req := SandboxRequest{Entries: []SandboxEntry{
		{Seq: 1, Kind: "file", Path: "/etc/sbx-dir/f", Content: []byte("placed\n"), Mode: 0o644},
		{Seq: 2, Kind: "exec", Command: "cat /etc/sbx-dir/f > /etc/sbx-made; stat -c '%a %U %G' /etc/sbx-dir /etc", Unless: "touch /tmp/guard-ran; false"},
	}}
	res, sb, sbErr, err := st.ProbeSandbox(ctx, target(h), preq, req)
	if err != nil || sbErr != nil {
		t.Fatal(err, sbErr)
	}
	if res.Facts.Hostname != h.Name || !res.Paths["/etc/sbx-probed"].Exists || res.Paths["/etc/sbx-none"].Exists {
		t.Fatalf("probe: %+v", res)
	}
	if sb.Unavailable != "" || len(sb.Execs) != 1 {
		t.Fatalf("sandbox: %+v", sb)
	}
	if e := effect(t, &sb.Execs[0], "/etc/sbx-made"); string(e.After.Content) != "placed\n" {
		t.Errorf("the exec saw the file entry placed before it: %+v", e)
	}
	// The new directory as mkdir -p makes it; /etc as it was.
	if out := string(sb.Execs[0].Output); out != "755 root root\n755 root root\n" {
		t.Errorf("directories: %q", out)
	}
	for _, p := range []string{"/etc/sbx-dir/f", "/etc/sbx-made", "/tmp/guard-ran"} {
		if _, err := h.ReadFile(p); err == nil {
			t.Errorf("%s exists on the host", p)
		}
	}

	if _, err := h.Exec(ctx, "sh", "-c", `useradd -m -s /bin/sh -p "*" plain && mkdir -p /home/plain/.ssh && cp /root/.ssh/authorized_keys /home/plain/.ssh/ && chown -R plain: /home/plain/.ssh`); err != nil {
		t.Fatal(err)
	}
	res, sb, sbErr, err = st.ProbeSandbox(ctx, Target{Addr: h.ULA, Name: h.Name, User: "plain"}, preq, req)
	if err != nil || sbErr != nil {
		t.Fatal(err, sbErr)
	}
	if res.Facts.Hostname != h.Name || !res.Paths["/etc/sbx-probed"].Exists {
		t.Fatalf("probe as plain: %+v", res)
	}
	if !strings.Contains(sb.Unavailable, "root") || len(sb.Execs) != 0 {
		t.Fatalf("want a reason naming root, got %+v", sb)
	}
	if _, err := h.ReadFile("/tmp/guard-ran"); err == nil {
		t.Error("the guard ran outside a sandbox")
	}
}

// The probe's answer is dated when its part of the reply is whole, not
// when the sandbox after it ends: the plan's clock-skew check uses it.
func TestFleetProbeSandboxAnsweredBeforeSandbox(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	start := time.Now()
	res, sb, sbErr, err := st.ProbeSandbox(context.Background(), target(h), ProbeRequest{StateDir: "/var/lib/discoterm"},
		SandboxRequest{Entries: []SandboxEntry{{Seq: 1, Kind: "exec", Command: "sleep 2"}}})
	end := time.Now()
	if err != nil || sbErr != nil || len(sb.Execs) != 1 {
		t.Fatal(err, sbErr, sb)
	}
	if res.Answered.IsZero() || res.Answered.Sub(start) > time.Second || end.Sub(res.Answered) < 1500*time.Millisecond {
		t.Fatalf("answered %v after the start, %v before the end", res.Answered.Sub(start), end.Sub(res.Answered))
	}
}

// A plan cancelled while a command runs in the sandbox (the session is
// cut) leaves no process of it on the host.
func TestFleetProbeSandboxCutLeavesNothing(t *testing.T) {
	f, st := sandboxFleet(t)
	h := f.Hosts[0]
	procs := procCount(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, _, err := st.ProbeSandbox(ctx, target(h), ProbeRequest{StateDir: "/var/lib/discoterm"},
		SandboxRequest{Entries: []SandboxEntry{{Seq: 1, Kind: "exec", Command: "sleep 30 & sleep 30"}}})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("want the cancel to end the call: %v after %v", err, time.Since(start))
	}
	if p := settledProcs(t, h, procs); p != procs {
		t.Errorf("processes left behind: %s before, %s after", procs, p)
	}
}

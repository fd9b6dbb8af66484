package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHandoverMachine: two fleet hosts registered as netboot machines.
// web7's sshd presents the host key discoterm made for it: one scan finds
// its MAC, trusts it without asking (known_hosts stays empty), names it
// web7, puts it on its machine file's branch and replays that branch's
// journal from the start (position 2 of 2, files on its disk). web8
// answers with its MAC but its own key: refused like a changed key, with
// both fingerprints, and left untouched.
func TestHandoverMachine(t *testing.T) {
	rg := newRig(t, 2)
	empty := rg.write("known_hosts.empty", "")
	for i, f := range rg.flags {
		if f == "--known-hosts" {
			rg.flags[i+1] = empty
		}
	}
	rg.flags = append(rg.flags, "--iface", rg.fleet.Bridge)
	h7, h8 := rg.fleet.Hosts[0], rg.fleet.Hosts[1]
	rg.must("--batch", "machine", "add", h7.MAC, "--name", "web7", "--branch", "web")
	rg.must("--batch", "machine", "add", strings.ToUpper(h8.MAC), "--name", "web8", "--branch", "web")
	// The branch's journal exists before the machines do: two entries.
	rg.must("--batch", "lock", "web", "netboot build")
	rg.must("--batch", "snap", rg.write("motd", "built by discoterm\n"), "--to", "/etc/motd")
	rg.must("--batch", "exec", "--", "echo second > /etc/second")
	rg.must("--batch", "approve", planID(t, rg.must("--batch", "--json", "plan")))

	out := rg.must("--batch", "machine", "key", "web7").stdout
	keyFile := filepath.Join(rg.dir, "netboot-keys", "web7")
	if !strings.Contains(out, "host key of web7: SHA256:") || !strings.Contains(out, keyFile) {
		t.Fatalf("machine key: %s", out)
	}
	priv, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fp7 := strings.Fields(strings.TrimPrefix(out, "host key of web7: "))[0]
	k8 := rg.must("--batch", "--json", "machine", "key", "web8").lines(t, "machine_key")
	if len(k8) != 1 || k8[0]["machine"] != "web8" || k8[0]["file"] != filepath.Join(rg.dir, "netboot-keys", "web8") || !strings.HasPrefix(k8[0]["public_key"].(string), "ssh-ed25519 ") {
		t.Fatalf("machine key --json: %v", k8)
	}
	fp8 := k8[0]["fingerprint"].(string)
	// The image web7 booted carries its key (provision hands it over; here
	// it is installed before sshd starts again).
	if err := h7.SetHostKey(priv); err != nil {
		t.Fatal(err)
	}
	if h7.HostKeyFingerprint() != fp7 {
		t.Fatalf("web7 presents %s, not its made key %s", h7.HostKeyFingerprint(), fp7)
	}

	start := time.Now()
	r := rg.must("--batch", "--json", "scan")
	t.Logf("one scan, from start to web7 at position 2 of 2 (hand-over, plan, approve, push): %s", time.Since(start).Round(time.Millisecond))
	var refused map[string]any
	for _, ev := range r.lines(t, "host") {
		if ev["event"] == "failed" && ev["mac"] == h8.MAC {
			refused = ev
		}
	}
	msg, _ := refused["message"].(string)
	if refused == nil || !strings.Contains(msg, "HOST KEY OF MACHINE web8 IS NOT ITS OWN") || !strings.Contains(msg, fp8) || !strings.Contains(msg, h8.HostKeyFingerprint()) {
		t.Errorf("web8 not refused with both fingerprints (%s, %s): %v\n%s", fp8, h8.HostKeyFingerprint(), refused, r)
	}

	// Nor can it be trusted by hand: the MAC is the machine's, its key the made one.
	if r := rg.run("--batch", "trust", "mac:"+h8.MAC, h8.HostKeyFingerprint()); r.code == 0 || !strings.Contains(r.stderr+r.stdout, "answers with the MAC of machine web8") || !strings.Contains(r.stderr+r.stdout, fp8) {
		t.Errorf("trust of web8's impostor key: %s", r)
	}
	hosts := rg.must("--batch", "--json", "hosts").lines(t, "host")
	var web7 map[string]any
	for _, h := range hosts {
		if h["mac"] == h7.MAC {
			web7 = h
		}
		if h["mac"] == h8.MAC && h["trusted"] != false {
			t.Errorf("web8 trusted: %v", h)
		}
	}
	if web7 == nil || web7["name"] != "web7" || web7["trusted"] != true || web7["host_key"] != fp7 || web7["branch"] != "web" || web7["position"] != 2.0 || web7["head"] != 2.0 {
		t.Fatalf("web7 after the hand-over: %v\n%s", web7, r)
	}
	if got := rg.hostFile(h7, "/etc/motd"); got != "built by discoterm\n" {
		t.Errorf("web7 motd = %q", got)
	}
	if st := rg.hostState(h7); st.Position != 2 || st.Branch != "web" {
		t.Errorf("web7 state file: %+v", st)
	}
	if got := rg.hostFile(h8, "/etc/motd"); got == "built by discoterm\n" {
		t.Errorf("web8 (refused) was pushed to")
	}
	if data, _ := os.ReadFile(empty); len(data) != 0 {
		t.Errorf("trust on first use: known_hosts got %q", data)
	}
	stages := map[string]map[string]any{}
	for _, m := range rg.must("--batch", "--json", "machine", "list").lines(t, "machine") {
		stages[m["name"].(string)] = m
	}
	if s := stages["web7"]; s["stage"] != "position" || s["stage_text"] != "position 2 of 2" {
		t.Errorf("web7 stage: %v", s)
	}
	if s := stages["web8"]; s["stage"] != "refused" || !strings.Contains(s["detail"].(string), fp8) {
		t.Errorf("web8 stage: %v", s)
	}
	text := rg.must("--batch", "machine", "list").stdout
	if !strings.Contains(text, "STAGE") || !strings.Contains(text, "position 2 of 2") || !strings.Contains(text, "refused: another host key") {
		t.Errorf("machine list:\n%s", text)
	}
}

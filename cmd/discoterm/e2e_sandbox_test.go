package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// TestBatchPlanSandbox: exec → file → exec, planned in each host's
// sandbox; the plan changes nothing, runs no guard on the host, and every
// file effect it predicts is what the push then really does.
func TestBatchPlanSandbox(t *testing.T) {
	rg := newRig(t, 2)
	rg.setup()
	for _, h := range rg.fleet.Hosts {
		if err := h.WriteFile("/etc/sbx-old", []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rg.must("--batch", "lock", "main", "sandbox")
	rg.must("--batch", "exec", "--", "echo one > /etc/sbx-a; sed -i 's/localhost/LOCALHOST/' /etc/hosts; mkdir -p /srv/tree/leaf; chmod 600 /etc/sbx-old")
	rg.must("--batch", "snap", rg.write("sbx-a", "from file\n"), "--to", "/etc/sbx-a", "--mode", "0640")
	rg.must("--batch", "exec", "--unless", "touch /srv/guard-ran; false", "--", "cat /etc/sbx-a > /etc/sbx-b; rm -f /etc/sbx-old")
	rg.must("--batch", "exec", "--", "echo cannot; exit 3")

	r := rg.must("--batch", "--json", "plan")
	id := planID(t, r)
	for _, h := range rg.fleet.Hosts {
		for _, p := range []string{"/etc/sbx-a", "/etc/sbx-b", "/srv/tree", "/srv/guard-ran"} {
			if _, err := h.ReadFile(p); err == nil {
				t.Fatalf("%s: the plan left %s on the host", h.Name, p)
			}
		}
	}
	// The last prediction for every path, per host.
	predicted := map[string]map[string]map[string]any{}
	for _, hp := range r.lines(t, "plan.host") {
		name := hp["host"].(string)
		predicted[name] = map[string]map[string]any{}
		changes := hp["changes"].([]any)
		if len(changes) != 4 {
			t.Fatalf("%s: %v", name, hp)
		}
		files := func(i int) map[string]map[string]any {
			out := map[string]map[string]any{}
			fs, _ := changes[i].(map[string]any)["files"].([]any)
			for _, f := range fs {
				m := f.(map[string]any)
				out[m["path"].(string)] = m
				predicted[name][m["path"].(string)] = m
			}
			return out
		}
		f0 := files(0)
		if a := f0["/etc/sbx-a"]; a == nil || a["effect"] != "created" || !strings.Contains(a["diff"].(string), "+one") {
			t.Errorf("%s exec 1 /etc/sbx-a: %v", name, a)
		}
		if hs := f0["/etc/hosts"]; hs == nil || hs["effect"] != "modified" || !strings.Contains(hs["diff"].(string), "-127.0.0.1\tlocalhost") || !strings.Contains(hs["diff"].(string), "+127.0.0.1\tLOCALHOST") {
			t.Errorf("%s exec 1 /etc/hosts: %v", name, hs)
		}
		if o := f0["/etc/sbx-old"]; o == nil || o["old_mode"] != "0644" || o["new_mode"] != "0600" {
			t.Errorf("%s exec 1 chmod: %v", name, o)
		}
		if d := f0["/srv/tree/leaf"]; d == nil || d["type"] != "dir" || d["effect"] != "created" {
			t.Errorf("%s exec 1 mkdir: %v", name, f0)
		}
		snap := changes[1].(map[string]any)
		if snap["effect"] != "modified" || snap["diff"] != "--- a/etc/sbx-a\n+++ b/etc/sbx-a\n@@ -1 +1 @@\n-one\n+from file\n" || snap["old_mode"] != "0644" {
			t.Errorf("%s: the file entry is diffed against what the exec left: %v", name, snap)
		}
		predicted[name]["/etc/sbx-a"] = map[string]any{"effect": "modified", "new_hash": snap["new_hash"], "new_mode": snap["new_mode"]}
		ex := changes[2].(map[string]any)
		if g, _ := ex["guard"].(string); !strings.Contains(g, "exits 1 in the sandbox") {
			t.Errorf("%s guard: %v", name, ex)
		}
		f2 := files(2)
		if b := f2["/etc/sbx-b"]; b == nil || b["effect"] != "created" || !strings.Contains(b["diff"].(string), "+from file") {
			t.Errorf("%s exec 2 sbx-b: %v", name, b)
		}
		if o := f2["/etc/sbx-old"]; o == nil || o["effect"] != "deleted" {
			t.Errorf("%s exec 2 rm: %v", name, o)
		}
		if _, ok := f2["/srv/guard-ran"]; !ok {
			t.Errorf("%s: the guard's own write is part of what the entry does in the sandbox: %v", name, f2)
		}
		if last := changes[3].(map[string]any); last["effect"] != "would fail" || last["exit_code"].(float64) != 3 || !strings.Contains(last["output"].(string), "cannot") {
			t.Errorf("%s: %v", name, last)
		}
	}
	text := rg.must("--batch", "plan").stdout
	for _, want := range []string{"created /etc/sbx-a", "modified /etc/hosts", "+127.0.0.1\tLOCALHOST", "modified /etc/sbx-old (mode 0644 → 0600)", "deleted /etc/sbx-old",
		"created /srv/tree/leaf/", "would fail (exit 3)", "| cannot", "filesystem effects only"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan text lacks %q:\n%s", want, text)
		}
	}

	// Push (it stops at the failing exec, as the plan said) and compare.
	rg.must("--batch", "approve", id)
	r = rg.run("--batch", "--json", "push", id)
	if r.code != exitHostsFail {
		t.Fatalf("push: %s", r)
	}
	for _, h := range rg.fleet.Hosts {
		for path, want := range predicted[h.Name] {
			b, err := h.ReadFile(path)
			switch {
			case want["effect"] == "deleted":
				if err == nil {
					t.Errorf("%s %s: predicted deleted, exists", h.Name, path)
				}
			case want["type"] == "dir":
				if _, err := h.Exec(t.Context(), "test", "-d", path); err != nil {
					t.Errorf("%s %s: predicted a directory: %v", h.Name, path, err)
				}
			default:
				if err != nil {
					t.Errorf("%s %s: predicted %v, %v", h.Name, path, want["effect"], err)
					continue
				}
				s := sha256.Sum256(b)
				if got := hex.EncodeToString(s[:]); got != want["new_hash"] {
					t.Errorf("%s %s: content %q, predicted hash %v", h.Name, path, b, want["new_hash"])
				}
				out, _ := h.Exec(t.Context(), "stat", "-c", "%04a", path)
				if m := strings.TrimSpace(string(out)); m != fmt.Sprint(want["new_mode"]) {
					t.Errorf("%s %s: mode %s, predicted %v", h.Name, path, m, want["new_mode"])
				}
			}
		}
	}
}

// TestTUIPlanShowsExecDiff: the plan review in a real terminal shows what
// a command would change, read from the host's sandbox, as a diff.
func TestTUIPlanShowsExecDiff(t *testing.T) {
	rg := newRig(t, 2)
	rg.setup()
	rg.must("--batch", "lock", "main", "hosts file")
	rg.must("--batch", "exec", "--", "sed -i 's/localhost/LOCALHOST/' /etc/hosts; echo ok > /etc/sbx-tui")
	s := rg.startTUI(120, 40, "--no-scan", "--theme", "dark")
	s.waitFor("node2")
	s.keys("p")
	sc := s.waitFor("would change")
	for _, want := range []string{"×2", "modified /etc/hosts", "-127.0.0.1", "+127.0.0.1", "LOCALHOST", "created /etc/sbx-tui", "+ok", "filesystem effects only"} {
		if !strings.Contains(sc, want) {
			t.Errorf("the review lacks %q:\n%s", want, sc)
		}
	}
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/etc/hosts"); strings.Contains(got, "LOCALHOST") {
			t.Fatal("the plan changed a host")
		}
	}
	s.keys("q")
}

package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestRemoveAndSnapModeOnAFleetHost: remove plans a file as deleted with
// its diff, deletes it and an empty directory, is done where the path is
// absent, and refuses a directory that is not empty with a clear error;
// snap keeps the local file's mode.
func TestRemoveAndSnapModeOnAFleetHost(t *testing.T) {
	rg := newRig(t, 2)
	rg.setup()
	n1, n2 := rg.fleet.Hosts[0], rg.fleet.Hosts[1]
	ctx := context.Background()
	if _, err := n1.Exec(ctx, "sh", "-c", "mkdir -p /srv/empty /srv/full/x && printf 'old line\\n' > /srv/old.conf"); err != nil {
		t.Fatal(err)
	}
	rg.must("--batch", "lock", "main", "clean up")
	script := rg.write("check.sh", "#!/bin/sh\ntrue\n")
	if err := os.Chmod(script, 0o750); err != nil {
		t.Fatal(err)
	}
	r := rg.must("--batch", "snap", script, "--to", "/usr/local/bin/check")
	if !strings.Contains(r.stdout, "0750") {
		t.Errorf("snap did not keep the local mode: %s", r)
	}
	rg.must("--batch", "remove", "/srv/old.conf")
	rg.must("--batch", "remove", "/srv/empty")
	r = rg.must("--batch", "--json", "plan")
	id := planID(t, r)
	for _, h := range r.lines(t, "plan.host") {
		ch := h["changes"].([]any)
		rm := ch[1].(map[string]any)
		switch h["host"] {
		case "node1":
			if rm["effect"] != "deleted" || !strings.Contains(rm["diff"].(string), "-old line") {
				t.Errorf("node1 remove plan: %v", rm)
			}
			if dir := ch[2].(map[string]any); dir["effect"] != "deleted" || !strings.Contains(dir["note"].(string), "empty") {
				t.Errorf("node1 rmdir plan: %v", dir)
			}
		case "node2":
			if rm["effect"] != "unchanged" || rm["note"] != "absent already" {
				t.Errorf("node2 remove plan: %v", rm)
			}
		}
	}
	rg.must("--batch", "approve", id)
	r = rg.must("--batch", "--json", "push", id)
	for _, h := range r.lines(t, "push.host") {
		if h["status"] != "done" || h["to"].(float64) != 3 {
			t.Errorf("push %v", h)
		}
	}
	for _, p := range []string{"/srv/old.conf", "/srv/empty"} {
		if _, err := n1.ReadFile(p); err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	if out, err := n2.Exec(ctx, "stat", "-c", "%a", "/usr/local/bin/check"); err != nil || strings.TrimSpace(string(out)) != "750" {
		t.Errorf("node2 check mode %q %v", out, err)
	}
	// A directory that is not empty: the entry fails, nothing is deleted.
	rg.must("--batch", "lock", "main", "more")
	rg.must("--batch", "remove", "/srv/full")
	id = planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	r = rg.run("--batch", "--json", "push", id)
	if r.code != exitHostsFail || !strings.Contains(r.stdout, "is a directory that is not empty") {
		t.Errorf("removing a full directory: %s", r)
	}
	if _, err := n1.Exec(ctx, "test", "-d", "/srv/full/x"); err != nil {
		t.Errorf("the full directory was touched: %v", err)
	}
	if st := rg.hostState(n1); st.Position != 3 {
		t.Errorf("node1 position %d after the failed remove", st.Position)
	}
	if st := rg.hostState(n2); st.Position != 4 {
		t.Errorf("node2 (absent) position %d", st.Position)
	}
}

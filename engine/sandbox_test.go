package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// An exec's report is built from what the sandbox saw it change; a file
// entry after it is diffed against what the exec left; the paths it
// changed bind the push.
func TestPlanExecEffectsFromSandbox(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("h", 2)
	for _, a := range addrs {
		v.fr.setFile(a, "/etc/old", "bye\n", 0o644, "root", "root")
	}
	p := v.commit("main",
		execReq("touch /etc/new", journal.Guard{}),
		fileReq("/etc/new", "now with content\n"),
		execReq("rm -f /etc/old", journal.Guard{Unless: "false"}),
	)
	hp := hostPlan(t, p, "h01")
	if hp.Sandbox != "" || len(hp.Changes) != 3 {
		t.Fatalf("%+v", hp)
	}
	c := hp.Changes
	if c[0].Effect != engine.EffectRun || len(c[0].Files) != 1 || c[0].Files[0].Effect != engine.EffectCreate || c[0].Files[0].Path != "/etc/new" {
		t.Errorf("touch: %+v", c[0])
	}
	if c[1].Effect != engine.EffectModify || c[1].Diff != "--- a/etc/new\n+++ b/etc/new\n@@ -0,0 +1 @@\n+now with content\n" {
		t.Errorf("file after exec: %+v", c[1])
	}
	rm := c[2]
	wantContains(t, "guard", rm.Guard, "exits 1 in the sandbox")
	if len(rm.Files) != 1 || rm.Files[0].Effect != engine.EffectDelete || rm.Files[0].Diff != "--- a/etc/old\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n" {
		t.Errorf("rm: %+v", rm)
	}
	found := false
	for _, ps := range hp.Fingerprint.Paths {
		if ps.Path == "/etc/old" && ps.Exists && ps.Hash == shaHex([]byte("bye\n")) {
			found = true
		}
	}
	if !found {
		t.Errorf("fingerprint lacks /etc/old: %+v", hp.Fingerprint.Paths)
	}
	// Identical effects on both hosts are one variant.
	for _, g := range engine.GroupPlan(p).Entries {
		if len(g.Variants) != 1 || len(g.Variants[0].Hosts) != 2 {
			t.Errorf("seq %d: %d variants", g.Seq, len(g.Variants))
		}
	}
	// The plan changed nothing; a host whose /etc/old moved is stale.
	if _, ok := v.fr.file(addrs[0], "/etc/new"); ok {
		t.Fatal("the plan created /etc/new on the host")
	}
	v.fr.setFile(addrs[1], "/etc/old", "edited\n", 0o644, "root", "root")
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrStale) {
		t.Fatalf("push: %v, want ErrStale", err)
	}
	if h := hostPush(t, r, "h02"); h.Status != engine.PushStale {
		t.Errorf("h02: %+v", h)
	}
	if h := hostPush(t, r, "h01"); h.Status != engine.PushDone {
		t.Errorf("h01: %+v", h)
	}
}

// A host that cannot sandbox says why; its execs are not simulated and
// its --unless guards are not run anywhere.
func TestPlanHostWithoutSandbox(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "plain")
	v.fr.with("10.0.0.1", func(h *fakeHost) { h.noSandbox = "the login user may not create namespaces" })
	p := v.commit("main", execReq("touch /srv/x", journal.Guard{Unless: "check"}), execReq("touch /srv/y", journal.Guard{Creates: "/srv/y"}))
	hp := hostPlan(t, p, "plain")
	wantContains(t, "sandbox reason", hp.Sandbox, "cannot sandbox", "may not create namespaces")
	for _, c := range hp.Changes {
		wantContains(t, "not simulated", c.NotSimulated, "may not create namespaces")
		if len(c.Files) != 0 || c.Effect != engine.EffectRun {
			t.Errorf("%+v", c)
		}
	}
	wantContains(t, "guard", hp.Changes[0].Guard, "not evaluated")
	wantContains(t, "guard", hp.Changes[1].Guard, "absent now")

	// Without the sandbox by choice, the same, and no sandbox step runs.
	v.addHost("10.0.0.2", "other")
	v.fr.resetCounts()
	e := v.engine("alice", func(o *engine.Options) { o.NoSandbox = true })
	p2, err := e.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "not simulated", hostPlan(t, p2, "other").Changes[0].NotSimulated, "without the sandbox")
	if n := v.fr.host("10.0.0.2").sandboxes; n != 0 {
		t.Errorf("%d sandbox steps with NoSandbox", n)
	}
}

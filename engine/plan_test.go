package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// TestPlanEffects stages one entry of each kind and effect against one host
// and checks every prediction, and that it cost one probe and one fetch.
func TestPlanEffects(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	a := "10.0.0.1"
	v.fr.setFile(a, "/etc/modified", "line1\nline2\nline3\n", 0o644, "root", "root")
	v.fr.setFile(a, "/etc/same", "same\n", 0o644, "root", "root")
	v.fr.setFile(a, "/etc/modeonly", "same\n", 0o600, "root", "root")
	v.fr.setFile(a, "/etc/owner", "same\n", 0o644, "www", "www")
	v.fr.setFile(a, "/usr/bin/blob", "\x00old\xff", 0o755, "root", "root")
	v.fr.setFile(a, "/opt/present", "", 0o644, "root", "root")
	v.fr.with(a, func(h *fakeHost) { h.unless["check-ok"], h.unless["check-fails"] = 0, 3 })
	v.fr.resetCounts()

	v.lock("main")
	v.stage("main",
		fileReq("/etc/modified", "line1\nLINE2\nline3\n"), // 1
		fileReq("/etc/created", "new\n"),                  // 2
		fileReq("/etc/same", "same\n"),                    // 3
		fileReq("/etc/modeonly", "same\n"),                // 4
		engine.StageRequest{Kind: journal.KindFile, Path: "/etc/owner", Content: []byte("same\n"), Owner: "root", Group: "root"}, // 5
		engine.StageRequest{Kind: journal.KindFile, Path: "/usr/bin/blob", Content: []byte("\x00new\xff"), Mode: 0o755},          // 6
		execReq("install-present", journal.Guard{Creates: "/opt/present"}),                                                       // 7
		execReq("install-absent", journal.Guard{Creates: "/opt/absent"}),                                                         // 8
		execReq("after-created", journal.Guard{Creates: "/etc/created"}),                                                         // 9
		execReq("guarded-ok", journal.Guard{Unless: "check-ok"}),                                                                 // 10
		execReq("guarded-fails", journal.Guard{Unless: "check-fails"}),                                                           // 11
		rebootReq(), // 12
	)
	p := v.plan(engine.PlanRequest{})
	if p.Branch != "main" || p.Head != 0 || len(p.Staged) != 12 {
		t.Fatalf("plan branch %s head %d staged %d", p.Branch, p.Head, len(p.Staged))
	}
	hp := hostPlan(t, p, "web01")
	if hp.Err != "" {
		t.Fatalf("host error: %s", hp.Err)
	}
	if len(hp.Changes) != 12 {
		t.Fatalf("%d changes, want 12", len(hp.Changes))
	}
	for i, c := range hp.Changes {
		if c.Seq != uint64(i+1) || !c.Staged {
			t.Errorf("change %d: seq %d staged %v", i, c.Seq, c.Staged)
		}
	}
	c := hp.Changes
	tests := []struct {
		name   string
		got    engine.Change
		effect engine.Effect
		check  func(t *testing.T, c engine.Change)
	}{
		{"modified", c[0], engine.EffectModify, func(t *testing.T, c engine.Change) {
			want := "--- a/etc/modified\n+++ b/etc/modified\n@@ -1,3 +1,3 @@\n line1\n-line2\n+LINE2\n line3\n"
			if c.Diff != want {
				t.Errorf("diff =\n%s\nwant\n%s", c.Diff, want)
			}
		}},
		{"created", c[1], engine.EffectCreate, func(t *testing.T, c engine.Change) {
			if want := "--- /dev/null\n+++ b/etc/created\n@@ -0,0 +1 @@\n+new\n"; c.Diff != want {
				t.Errorf("diff =\n%s\nwant\n%s", c.Diff, want)
			}
			if c.OldHash != "" || c.OldMode != "" || c.NewMode != "0644" || c.NewOwner != "root:root" {
				t.Errorf("created: %+v", c)
			}
		}},
		{"unchanged", c[2], engine.EffectUnchanged, func(t *testing.T, c engine.Change) {
			if c.Diff != "" || c.OldHash != c.NewHash {
				t.Errorf("unchanged: %+v", c)
			}
		}},
		{"mode only", c[3], engine.EffectModify, func(t *testing.T, c engine.Change) {
			if c.Diff != "" || c.Binary || c.OldMode != "0600" || c.NewMode != "0644" || c.OldHash != c.NewHash {
				t.Errorf("mode-only: %+v", c)
			}
		}},
		{"owner only", c[4], engine.EffectModify, func(t *testing.T, c engine.Change) {
			if c.Diff != "" || c.OldOwner != "www:www" || c.NewOwner != "root:root" || c.OldMode != c.NewMode {
				t.Errorf("owner: %+v", c)
			}
		}},
		{"binary", c[5], engine.EffectModify, func(t *testing.T, c engine.Change) {
			if !c.Binary || c.Diff != "" || c.OldHash != shaHex([]byte("\x00old\xff")) || c.NewHash != shaHex([]byte("\x00new\xff")) {
				t.Errorf("binary: %+v", c)
			}
		}},
		{"creates exists", c[6], engine.EffectSkip, func(t *testing.T, c engine.Change) {
			wantContains(t, "guard", c.Guard, "only if /opt/present is absent", ": present in the sandbox")
		}},
		{"creates absent", c[7], engine.EffectRun, func(t *testing.T, c engine.Change) {
			wantContains(t, "guard", c.Guard, "/opt/absent is absent: absent in the sandbox")
		}},
		{"creates made by an earlier pending entry", c[8], engine.EffectSkip, func(t *testing.T, c engine.Change) {
			wantContains(t, "guard", c.Guard, "/etc/created is absent: present in the sandbox")
		}},
		{"unless succeeds", c[9], engine.EffectSkip, func(t *testing.T, c engine.Change) {
			wantContains(t, "guard", c.Guard, "unless `check-ok` succeeds: exits 0 in the sandbox")
		}},
		{"unless fails", c[10], engine.EffectRun, func(t *testing.T, c engine.Change) {
			wantContains(t, "guard", c.Guard, "unless `check-fails` succeeds: exits 3 in the sandbox")
		}},
		{"reboot", c[11], engine.EffectReboot, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.Effect != tt.effect {
				t.Fatalf("effect %q, want %q (%+v)", tt.got.Effect, tt.effect, tt.got)
			}
			if tt.check != nil {
				tt.check(t, tt.got)
			}
		})
	}
	// created, modified ×3, binary, 2 runs, reboot.
	if n := hp.Pending(); n != 8 {
		t.Errorf("Pending() = %d, want 8", n)
	}
	if got := v.fr.counts(a); got.probes != 1 || got.fetches != 1 || got.applies != 0 {
		t.Errorf("round trips %+v, want 1 probe and 1 fetch", got)
	}
	// The plan changed nothing and is saved.
	if _, ok := v.fr.file(a, "/etc/created"); ok {
		t.Error("planning created a file")
	}
	saved, err := v.eng.GetPlan(p.ID)
	if err != nil || len(saved.Hosts) != 1 || len(saved.Hosts[0].Changes) != 12 || saved.Approved {
		t.Errorf("saved plan: %+v, %v", saved, err)
	}
}

// TestPlanNeedsNoFetchWhenNothingDiffers: creating files and unchanged
// content cost the probe only.
func TestPlanNeedsNoFetchWhenNothingDiffers(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "h1")
	v.fr.setFile("10.0.0.1", "/etc/same", "x\n", 0o644, "root", "root")
	v.fr.resetCounts()
	v.lock("main")
	v.stage("main", fileReq("/etc/new", "n\n"), fileReq("/etc/same", "x\n"))
	v.plan(engine.PlanRequest{})
	if got := v.fr.counts("10.0.0.1"); got.probes != 1 || got.fetches != 0 {
		t.Errorf("round trips %+v, want 1 probe, no fetch", got)
	}
}

func TestPlanStagedOnlyForLockHolder(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "h1")
	v.commit("main", fileReq("/etc/committed", "c\n"))
	v.lock("main")
	v.stage("main", fileReq("/etc/staged", "s\n"))

	bob := v.engine("bob")
	pb, err := bob.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if hp := hostPlan(t, pb, "h1"); len(pb.Staged) != 0 || len(hp.Changes) != 1 || hp.Changes[0].Path != "/etc/committed" || hp.Changes[0].Staged {
		t.Errorf("bob's plan: staged %d, changes %+v", len(pb.Staged), hp.Changes)
	}
	pa := v.plan(engine.PlanRequest{Branch: "main"})
	hp := hostPlan(t, pa, "h1")
	if len(pa.Staged) != 1 || len(hp.Changes) != 2 || hp.Changes[1].Path != "/etc/staged" || !hp.Changes[1].Staged || hp.Changes[1].Seq != 2 {
		t.Errorf("alice's plan: staged %d, changes %+v", len(pa.Staged), hp.Changes)
	}
}

func TestPlanTemplatePerHost(t *testing.T) {
	v := newEnv(t)
	v.writeClass(`DEFAULT:
    BRANCH = main
    NTP = ntp.example.com
web02:
    NTP = ntp2.example.com
`)
	v.addHost("10.0.0.1", "web01")
	v.addHost("10.0.0.2", "web02")
	v.lock("main")
	v.stage("main", tmplReq("/etc/ntp.conf", "server {{.NTP}}\n# {{.HOSTNAME}} on {{.BRANCH}}\n"))
	p := v.plan(engine.PlanRequest{})
	for _, tc := range []struct{ host, want string }{
		{"web01", "server ntp.example.com\n# web01 on main\n"},
		{"web02", "server ntp2.example.com\n# web02 on main\n"},
	} {
		hp := hostPlan(t, p, tc.host)
		if len(hp.Changes) != 1 {
			t.Fatalf("%s: %+v", tc.host, hp)
		}
		c := hp.Changes[0]
		if c.Effect != engine.EffectCreate || c.NewHash != shaHex([]byte(tc.want)) || hp.Rendered[1] != c.NewHash {
			t.Errorf("%s: %+v rendered %v", tc.host, c, hp.Rendered)
		}
		wantContains(t, tc.host+" diff", c.Diff, "+"+strings.Split(tc.want, "\n")[0]+"\n", "+"+strings.Split(tc.want, "\n")[1]+"\n")
	}
}

func TestPlanTemplateErrorOnOneHost(t *testing.T) {
	v := newEnv(t)
	v.writeClass("DEFAULT:\n    BRANCH = main\ndb01:\n    ROLE = database\n")
	v.addHost("10.0.0.1", "web01")
	v.addHost("10.0.0.2", "db01")
	v.lock("main")
	v.stage("main", tmplReq("/etc/role", "# managed\nrole {{.ROLE}}\n"), fileReq("/etc/motd", "hi\n"))
	p := v.plan(engine.PlanRequest{})
	web := hostPlan(t, p, "web01")
	if web.Err != "" || len(web.Changes) != 2 {
		t.Fatalf("web01: %+v", web)
	}
	if c := web.Changes[0]; c.Effect != engine.EffectError {
		t.Errorf("web01 template effect %q, want error", c.Effect)
	} else {
		wantContains(t, "template error", c.Err, "/etc/role:2", `"ROLE"`)
	}
	if c := web.Changes[1]; c.Effect != engine.EffectCreate {
		t.Errorf("web01 later entry still planned: %+v", c)
	}
	db := hostPlan(t, p, "db01")
	if db.Err != "" || db.Changes[0].Effect != engine.EffectCreate || !strings.Contains(db.Changes[0].Diff, "+role database") {
		t.Errorf("db01: %+v", db)
	}
	// The push applies db01 and refuses web01 with the plan's reason.
	p = v.approve(p)
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if err == nil {
		t.Fatal("push with a failed template on one host succeeded")
	}
	if hw := hostPush(t, r, "web01"); hw.Status != engine.PushFailed || !strings.Contains(hw.Err, "failed in the plan") {
		t.Errorf("web01 push: %+v", hw)
	}
	if hd := hostPush(t, r, "db01"); hd.Status != engine.PushDone {
		t.Errorf("db01 push: %+v", hd)
	}
	if f, ok := v.fr.file("10.0.0.1", "/etc/motd"); ok {
		t.Errorf("web01 got files though its plan failed: %+v", f)
	}
}

func TestPlanHostErrors(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "ok01")
	v.addHost("10.0.0.2", "down02")
	v.addHost("10.0.0.3", "corrupt03")
	v.fr.add("10.0.0.4", "other04")
	v.fr.setState("10.0.0.4", "other", 0, "")
	if _, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "10.0.0.4"}); err != nil {
		t.Fatal(err)
	}
	v.fr.setDown("10.0.0.2", true)
	v.fr.setRawState("10.0.0.3", "# discoterm state v1\nbranch main\nposition banana\n")
	v.lock("main")
	v.stage("main", fileReq("/etc/motd", "hi\n"))
	events, stop := v.eng.Subscribe()
	defer stop()
	p := v.plan(engine.PlanRequest{})
	if ok := hostPlan(t, p, "ok01"); ok.Err != "" || len(ok.Changes) != 1 {
		t.Errorf("ok01 did not proceed: %+v", ok)
	}
	for _, tc := range []struct {
		host string
		want []string
	}{
		{"down02", []string{"cannot reach 10.0.0.2"}},
		{"corrupt03", []string{"corrupt", `line 3: position "banana" is not a number`}},
		{"other04", []string{"branch other", "migrate other04 main"}},
	} {
		hp := hostPlan(t, p, tc.host)
		if len(hp.Changes) != 0 {
			t.Errorf("%s has changes despite its error: %+v", tc.host, hp.Changes)
		}
		wantContains(t, tc.host+" error", hp.Err, tc.want...)
	}
	if n := engine.GroupPlan(p).FailedHosts(); n != 3 {
		t.Errorf("GroupPlan failed hosts = %d, want 3", n)
	}
	stop()
	errored := map[string]bool{}
	for ev := range events {
		if ph, ok := ev.(*engine.PlanHostEvent); ok && ph.Host.Err != "" {
			errored[ph.Host.Name] = true
			if ph.Level != engine.LevelError {
				t.Errorf("plan.host event of %s with an error has level %v", ph.Host.Name, ph.Level)
			}
		}
	}
	if len(errored) != 3 || errored["ok01"] {
		t.Errorf("plan.host error events for %v", errored)
	}
}

func TestGroupPlanCollapsesIdenticalDiffs(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("node", 21)
	for _, a := range addrs {
		v.fr.setFile(a, "/etc/motd", "old\n", 0o644, "root", "root")
	}
	v.fr.setFile(addrs[6], "/etc/motd", "odd\n", 0o644, "root", "root")
	v.addHost("10.0.1.1", "zz-down")
	v.fr.setDown("10.0.1.1", true)
	v.fr.resetCounts()
	v.lock("main")
	v.stage("main", fileReq("/etc/motd", "new\n"), execReq("systemctl reload motd", journal.Guard{}))
	p := v.plan(engine.PlanRequest{})
	r := engine.GroupPlan(p)
	groups, failed := r.Entries, r.Failed
	if len(failed) != 1 || len(failed[0].Hosts) != 1 || failed[0].Hosts[0] != "zz-down" {
		t.Errorf("failed = %+v", failed)
	}
	if r.Changing != 21 || len(r.UpToDate) != 0 {
		t.Errorf("changing %d, up to date %v", r.Changing, r.UpToDate)
	}
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2", len(groups))
	}
	g := groups[0]
	if g.Seq != 1 || g.Summary != "/etc/motd" || !g.Staged || g.HostCount() != 21 || len(g.Variants) != 2 {
		t.Fatalf("group 1: seq %d, %d hosts, %d variants", g.Seq, g.HostCount(), len(g.Variants))
	}
	if len(g.Variants[0].Hosts) != 20 || len(g.Variants[1].Hosts) != 1 || g.Variants[1].Hosts[0] != "node07" {
		t.Errorf("variants: %d and %v", len(g.Variants[0].Hosts), g.Variants[1].Hosts)
	}
	wantContains(t, "main variant", g.Variants[0].Change.Diff, "-old\n+new\n")
	wantContains(t, "odd variant", g.Variants[1].Change.Diff, "-odd\n+new\n")
	if e := groups[1]; e.Kind != journal.KindExec || len(e.Variants) != 1 || len(e.Variants[0].Hosts) != 21 {
		t.Errorf("exec group: %+v", e)
	}
	for _, a := range addrs {
		if c := v.fr.counts(a); c.probes != 1 || c.fetches != 1 {
			t.Errorf("%s: %+v, want 1 probe + 1 fetch", a, c)
		}
	}
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// TestPlanKeepsNewerHostMirror: a host that could not be planned must not
// have its mirrored position overwritten by the empty fingerprint of its
// failed plan, in particular when the mirror was refreshed (by another push
// or plan) after this plan started.
func TestPlanKeepsNewerHostMirror(t *testing.T) {
	v := newEnv(t)
	clk := &testClock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	v.eng = v.engine("alice", func(o *engine.Options) { o.Clock = clk.Now })
	v.addHost("10.0.0.1", "h1")
	v.addHost("10.0.0.2", "h2")
	p := v.commit("main", fileReq("/etc/a", "a\n"), fileReq("/etc/b", "b\n"))
	v.push(p, engine.PushOptions{})
	if hv := v.hostView("h1"); hv.Position != 2 || hv.StateBranch != "main" {
		t.Fatalf("after push: %+v", hv.Host)
	}
	// This plan starts "before" the mirror was last written, and h1 is
	// unreachable: what the store knows of h1 must survive.
	clk.Set(clk.Now().Add(-time.Hour))
	v.fr.setDown("10.0.0.1", true)
	p2 := v.plan(engine.PlanRequest{})
	if hp := hostPlan(t, p2, "h1"); hp.Err == "" {
		t.Fatal("h1 planned although down")
	}
	hv := v.hostView("h1")
	if hv.Position != 2 || hv.StateBranch != "main" || hv.PositionHash == "" {
		t.Errorf("h1 mirror clobbered by a failed plan: position %d, state branch %q, hash %q", hv.Position, hv.StateBranch, hv.PositionHash)
	}
	if hv := v.hostView("h2"); hv.Position != 2 || hv.StateBranch != "main" {
		t.Errorf("h2 mirror: position %d, state branch %q", hv.Position, hv.StateBranch)
	}
}

// TestPlanSkipsLostHosts: a host the scanner marked lost is left out of a
// plan of the whole branch, with a line saying so; naming it includes it.
func TestPlanSkipsLostHosts(t *testing.T) {
	v := newEnv(t)
	v.addHosts("h", 3)
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := v.st.Update(func(tx store.Tx) error {
		hs, err := tx.Hosts()
		if err != nil {
			return err
		}
		for _, h := range hs {
			if h.Name == "h02" {
				h.Liveness, h.LastSeen = "lost", seen
				return tx.PutHost(h)
			}
		}
		t.Fatal("no h02")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v.lock("main")
	v.stage("main", fileReq("/etc/a", "a\n"))
	events, stop := v.eng.Subscribe()
	defer stop()
	p := v.plan(engine.PlanRequest{})
	if len(p.Hosts) != 2 || hostPlan(t, p, "h01").Err != "" || hostPlan(t, p, "h03").Err != "" {
		t.Fatalf("plan of the branch: %+v", p.Hosts)
	}
	if len(p.Skipped) != 1 || p.Skipped[0].Name != "h02" || p.Skipped[0].Liveness != "lost" || !p.Skipped[0].LastSeen.Equal(seen) {
		t.Fatalf("skipped: %+v", p.Skipped)
	}
	var said bool
	for len(events) > 0 {
		if ev, ok := (<-events).(*engine.LogEvent); ok && ev.Host == "h02" && ev.PlanID == p.ID {
			said = strings.Contains(ev.Message, "skipped") && strings.Contains(ev.Message, "plan it by name to include it")
		}
	}
	if !said {
		t.Error("no plan.host event says h02 was skipped and how to include it")
	}
	named := v.plan(engine.PlanRequest{Hosts: []string{"h02", "h03"}})
	if len(named.Hosts) != 2 || len(named.Skipped) != 0 {
		t.Fatalf("named hosts: %d planned, %d skipped", len(named.Hosts), len(named.Skipped))
	}
}

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

func TestPushAppliesInOrder(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("web", 3)
	p := v.commit("main",
		engine.StageRequest{Kind: journal.KindFile, Path: "/etc/motd", Content: []byte("hello\n"), Mode: 0o640, Owner: "root", Group: "adm"},
		tmplReq("/etc/hostinfo", "name={{.HOSTNAME}}\n"),
		execReq("touch /var/run/marker", journal.Guard{Creates: "/var/run/marker"}),
		execReq("echo done", journal.Guard{}),
	)
	if _, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{}); err != nil {
		t.Fatalf("push of the commit plan: %v", err)
	}
	// The commit plan already pushed everything: nothing is left.
	jv := v.journal("main")
	for i, a := range addrs {
		name := fmt.Sprintf("web%02d", i+1)
		st := v.fr.stateOf(a)
		if st.Branch != "main" || st.Position != 4 || st.Hash != jv[3].Hash || len(st.Applied) != 4 {
			t.Errorf("%s state = %+v", name, st)
		}
		for j, ap := range st.Applied {
			if ap.Seq != uint64(j+1) || ap.Hash != jv[j].Hash {
				t.Errorf("%s applied[%d] = %+v", name, j, ap)
			}
		}
		motd, _ := v.fr.file(a, "/etc/motd")
		if string(motd.content) != "hello\n" || motd.mode != 0o640 || motd.group != "adm" {
			t.Errorf("%s motd = %+v", name, motd)
		}
		info, _ := v.fr.file(a, "/etc/hostinfo")
		if string(info.content) != "name="+name+"\n" {
			t.Errorf("%s hostinfo = %q", name, info.content)
		}
		var ran []string
		v.fr.with(a, func(h *fakeHost) { ran = append(ran, h.ran...) })
		if !reflect.DeepEqual(ran, []string{"touch /var/run/marker", "echo done"}) {
			t.Errorf("%s ran %v", name, ran)
		}
		hv := v.hostView(name)
		if hv.Position != 4 || hv.Behind != 0 || hv.Head != 4 || hv.PositionHash != jv[3].Hash || hv.LastResult != string(engine.PushDone) {
			t.Errorf("%s mirror: %+v", name, hv)
		}
		rs, err := v.eng.Report(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 4 {
			t.Fatalf("%s report: %+v", name, rs)
		}
		for j, r := range rs {
			if r.Seq != uint64(j+1) || r.Result != "ok" || r.ExitCode != 0 || r.PlanID != p.ID || r.Branch != "main" {
				t.Errorf("%s result %d = %+v", name, j, r)
			}
		}
		if rs[3].Output != "done\n" {
			t.Errorf("exec output recorded = %q", rs[3].Output)
		}
	}
	// Planning again finds nothing; pushing that contacts no host.
	v.fr.resetCounts()
	p2 := v.approve(v.plan(engine.PlanRequest{}))
	r := v.push(p2, engine.PushOptions{})
	for _, h := range r.Hosts {
		if h.Status != engine.PushNothing {
			t.Errorf("%s: %s, want up-to-date", h.Name, h.Status)
		}
	}
	for _, a := range addrs {
		if c := v.fr.counts(a); c.applies != 0 || c.probes != 1 {
			t.Errorf("%s calls %+v", a, c)
		}
	}
}

func TestPushRefusesUnapproved(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "h1")
	v.lock("main")
	v.stage("main", fileReq("/etc/a", "a\n"))
	p := v.plan(engine.PlanRequest{})
	_, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrUsage) {
		t.Fatalf("push of an unapproved plan: %v", err)
	}
	wantContains(t, "error", err.Error(), "not approved", "approve "+p.ID)
	if c := v.fr.counts("10.0.0.1"); c.applies != 0 {
		t.Errorf("applies = %d", c.applies)
	}
	if _, err := v.eng.Push(context.Background(), "pnope", engine.PushOptions{}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("push of an unknown plan: %v", err)
	}
}

func TestPushRefusesStaleHosts(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("h", 3)
	for _, a := range addrs {
		v.fr.setFile(a, "/etc/motd", "old\n", 0o644, "root", "root")
	}
	v.lock("main")
	v.stage("main", fileReq("/etc/motd", "new\n"), execReq("echo reload", journal.Guard{}))
	p := v.approve(v.plan(engine.PlanRequest{}))
	// Between plan and push, h02's file is edited and h03 moves on.
	v.fr.setFile(addrs[1], "/etc/motd", "edited by hand\n", 0o644, "root", "root")
	v.fr.setState(addrs[2], "main", 1, v.journal("main")[0].Hash)
	before := map[string]string{addrs[1]: v.fr.snapshot(addrs[1]), addrs[2]: v.fr.snapshot(addrs[2])}

	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrStale) {
		t.Fatalf("push: %v, want ErrStale", err)
	}
	wantContains(t, "error", err.Error(), "2 hosts changed", "re-plan")
	if r.Stale() != 2 || r.Failed() != 2 {
		t.Errorf("stale %d failed %d", r.Stale(), r.Failed())
	}
	if h := hostPush(t, r, "h01"); h.Status != engine.PushDone || h.To != 2 {
		t.Errorf("h01: %+v", h)
	}
	for _, tc := range []struct{ name, addr, why string }{
		{"h02", addrs[1], "/etc/motd changed since the plan"},
		{"h03", addrs[2], "position 1, the plan expected 0"},
	} {
		h := hostPush(t, r, tc.name)
		if h.Status != engine.PushStale || len(h.Entries) != 0 {
			t.Errorf("%s: %+v", tc.name, h)
		}
		wantContains(t, tc.name+" error", h.Err, tc.why)
		if v.fr.snapshot(tc.addr) != before[tc.addr] {
			t.Errorf("%s was changed although stale", tc.name)
		}
		if hv := v.hostView(tc.name); hv.LastResult != string(engine.PushStale) || hv.Position != 0 {
			t.Errorf("%s mirror: %+v", tc.name, hv.Host)
		}
	}
	if f, _ := v.fr.file(addrs[0], "/etc/motd"); string(f.content) != "new\n" {
		t.Errorf("h01 motd = %q", f.content)
	}
}

func TestPushStopsAtFailingExec(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "good")
	v.addHost("10.0.0.2", "bad")
	v.fr.setFile("10.0.0.1", "/etc/configured", "", 0o644, "root", "root")
	p := v.commit("main",
		fileReq("/etc/a", "a\n"),
		execReq("exit 3", journal.Guard{Unless: "test -e /etc/configured"}),
		fileReq("/etc/b", "b\n"),
	)
	if c := hostPlan(t, p, "bad").Changes[1]; c.Effect != engine.EffectFail || c.ExitCode != 3 { // predicted by the sandbox
		t.Fatalf("bad's exec plan: %+v", c)
	}
	if c := hostPlan(t, p, "good").Changes[1]; c.Effect != engine.EffectSkip {
		t.Fatalf("good's exec plan: %+v", c)
	}
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrHostsFail) {
		t.Fatalf("push: %v, want ErrHostsFail", err)
	}
	wantContains(t, "error", err.Error(), "1 of 2 hosts did not finish")
	bad := hostPush(t, r, "bad")
	if bad.Status != engine.PushFailed || bad.To != 1 || len(bad.Entries) != 2 {
		t.Fatalf("bad: %+v", bad)
	}
	wantContains(t, "bad error", bad.Err, "seq 2", "exit 3", "exiting 3")
	if e := bad.Entries[1]; e.Result != "failed" || e.ExitCode != 3 {
		t.Errorf("failed entry: %+v", e)
	}
	if _, ok := v.fr.file("10.0.0.2", "/etc/b"); ok {
		t.Error("entry after the failure was applied")
	}
	if st := v.fr.stateOf("10.0.0.2"); st.Position != 1 {
		t.Errorf("bad's state position %d, want 1", st.Position)
	}
	good := hostPush(t, r, "good")
	if good.Status != engine.PushDone || good.To != 3 || good.Entries[1].Result != "skipped" {
		t.Errorf("good: %+v", good)
	}
	hv := v.hostView("bad")
	if hv.Position != 1 || hv.Behind != 2 || hv.LastResult != string(engine.PushFailed) {
		t.Errorf("bad mirror: position %d behind %d result %s", hv.Position, hv.Behind, hv.LastResult)
	}
	rs, _ := v.eng.Report("bad")
	if len(rs) != 2 || rs[1].Result != "failed" || rs[1].ExitCode != 3 || rs[1].Output != "exiting 3\n" {
		t.Errorf("report: %+v", rs)
	}
	// Fixed on the host, the next plan resumes at seq 2.
	v.fr.with("10.0.0.2", func(h *fakeHost) { h.unless["test -e /etc/configured"] = 0 })
	p2 := v.approve(v.plan(engine.PlanRequest{Hosts: []string{"bad"}}))
	if hp := p2.Hosts[0]; hp.Position != 1 || len(hp.Changes) != 2 || hp.Changes[0].Seq != 2 {
		t.Fatalf("re-plan: %+v", hp)
	}
	v.push(p2, engine.PushOptions{})
	if st := v.fr.stateOf("10.0.0.2"); st.Position != 3 {
		t.Errorf("after fix: position %d", st.Position)
	}
}

func TestPushRebootGate(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "h1")
	p := v.commit("main", fileReq("/etc/a", "a\n"), rebootReq(), fileReq("/etc/b", "b\n"))
	if c := p.Hosts[0].Changes[1]; c.Effect != engine.EffectReboot {
		t.Fatalf("reboot planned as %q", c.Effect)
	}
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrHostsFail) {
		t.Fatalf("push: %v", err)
	}
	h := r.Hosts[0]
	if h.Status != engine.PushRebootHold || h.To != 1 || h.Entries[len(h.Entries)-1].Result != "reboot-pending" {
		t.Errorf("without AllowReboot: %+v", h)
	}
	wantContains(t, "error", h.Err, "seq 2 is a reboot", "--allow-reboot")
	if _, ok := v.fr.file("10.0.0.1", "/etc/b"); ok {
		t.Error("entry after the reboot was applied")
	}
	var reboots int
	v.fr.with("10.0.0.1", func(fh *fakeHost) { reboots = fh.reboots })
	if reboots != 0 {
		t.Error("rebooted without AllowReboot")
	}
	// With AllowReboot the reboot is ordered and counts as applied; replay
	// continues on the next push.
	p2 := v.approve(v.plan(engine.PlanRequest{}))
	r = v.push(p2, engine.PushOptions{AllowReboot: true})
	v.fr.with("10.0.0.1", func(fh *fakeHost) { reboots = fh.reboots })
	if st := v.fr.stateOf("10.0.0.1"); st.Position != 2 || reboots != 1 {
		t.Errorf("after allowed reboot: position %d, reboots %d", st.Position, reboots)
	}
	if _, ok := v.fr.file("10.0.0.1", "/etc/b"); ok {
		t.Error("replay continued past the reboot in the same push")
	}
	if hv := v.hostView("h1"); hv.Position != 2 || hv.Behind != 1 {
		t.Errorf("mirror after reboot: position %d behind %d", hv.Position, hv.Behind)
	}
	p3 := v.approve(v.plan(engine.PlanRequest{}))
	v.push(p3, engine.PushOptions{})
	if st := v.fr.stateOf("10.0.0.1"); st.Position != 3 {
		t.Errorf("after catch-up: position %d", st.Position)
	}
}

// TestPushInstallsReviewedTemplate: the classification changes between
// plan and push; the host gets what was reviewed, not a fresh rendering.
func TestPushInstallsReviewedTemplate(t *testing.T) {
	v := newEnv(t)
	v.writeClass("DEFAULT:\n    BRANCH = main\n    NTP = reviewed.example.com\n")
	v.addHost("10.0.0.1", "h1")
	v.lock("main")
	v.stage("main", tmplReq("/etc/ntp.conf", "server {{.NTP}}\n"))
	p := v.approve(v.plan(engine.PlanRequest{}))
	v.writeClass("DEFAULT:\n    BRANCH = main\n    NTP = sneaky.example.com\n")
	v.push(p, engine.PushOptions{})
	f, _ := v.fr.file("10.0.0.1", "/etc/ntp.conf")
	if string(f.content) != "server reviewed.example.com\n" {
		t.Errorf("pushed %q, want what the plan reviewed", f.content)
	}
	// A new plan sees the new classification.
	p2 := v.plan(engine.PlanRequest{})
	if len(p2.Hosts[0].Changes) != 0 {
		t.Errorf("re-plan after push: %+v", p2.Hosts[0].Changes)
	}
}

func TestPushUnreachableHost(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "up")
	v.addHost("10.0.0.2", "gone")
	v.lock("main")
	v.stage("main", fileReq("/etc/a", "a\n"))
	p := v.approve(v.plan(engine.PlanRequest{}))
	v.fr.setDown("10.0.0.2", true)
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrHostsFail) {
		t.Fatalf("push: %v", err)
	}
	if h := hostPush(t, r, "gone"); h.Status != engine.PushUnreach {
		t.Errorf("gone: %+v", h)
	}
	if h := hostPush(t, r, "up"); h.Status != engine.PushDone {
		t.Errorf("up: %+v", h)
	}
	if hv := v.hostView("gone"); hv.Position != 0 || hv.LastResult != string(engine.PushUnreach) {
		t.Errorf("gone mirror: %+v", hv.Host)
	}
}

// Up pushes what is committed and leaves the lock holder's staged,
// unreviewed entries alone.
func TestUpPushesOnlyWhatIsCommitted(t *testing.T) {
	v := newEnv(t)
	v.addHosts("h", 2)
	v.commit("main", fileReq("/etc/a", "a\n"))
	v.lock("main")
	v.stage("main", execReq("touch /tmp/x", journal.Guard{}))
	p, r, err := v.eng.Up(context.Background(), engine.PlanRequest{}, engine.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Approved || len(p.Staged) != 0 || len(r.Hosts) != 2 || r.Failed() != 0 {
		t.Fatalf("up: approved %v, staged %d, %+v", p.Approved, len(p.Staged), r)
	}
	jv, _ := v.eng.Log("main")
	if jv.Branch.Head != 1 || jv.Lock == nil || len(jv.Staged) != 1 {
		t.Errorf("journal after up: head %d lock %v staged %d; want head 1, the lock and the staged entry kept", jv.Branch.Head, jv.Lock, len(jv.Staged))
	}
	for _, a := range []string{"10.0.0.1", "10.0.0.2"} {
		if st := v.fr.stateOf(a); st.Position != 1 {
			t.Errorf("%s at %d", a, st.Position)
		}
		if _, ok := v.fr.file(a, "/tmp/x"); ok {
			t.Errorf("%s: the staged exec ran", a)
		}
	}
	if saved, _ := v.eng.GetPlan(p.ID); !saved.Pushed {
		t.Error("plan not marked pushed")
	}
}

// UpAll goes branch by branch: each host gets its own branch's journal.
func TestUpAllPerBranch(t *testing.T) {
	v := newEnv(t)
	v.addHosts("h", 3)
	v.commit("main", fileReq("/etc/a", "main\n"))
	if err := v.eng.Fork("main", "canary"); err != nil {
		t.Fatal(err)
	}
	if err := v.eng.Assign("h03", "canary"); err != nil {
		t.Fatal(err)
	}
	v.commit("canary", fileReq("/etc/b", "canary\n"))
	runs, err := v.eng.UpAll(context.Background(), engine.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Branch != "canary" || runs[1].Branch != "main" {
		t.Fatalf("runs %+v", runs)
	}
	for a, want := range map[string]uint64{"10.0.0.1": 1, "10.0.0.2": 1, "10.0.0.3": 2} {
		if st := v.fr.stateOf(a); st.Position != want {
			t.Errorf("%s at %d, want %d", a, st.Position, want)
		}
	}
	if _, ok := v.fr.file("10.0.0.3", "/etc/b"); !ok {
		t.Error("h03 lacks its branch's file")
	}
	if _, ok := v.fr.file("10.0.0.1", "/etc/b"); ok {
		t.Error("h01 got the canary branch's file")
	}
}

// TestPushEvents checks what faces render: every host goes waiting →
// applying (k of n, never past n) → done, then one push.done.
func TestPushEvents(t *testing.T) {
	v := newEnv(t)
	v.addHosts("h", 2)
	v.lock("main")
	// The last entry is skipped by its guard.
	v.stage("main", fileReq("/etc/a", "a\n"), execReq("never", journal.Guard{Creates: "/etc/a"}))
	p := v.approve(v.plan(engine.PlanRequest{}))
	events, stop := v.eng.Subscribe()
	defer stop()
	v.push(p, engine.PushOptions{})
	stop()
	statuses := map[string][]string{}
	entries := map[string]int{}
	var done []*engine.PushDoneEvent
	for ev := range events {
		switch ev := ev.(type) {
		case *engine.PushHostEvent:
			if len(done) > 0 {
				t.Errorf("push.host after push.done: %+v", ev)
			}
			if ev.PlanID != p.ID {
				t.Errorf("event plan %q", ev.PlanID)
			}
			statuses[ev.Host] = append(statuses[ev.Host], string(ev.Status))
			if ev.Status == engine.PushApplying && (ev.Step < 1 || ev.Step > ev.Steps) {
				t.Errorf("%s: applying step %d of %d", ev.Host, ev.Step, ev.Steps)
			}
		case *engine.PushEntryEvent:
			entries[ev.Host]++
		case *engine.PushDoneEvent:
			done = append(done, ev)
		}
	}
	for _, h := range []string{"h01", "h02"} {
		s := statuses[h]
		if len(s) < 3 || s[0] != "waiting" || s[1] != "applying" || s[len(s)-1] != "done" {
			t.Errorf("%s statuses %v, want waiting, applying…, done", h, s)
		}
		for _, x := range s[1 : len(s)-1] {
			if x != "applying" {
				t.Errorf("%s: unexpected %q between applying and done: %v", h, x, s)
			}
		}
		if entries[h] != 2 {
			t.Errorf("%s: %d push.entry events, want 2", h, entries[h])
		}
	}
	if len(done) != 1 {
		t.Fatalf("%d push.done events", len(done))
	}
	wantContains(t, "push.done", done[0].Message, p.ID, "2 hosts, 0 failed, 0 stale")
	if done[0].Hosts != 2 || done[0].Failed != 0 {
		t.Errorf("push.done: %d hosts, %d failed", done[0].Hosts, done[0].Failed)
	}
}

// TestPushCancel: cancelling while hosts are mid-entry lets each finish
// its current entry, stops before the next, and records where each host
// really is; hosts not started are untouched.
func TestPushCancel(t *testing.T) {
	v := newEnv(t)
	v.eng = v.engine("alice", func(o *engine.Options) { o.Parallel = 2 })
	addrs := v.addHosts("h", 4)
	v.lock("main")
	v.stage("main", fileReq("/etc/1", "1\n"), execReq("long-running", journal.Guard{}), fileReq("/etc/3", "3\n"))
	p := v.approve(v.plan(engine.PlanRequest{}))
	before := map[string]string{}
	for _, a := range addrs {
		before[a] = v.fr.snapshot(a)
	}
	blocked := make(chan string, 4)
	v.fr.applyHook = func(ctx context.Context, addr string, seq uint64) {
		if seq == 2 {
			blocked <- addr
			<-ctx.Done()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-blocked
		<-blocked
		cancel()
	}()
	r, err := v.eng.Push(ctx, p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrCancelled) {
		t.Fatalf("push: %v, want ErrCancelled", err)
	}
	for i, a := range addrs {
		name := fmt.Sprintf("h%02d", i+1)
		h := hostPush(t, r, name)
		want := engine.PushCancelled // started: cancelled before seq 3
		if i >= 2 {
			want = engine.PushNotStarted
		}
		if h.Status != want {
			t.Errorf("%s: status %s, want %s", name, h.Status, want)
		}
		if i < 2 && !strings.Contains(h.Err, "cancelled before seq 3") {
			t.Errorf("%s: error %q does not say where it stopped", name, h.Err)
		}
		st := v.fr.stateOf(a)
		hv := v.hostView(name)
		if hv.Position != st.Position || h.To != st.Position {
			t.Errorf("%s: host at %d, push says %d, mirror says %d", name, st.Position, h.To, hv.Position)
		}
		if i < 2 {
			// Started: entry 2 finished, entry 3 never began.
			if st.Position != 2 || len(h.Entries) != 3 || h.Entries[1].Result != "ok" || h.Entries[2].Result != "cancelled" {
				t.Errorf("%s: position %d, entries %+v", name, st.Position, h.Entries)
			}
			if _, ok := v.fr.file(a, "/etc/3"); ok {
				t.Errorf("%s: entry 3 applied after cancel", name)
			}
		} else if v.fr.snapshot(a) != before[a] {
			t.Errorf("%s was changed though never started", name)
		}
	}
}

// TestPushHonoursParallel: PushOptions.Parallel bounds hosts at once.
func TestPushHonoursParallel(t *testing.T) {
	v := newEnv(t)
	v.addHosts("h", 4)
	v.lock("main")
	v.stage("main", fileReq("/etc/a", "a\n"))
	p := v.approve(v.plan(engine.PlanRequest{}))
	// Each apply lingers, so hosts overlap unless the bound holds.
	v.fr.startHook = func(ctx context.Context, addr string) { time.Sleep(20 * time.Millisecond) }
	v.push(p, engine.PushOptions{Parallel: 1})
	v.fr.mu.Lock()
	max := v.fr.maxApply
	v.fr.mu.Unlock()
	if max != 1 {
		t.Errorf("%d applies ran at once with Parallel 1", max)
	}
}

// TestPushCancelResultsAreWhatHappened: after a cancelled push each host's
// result is what its own run reported — a host that finished while the
// push was being cancelled is done, one stopped between entries is
// cancelled before the next seq, one never reached is not started, and a
// host that was up to date keeps its last result.
func TestPushCancelResultsAreWhatHappened(t *testing.T) {
	v := newEnv(t)
	v.eng = v.engine("alice", func(o *engine.Options) { o.Parallel = 2 })
	addrs := v.addHosts("h", 4)
	// h04 gets the entries first, so it is up to date in the plan below.
	v.lock("main")
	v.stage("main", fileReq("/etc/1", "1\n"), execReq("long-running", journal.Guard{}))
	p0 := v.approve(v.plan(engine.PlanRequest{Hosts: []string{"h04"}}))
	v.push(p0, engine.PushOptions{})
	p := v.approve(v.plan(engine.PlanRequest{}))

	reached := make(chan string, 4)
	v.fr.applyHook = func(ctx context.Context, addr string, seq uint64) {
		switch {
		case addr == addrs[0] && seq == 2: // finishes its last entry after the cancel
			reached <- addr
			<-ctx.Done()
		case addr == addrs[1] && seq == 2: // stops before entry 2
			reached <- addr
			<-ctx.Done()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-reached; <-reached; cancel() }()
	r, err := v.eng.Push(ctx, p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrCancelled) {
		t.Fatalf("push: %v, want ErrCancelled", err)
	}
	h1, h2, h3, h4 := hostPush(t, r, "h01"), hostPush(t, r, "h02"), hostPush(t, r, "h03"), hostPush(t, r, "h04")
	// The fake checks ctx before each entry, so which of h01/h02 ran its
	// entry 2 depends on the hook: both blocked inside it, so both finish it.
	for _, h := range []engine.HostPush{h1, h2} {
		if h.Status != engine.PushDone || h.To != 2 {
			t.Errorf("%s finished every entry while cancelling: status %s at %d (%s)", h.Name, h.Status, h.To, h.Err)
		}
	}
	if h3.Status != engine.PushNotStarted {
		t.Errorf("h03 was never reached: status %s (%s)", h3.Status, h3.Err)
	}
	if h4.Status != engine.PushNothing {
		t.Errorf("h04 was up to date: status %s", h4.Status)
	}
	for name, want := range map[string]string{"h01": "done", "h02": "done", "h03": "", "h04": "done"} {
		if got := v.hostView(name).LastResult; got != want {
			t.Errorf("%s: last result %q, want %q", name, got, want)
		}
	}
}

// TestPushCancelledBeforeSeq: a host stopped between entries says before
// which seq it stopped and where it stands.
func TestPushCancelledBeforeSeq(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("h", 1)
	v.lock("main")
	v.stage("main", fileReq("/etc/1", "1\n"), fileReq("/etc/2", "2\n"), fileReq("/etc/3", "3\n"))
	p := v.approve(v.plan(engine.PlanRequest{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v.fr.applyHook = func(_ context.Context, addr string, seq uint64) {
		if addr == addrs[0] && seq == 2 {
			cancel() // entry 2 still runs; entry 3 sees the cancel
		}
	}
	r, _ := v.eng.Push(ctx, p.ID, engine.PushOptions{})
	h := hostPush(t, r, "h01")
	if h.Status != engine.PushCancelled || h.To != 2 {
		t.Fatalf("status %s at %d (%s)", h.Status, h.To, h.Err)
	}
	wantContains(t, "error", h.Err, "cancelled before seq 3", "applied up to 2")
	if got := v.hostView("h01"); got.LastResult != "cancelled" || got.Position != 2 {
		t.Errorf("mirror: %s at %d", got.LastResult, got.Position)
	}
}

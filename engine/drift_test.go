package engine_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

func driftNames(rep *engine.DriftReport) map[string][]string {
	out := map[string][]string{}
	for _, h := range rep.Hosts {
		for _, p := range h.Paths {
			out[h.Name] = append(out[h.Name], p.Path+":"+strings.Join(p.What, ","))
		}
	}
	return out
}

func TestDriftRepairAdopt(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("web", 4)
	p := v.commit("main",
		engine.StageRequest{Kind: journal.KindFile, Path: "/etc/motd", Content: []byte("hello\n"), Mode: 0o644},
		tmplReq("/etc/hostinfo", "name={{.HOSTNAME}}\n"),
		engine.StageRequest{Kind: journal.KindFile, Path: "/etc/gone", Content: []byte("x\n")},
		engine.StageRequest{Kind: journal.KindRemove, Path: "/etc/gone"},
		execReq("echo hi", journal.Guard{}),
	)
	v.push(p, engine.PushOptions{})
	ctx := context.Background()
	rep, err := v.eng.Drift(ctx, engine.DriftRequest{})
	if err != nil || rep.Drifted() != 0 || rep.Hosts[0].Checked != 3 {
		t.Fatalf("fresh fleet: %v, %+v", err, rep)
	}
	// Hand edits: content on web01, mode on web02, a template on web03
	// deleted, the removed file back on web04.
	v.fr.setFile(addrs[0], "/etc/motd", "hello\nrogue\n", 0o644, "root", "root")
	v.fr.setFile(addrs[1], "/etc/motd", "hello\n", 0o666, "root", "root")
	v.fr.with(addrs[2], func(h *fakeHost) { delete(h.files, "/etc/hostinfo") })
	v.fr.setFile(addrs[3], "/etc/gone", "back\n", 0o644, "root", "root")
	rep, err = v.eng.Drift(ctx, engine.DriftRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"web01": {"/etc/motd:content"}, "web02": {"/etc/motd:mode"},
		"web03": {"/etc/hostinfo:missing"}, "web04": {"/etc/gone:present"},
	}
	if got := driftNames(rep); !reflect.DeepEqual(got, want) {
		t.Fatalf("drift = %v, want %v", got, want)
	}
	if d := rep.Hosts[0].Paths[0]; !strings.Contains(d.Diff, "+rogue") || d.Seq != 1 {
		t.Errorf("web01 diff journal → host: %+v", d)
	}
	if hv := v.hostView("web01"); hv.Drifted != 1 {
		t.Errorf("web01 hosts view drift = %d", hv.Drifted)
	}

	// Repair all but web01's: a plan of three hosts; positions stay 5.
	rp, err := v.eng.Repair(ctx, engine.FixRequest{Hosts: []string{"web02", "web03", "web04"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Hosts) != 3 || !rp.Hosts[0].Changes[0].Repair {
		t.Fatalf("repair plan: %+v", rp.Hosts)
	}
	r := v.push(v.approve(rp), engine.PushOptions{})
	for _, h := range r.Hosts {
		if h.Status != engine.PushDone || h.To != 5 {
			t.Errorf("%s: %s at %d", h.Name, h.Status, h.To)
		}
	}
	if f, _ := v.fr.file(addrs[1], "/etc/motd"); f.mode != 0o644 {
		t.Errorf("web02 mode %o", f.mode)
	}
	if f, _ := v.fr.file(addrs[2], "/etc/hostinfo"); string(f.content) != "name=web03\n" {
		t.Errorf("web03 hostinfo %q", f.content)
	}
	if _, ok := v.fr.file(addrs[3], "/etc/gone"); ok {
		t.Error("web04 /etc/gone still there")
	}
	if st := v.fr.stateOf(addrs[1]); st.Position != 5 || len(st.Applied) != 5 {
		t.Errorf("web02 state after repair: %+v", st)
	}
	if hv := v.hostView("web02"); hv.Drifted != 0 || hv.Position != 5 {
		t.Errorf("web02 view after repair: drift %d position %d", hv.Drifted, hv.Position)
	}

	// Adopt web01's hand edit: staged under the lock, then every host's.
	if _, _, err := v.eng.Adopt(ctx, "web01", engine.FixRequest{}); !errors.Is(err, engine.ErrNotLocked) {
		t.Errorf("adopt without the lock: %v", err)
	}
	v.lock("main")
	_, staged, err := v.eng.Adopt(ctx, "web01", engine.FixRequest{})
	if err != nil || len(staged) != 1 || staged[0].Path != "/etc/motd" || staged[0].Kind != journal.KindFile {
		t.Fatalf("adopt: %v %+v", err, staged)
	}
	v.push(v.approve(v.plan(engine.PlanRequest{})), engine.PushOptions{})
	if f, _ := v.fr.file(addrs[3], "/etc/motd"); string(f.content) != "hello\nrogue\n" {
		t.Errorf("web04 motd after adopt = %q", f.content)
	}
	rep, err = v.eng.Drift(ctx, engine.DriftRequest{})
	if err != nil || rep.Drifted() != 0 {
		t.Fatalf("after repair and adopt: %v %v", err, driftNames(rep))
	}
	if _, err := v.eng.Repair(ctx, engine.FixRequest{}); !errors.Is(err, engine.ErrUsage) {
		t.Errorf("repair with no drift: %v", err)
	}
}

func TestRepairStaleWhenHostChangesAgain(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("web", 1)
	v.push(v.commit("main", fileReq("/etc/motd", "a\n")), engine.PushOptions{})
	v.fr.setFile(addrs[0], "/etc/motd", "b\n", 0o644, "root", "root")
	rp, err := v.eng.Repair(context.Background(), engine.FixRequest{})
	if err != nil {
		t.Fatal(err)
	}
	v.approve(rp)
	v.fr.setFile(addrs[0], "/etc/motd", "c\n", 0o644, "root", "root")
	r, err := v.eng.Push(context.Background(), rp.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrStale) || r.Hosts[0].Status != engine.PushStale {
		t.Fatalf("push of a repair the host moved past: %v %+v", err, r)
	}
	if f, _ := v.fr.file(addrs[0], "/etc/motd"); string(f.content) != "c\n" {
		t.Errorf("a stale repair changed the host: %q", f.content)
	}
}

func TestRepairNow(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("web", 2)
	v.push(v.commit("main", fileReq("/etc/motd", "a\n")), engine.PushOptions{})
	v.fr.setFile(addrs[1], "/etc/motd", "b\n", 0o600, "root", "root")
	if err := v.eng.RepairNow(context.Background(), engine.FixRequest{Branch: "main"}); err != nil {
		t.Fatal(err)
	}
	if f, _ := v.fr.file(addrs[1], "/etc/motd"); string(f.content) != "a\n" || f.mode != 0o644 {
		t.Errorf("after RepairNow: %q %o", f.content, f.mode)
	}
	if v.fr.counts(addrs[0]).applies != 1 {
		t.Errorf("the host without drift was pushed again")
	}
	// Nothing left: RepairNow does nothing and says no error.
	if err := v.eng.RepairNow(context.Background(), engine.FixRequest{Branch: "main"}); err != nil {
		t.Errorf("RepairNow with no drift: %v", err)
	}
}

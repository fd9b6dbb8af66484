package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

func TestApproveCommitsStaged(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "h1")
	v.lock("main")
	v.stage("main", fileReq("/etc/a", "a\n"), tmplReq("/etc/t", "{{.HOSTNAME}}\n"), execReq("make", journal.Guard{Creates: "/opt/made"}))
	p := v.plan(engine.PlanRequest{})
	ap, err := v.eng.Approve(p.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !ap.Approved {
		t.Error("returned plan not marked approved")
	}
	jv, err := v.eng.Log("main")
	if err != nil {
		t.Fatal(err)
	}
	if jv.Branch.Head != 3 || len(jv.Entries) != 3 {
		t.Fatalf("head %d, %d entries; want 3", jv.Branch.Head, len(jv.Entries))
	}
	if err := journal.Verify("main", jv.Entries, jv.Branch.HeadHash); err != nil {
		t.Errorf("committed journal does not verify: %v", err)
	}
	for i, en := range jv.Entries {
		if en.Seq != uint64(i+1) || en.Changeset != 1 || en.Author != "alice" || en.Message != "test change" || en.Kind != p.Staged[i].Kind {
			t.Errorf("entry %d = %+v", i+1, en)
		}
	}
	if len(jv.Staged) != 0 || jv.Lock != nil {
		t.Errorf("after approve: %d staged, lock %+v", len(jv.Staged), jv.Lock)
	}
	if saved, _ := v.eng.GetPlan(p.ID); !saved.Approved {
		t.Error("saved plan not approved")
	}
	audit, _ := v.eng.Audit("main")
	if last := audit[len(audit)-1]; last.Action != "approve" || last.Actor != "alice" {
		t.Errorf("audit = %+v", last)
	} else {
		wantContains(t, "audit", last.Message, "committed seq 1–3")
	}
	if _, err := v.eng.Approve(p.ID, false); !errors.Is(err, engine.ErrUsage) {
		t.Errorf("second approve: %v, want ErrUsage", err)
	}

	// keepLock: the next changeset starts at 4 and the lock stays.
	v.lock("main")
	v.stage("main", fileReq("/etc/b", "b\n"))
	if _, err := v.eng.Approve(v.plan(engine.PlanRequest{}).ID, true); err != nil {
		t.Fatal(err)
	}
	jv, _ = v.eng.Log("main")
	if jv.Branch.Head != 4 || jv.Entries[3].Changeset != 4 || jv.Entries[3].Prev != jv.Entries[2].Hash {
		t.Errorf("second changeset: %+v", jv.Entries[3])
	}
	if jv.Lock == nil || jv.Lock.Holder != "alice" {
		t.Errorf("keepLock released the lock: %+v", jv.Lock)
	}
}

func TestApproveRefusesStale(t *testing.T) {
	ctx := context.Background()
	t.Run("staged list grew", func(t *testing.T) {
		v := newEnv(t)
		v.lock("main")
		v.stage("main", fileReq("/etc/a", "a\n"))
		p := v.plan(engine.PlanRequest{Branch: "main"})
		v.stage("main", fileReq("/etc/b", "b\n"))
		_, err := v.eng.Approve(p.ID, false)
		if !errors.Is(err, engine.ErrStale) {
			t.Fatalf("approve: %v, want ErrStale", err)
		}
		wantContains(t, "error", err.Error(), "2 entries are staged now", "reviewed 1")
		if len(v.journal("main")) != 0 {
			t.Error("a stale approve committed entries")
		}
	})
	t.Run("staged entry replaced", func(t *testing.T) {
		v := newEnv(t)
		v.lock("main")
		v.stage("main", fileReq("/etc/a", "a\n"))
		p := v.plan(engine.PlanRequest{Branch: "main"})
		if err := v.eng.Drop("main", 1); err != nil {
			t.Fatal(err)
		}
		v.stage("main", fileReq("/etc/a", "changed\n"))
		_, err := v.eng.Approve(p.ID, false)
		if !errors.Is(err, engine.ErrStale) {
			t.Fatalf("approve: %v, want ErrStale", err)
		}
		wantContains(t, "error", err.Error(), "staged entry #1 changed")
	})
	t.Run("head moved", func(t *testing.T) {
		v := newEnv(t)
		v.lock("main")
		v.stage("main", fileReq("/etc/a", "a\n"))
		p1 := v.plan(engine.PlanRequest{Branch: "main"})
		p2, err := v.eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.eng.Approve(p2.ID, true); err != nil {
			t.Fatal(err)
		}
		v.stage("main", fileReq("/etc/a", "a\n"))
		_, err = v.eng.Approve(p1.ID, false)
		if !errors.Is(err, engine.ErrStale) {
			t.Fatalf("approve: %v, want ErrStale", err)
		}
		wantContains(t, "error", err.Error(), "moved from seq 0 to 1")
		if n := len(v.journal("main")); n != 1 {
			t.Errorf("journal has %d entries, want 1", n)
		}
	})
	t.Run("lock lost", func(t *testing.T) {
		v := newEnv(t)
		v.lock("main")
		v.stage("main", fileReq("/etc/a", "a\n"))
		p := v.plan(engine.PlanRequest{Branch: "main"})
		if err := v.engine("bob").Unlock("main", true); err != nil {
			t.Fatal(err)
		}
		if _, err := v.eng.Approve(p.ID, false); !errors.Is(err, engine.ErrNotLocked) {
			t.Errorf("approve after losing the lock: %v, want ErrNotLocked", err)
		}
	})
}

// TestApproveWithoutStagedNeedsNoLock: a plan of committed entries only is
// approved by anyone, even while someone else holds the lock.
func TestApproveWithoutStagedNeedsNoLock(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "h1")
	v.commit("main", fileReq("/etc/a", "a\n"))
	v.lock("main")
	v.stage("main", fileReq("/etc/alice-wip", "w\n"))

	bob := v.engine("bob")
	p, err := bob.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Staged) != 0 {
		t.Fatalf("bob's plan covers alice's staged entries: %+v", p.Staged)
	}
	if _, err := bob.Approve(p.ID, false); err != nil {
		t.Fatalf("bob approving committed entries: %v", err)
	}
	staged, l, _ := v.eng.Staged("main")
	if l == nil || l.Holder != "alice" || len(staged) != 1 {
		t.Errorf("bob's approve touched alice's lock or staged list: %+v, %d", l, len(staged))
	}
	r, err := bob.Push(context.Background(), p.ID, engine.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := hostPush(t, r, "h1"); h.Status != engine.PushDone || h.To != 1 {
		t.Errorf("push: %+v", h)
	}
	if _, ok := v.fr.file("10.0.0.1", "/etc/alice-wip"); ok {
		t.Error("alice's staged entry reached a host")
	}
}

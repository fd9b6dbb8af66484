package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// A plan probes only what is pending from where the store last saw each
// host; a host found behind that (rebuilt, restored) is probed again from
// its real position, and nothing pending is missed.
func TestPlanProbesFromMirroredPosition(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	p := v.commit("main", fileReq("/etc/a", "a\n"), execReq("check-a", journal.Guard{Unless: "guard-a"}))
	v.push(p, engine.PushOptions{})
	p = v.commit("main", fileReq("/etc/b", "b\n"))

	v.fr.resetCounts()
	p = v.plan(engine.PlanRequest{Branch: "main"})
	if got := v.fr.counts("10.0.0.1").probes; got != 1 {
		t.Fatalf("probes = %d, want 1", got)
	}
	hp := p.Hosts[0]
	if len(hp.Fingerprint.Paths) != 1 || hp.Fingerprint.Paths[0].Path != "/etc/b" {
		t.Errorf("fingerprint paths = %+v, want only /etc/b (entries 1-2 are applied)", hp.Fingerprint.Paths)
	}

	// The host is rebuilt: its state is gone, the store still says 2.
	v.fr.setRawState("10.0.0.1", "")
	v.fr.resetCounts()
	p = v.plan(engine.PlanRequest{Branch: "main"})
	hp = p.Hosts[0]
	if got := v.fr.counts("10.0.0.1").probes; got != 2 {
		t.Errorf("probes = %d, want 2 (a second one from position 0)", got)
	}
	if hp.Err != "" || hp.Position != 0 || len(hp.Changes) != 3 || len(hp.Fingerprint.Paths) != 2 {
		t.Errorf("rebuilt host plan = %+v", hp)
	}
}

// A plan is pushed once; pushing it again is refused with what to do.
func TestPushTwiceRefused(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	p := v.commit("main", fileReq("/etc/a", "a\n"))
	v.push(p, engine.PushOptions{})
	_, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), "pushed already") {
		t.Fatalf("second push: %v", err)
	}
}

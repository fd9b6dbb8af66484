package engine_test

import (
	"bytes"
	"testing"

	"github.com/discoterm/discoterm/engine"
)

// TestPlanRefusesOversizedFetch: a host that reports a small file in its
// probe and then sends far more than MaxDiff is not diffed: the change is
// shown by hash, as any file too large for a diff.
func TestPlanRefusesOversizedFetch(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	a := "10.0.0.1"
	v.fr.setFile(a, "/etc/motd", "small\n", 0o644, "root", "root")
	huge := bytes.Repeat([]byte("x\n"), engine.MaxDiff)
	v.fr.with(a, func(h *fakeHost) { h.fetchLies = map[string][]byte{"/etc/motd": huge} })
	v.lock("main")
	v.stage("main", fileReq("/etc/motd", "new\n"))
	hp := hostPlan(t, v.plan(engine.PlanRequest{}), "web01")
	if len(hp.Changes) != 1 {
		t.Fatalf("changes: %+v", hp.Changes)
	}
	if c := hp.Changes[0]; c.Diff != "" || !c.Binary || c.Effect != engine.EffectModify {
		t.Fatalf("an oversized reply was diffed or mis-shown: effect %s binary %v diff %d bytes", c.Effect, c.Binary, len(c.Diff))
	}
}

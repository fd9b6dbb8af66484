package remote

import (
	"context"
	"sync"
	"testing"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// TestFleetTwoPushesRace: two pushes of the same change, planned at the
// same position, reach one host at once. The host lock serialises them:
// one applies, the other finds the host moved on and is stale — the
// entry runs once, never twice or interleaved.
func TestFleetTwoPushesRace(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	a := &hostApply{t: t, st: &Steps{R: fleetClient(t, f, nil)}, h: f.Hosts[0]}
	ctx := context.Background()
	pr, err := a.st.Probe(ctx, target(a.h), ProbeRequest{StateDir: "/var/lib/discoterm"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := `echo start >> /srv/runs; sleep 1; echo end >> /srv/runs`
	bundle := func() *Bundle {
		return &Bundle{StateDir: "/var/lib/discoterm", Branch: "main", ExpectBranch: pr.State.Branch,
			ExpectPosition: pr.State.Position, ExpectHash: pr.State.Hash,
			Entries: []BundleEntry{{Seq: pr.State.Position + 1, Hash: sum([]byte(cmd)), Op: OpExec, Command: cmd}}}
	}
	var wg sync.WaitGroup
	res := make([]*ApplyResult, 2)
	errs := make([]error, 2)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = a.st.Apply(ctx, target(a.h), bundle(), nil)
		}()
	}
	wg.Wait()
	ok, stale := 0, 0
	for i, r := range res {
		if errs[i] != nil {
			t.Fatalf("push %d: %v", i, errs[i])
		}
		switch {
		case r.Stale != "":
			stale++
		case len(r.Entries) == 1 && r.Entries[0].Result == "ok":
			ok++
		default:
			t.Fatalf("push %d: neither applied nor stale: %+v", i, r)
		}
	}
	if ok != 1 || stale != 1 {
		t.Fatalf("two racing pushes: %d applied, %d stale; want 1 and 1: %+v %+v", ok, stale, res[0], res[1])
	}
	if got := a.sh("cat /srv/runs"); got != "start\nend" {
		t.Fatalf("the entry ran %q; want once, whole", got)
	}
}

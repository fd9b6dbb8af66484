package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// TestRevertSources: a template known to the journal at SEQ is staged
// again as the same template; a path that first appeared after SEQ is put
// back from the host's saved copy where the host applied the entry, and
// from its live file where it has not yet; hosts that disagree, entries
// already staged and a SEQ beyond a host are refused.
func TestRevertSources(t *testing.T) {
	v := newEnv(t)
	v.addHosts("web", 2)
	ctx := context.Background()
	p := v.commit("main", tmplReq("/etc/t", "x={{.HOSTNAME}}\n"))
	v.push(p, engine.PushOptions{})
	v.lock("main")
	v.stage("main", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/new", Content: []byte("n2\n"), Mode: 0o644},
		engine.StageRequest{Kind: journal.KindFile, Path: "/etc/t", Content: []byte("plain\n"), Mode: 0o600})
	v.push(v.approve(v.plan(engine.PlanRequest{Branch: "main", Hosts: []string{"web01"}})), engine.PushOptions{})
	// What a push that must come back keeps on the host (remote/comeback.sh).
	sd := "/var/lib/discoterm/saved/2/"
	v.fr.setFile("10.0.0.1", sd+"0.path", "/etc/new", 0o600, "root", "root")
	v.fr.setFile("10.0.0.1", sd+"0.meta", "absent\n", 0o600, "root", "root")

	v.lock("main")
	if _, err := v.eng.Revert(ctx, engine.RevertRequest{Hosts: []string{"web02"}, To: 2}); !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), "never applied there") {
		t.Errorf("revert web02 --to 2 (it is at 1): %v", err)
	}
	// web02 never got seq 2: its /etc/new is what seq 2 will overwrite.
	v.fr.setFile("10.0.0.2", "/etc/new", "hand\n", 0o644, "root", "root")
	if _, err := v.eng.Revert(ctx, engine.RevertRequest{Hosts: []string{"web01", "web02"}, To: 1}); err == nil || !strings.Contains(err.Error(), "different /etc/new") {
		t.Errorf("disagreeing hosts: %v", err)
	}
	v.fr.with("10.0.0.2", func(h *fakeHost) { delete(h.files, "/etc/new") })
	res, err := v.eng.Revert(ctx, engine.RevertRequest{Hosts: []string{"web01", "web02"}, To: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Staged {
		got = append(got, string(e.Kind)+" "+e.Path)
	}
	if strings.Join(got, "; ") != "remove /etc/new; template /etc/t" {
		t.Errorf("staged %v", got)
	}
	if res.Plan == nil || len(res.Plan.Hosts) != 2 {
		t.Fatalf("plan: %+v", res.Plan)
	}
	seen := false
	for _, hp := range res.Plan.Hosts {
		for _, c := range hp.Changes {
			if c.Seq == 5 && hp.Name == "web01" {
				seen = true
				if c.Effect != engine.EffectModify || !strings.Contains(c.Diff, "+x=web01") {
					t.Errorf("web01's template change: %+v", c)
				}
			}
		}
	}
	if !seen {
		t.Errorf("web01's plan has no seq 5: %+v", res.Plan.Hosts)
	}
	if _, err := v.eng.Revert(ctx, engine.RevertRequest{Hosts: []string{"web01"}, To: 1}); !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), "staged on main already") {
		t.Errorf("second revert over staged entries: %v", err)
	}
}

package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// benchFleet is 50 fake hosts with 12 committed entries pending each: 10
// files that exist with other content (so each costs a fetch and a diff),
// one template rendered per host, one exec guarded by creates. It measures
// the engine's own cost of planning and pushing, without a network.
func benchFleet(b *testing.B) (*testEnv, []string) {
	v := newEnv(b)
	v.writeClass("DEFAULT:\n    BRANCH = main\n    NTP = ntp.example.com\n")
	addrs := v.addHosts("node", 50)
	var reqs []engine.StageRequest
	for i := range 10 {
		reqs = append(reqs, fileReq(fmt.Sprintf("/etc/app/conf%02d", i), strings.Repeat(fmt.Sprintf("key%d = new value\n", i), 40)))
	}
	reqs = append(reqs,
		tmplReq("/etc/ntp.conf", "# {{.HOSTNAME}}\nserver {{.NTP}} iburst\ndriftfile /var/lib/ntp/drift\n"),
		execReq("touch /var/lib/app/.installed", journal.Guard{Creates: "/var/lib/app/.installed"}))
	v.lock("main")
	v.stage("main", reqs...)
	p, err := v.eng.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.eng.Approve(p.ID, false); err != nil {
		b.Fatal(err)
	}
	resetBenchHosts(v, addrs)
	return v, addrs
}

// resetBenchHosts puts every host back before the journal: old file
// contents, no state file.
func resetBenchHosts(v *testEnv, addrs []string) {
	for _, a := range addrs {
		v.fr.with(a, func(h *fakeHost) {
			h.files = map[string]*fakeFile{}
			for i := range 10 {
				h.files[fmt.Sprintf("/etc/app/conf%02d", i)] = &fakeFile{
					content: []byte(strings.Repeat(fmt.Sprintf("key%d = old value\n", i), 40)), mode: 0o644, owner: "root", group: "root"}
			}
			h.state, h.ran = "", nil
		})
	}
}

func BenchmarkPlan50HostsFake(b *testing.B) {
	v, _ := benchFleet(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p, err := v.eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Hosts) != 50 || p.Hosts[0].Pending() != 12 {
			b.Fatalf("plan: %d hosts, %d pending", len(p.Hosts), p.Hosts[0].Pending())
		}
	}
}

func BenchmarkPush50HostsFake(b *testing.B) {
	v, addrs := benchFleet(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		resetBenchHosts(v, addrs)
		p, err := v.eng.Plan(ctx, engine.PlanRequest{Branch: "main"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.eng.Approve(p.ID, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r, err := v.eng.Push(ctx, p.ID, engine.PushOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if r.Failed() != 0 || r.Hosts[0].To != 12 {
			b.Fatalf("push: %d failed, host at %d", r.Failed(), r.Hosts[0].To)
		}
	}
}

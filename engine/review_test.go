package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func change(seq uint64, effect Effect, diff string) Change {
	return Change{Seq: seq, Kind: "file", Path: "/etc/motd", Effect: effect, Diff: diff}
}

// Two hundred hosts with one common diff, two odd ones, one up to date and
// four unreachable hosts read as four groups.
func TestGroupPlanCollapsesIdenticalChanges(t *testing.T) {
	common := "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n"
	odd := "--- a\n+++ b\n@@ -1 +1 @@\n-edited by hand\n+new\n"
	p := &Plan{}
	for i := range 200 {
		name := "h" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		hp := HostPlan{HostID: "id-" + name, Name: name, Addr: "fd00::" + name}
		switch {
		case i == 7 || i == 9:
			hp.Changes = []Change{change(5, EffectModify, odd)}
		case i%50 == 3:
			hp.Err = "unreachable: dial tcp [" + hp.Addr + "]:22: no route to host"
		case i == 11:
			hp.Changes = []Change{change(5, EffectUnchanged, "")}
		default:
			hp.Changes = []Change{change(5, EffectModify, common)}
		}
		p.Hosts = append(p.Hosts, hp)
	}
	g := GroupPlan(p)
	if len(g.Entries) != 1 {
		t.Fatalf("%d entries", len(g.Entries))
	}
	groups := g.Entries[0].Variants
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3 (common, odd, unchanged)", len(groups))
	}
	if len(groups[0].Hosts) != 193 || groups[0].Change.Diff != common {
		t.Fatalf("largest group: %d hosts, diff %q", len(groups[0].Hosts), groups[0].Change.Diff)
	}
	if len(groups[1].Hosts) != 2 || groups[1].Change.Diff != odd {
		t.Fatalf("odd ones out: %v", groups[1].Hosts)
	}
	if len(g.Failed) != 1 || len(g.Failed[0].Hosts) != 4 || !strings.Contains(g.Failed[0].Err, "[‹addr›]:22") {
		t.Fatalf("errors not generalised into one group: %+v", g.Failed)
	}
	if f := g.Failed[0]; !strings.Contains(f.First, "[fd00::"+f.Hosts[0]+"]:22") {
		t.Errorf("first error %q is not %s's own", f.First, f.Hosts[0])
	}
	if g.Changing != 195 || len(g.UpToDate) != 1 {
		t.Fatalf("changing %d, up to date %v", g.Changing, g.UpToDate)
	}
}

// TestReviewBuilderGrowsAsHostsAnswer: hosts added one by one in any
// order group as the whole plan does, and a review taken part-way keeps
// what it showed while later hosts are added.
func TestReviewBuilderGrowsAsHostsAnswer(t *testing.T) {
	common := "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n"
	p := &Plan{}
	for i := range 40 {
		name := fmt.Sprintf("web%d", i+1)
		hp := HostPlan{HostID: "id-" + name, Name: name, Addr: "fd00::" + name}
		switch {
		case i%10 == 3:
			hp.Err = "unreachable: dial tcp [" + hp.Addr + "]:22: no route to host"
		case i%7 == 2:
			hp.Changes = []Change{change(5, EffectModify, "odd "+common)}
		default:
			hp.Changes = []Change{change(5, EffectModify, common), change(6, EffectCreate, "")}
		}
		p.Hosts = append(p.Hosts, hp)
	}
	var b ReviewBuilder
	var early Review
	for i := len(p.Hosts) - 1; i >= 0; i-- { // answers arrive in any order
		b.Add(p.Hosts[i])
		if i == 30 {
			early = b.Review()
		}
	}
	if got, want := b.Review(), GroupPlan(p); !reflect.DeepEqual(got, want) {
		t.Errorf("grown host by host:\n%+v\nwhole plan:\n%+v", got, want)
	}
	if b.Hosts() != 40 {
		t.Errorf("Hosts() = %d", b.Hosts())
	}
	if n := early.Entries[0].HostCount() + early.FailedHosts(); n != 10 {
		t.Errorf("the early review counts %d hosts, want the 10 added by then", n)
	}
	if h := early.Entries[0].Variants[0].Hosts; h[0] != "web32" {
		t.Errorf("the early review changed under later answers: %v", h)
	}
}

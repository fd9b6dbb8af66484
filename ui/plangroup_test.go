package ui

import (
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/themes"
	"github.com/discoterm/discoterm/ui/uitest"
)

func change(seq uint64, effect engine.Effect, diff string) engine.Change {
	return engine.Change{Seq: seq, Kind: "file", Path: "/etc/motd", Effect: effect, Diff: diff}
}

func TestGroupPlanCollapsesIdenticalChanges(t *testing.T) {
	common := "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n"
	odd := "--- a\n+++ b\n@@ -1 +1 @@\n-edited by hand\n+new\n"
	p := &engine.Plan{}
	for i := range 200 {
		name := "h" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		hp := engine.HostPlan{HostID: "id-" + name, Name: name, Addr: "fd00::" + name}
		switch {
		case i == 7 || i == 9:
			hp.Changes = []engine.Change{change(5, engine.EffectModify, odd)}
		case i%50 == 3:
			hp.Err = "unreachable: dial tcp [" + hp.Addr + "]:22: no route to host"
		case i == 11:
			hp.Changes = []engine.Change{change(5, engine.EffectUnchanged, "")}
		default:
			hp.Changes = []engine.Change{change(5, engine.EffectModify, common)}
		}
		p.Hosts = append(p.Hosts, hp)
	}
	g := groupPlan(p)
	if len(g.entries) != 1 {
		t.Fatalf("%d entries", len(g.entries))
	}
	groups := g.entries[0].groups
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3 (common, odd, unchanged)", len(groups))
	}
	if len(groups[0].hosts) != 193 || groups[0].change.Diff != common {
		t.Fatalf("largest group: %d hosts, diff %q", len(groups[0].hosts), groups[0].change.Diff)
	}
	if len(groups[1].hosts) != 2 || groups[1].change.Diff != odd {
		t.Fatalf("odd ones out: %v", groups[1].hosts)
	}
	if len(g.errs) != 1 || len(g.errs[0].hosts) != 4 || !strings.Contains(g.errs[0].err, "[‹addr›]:22") {
		t.Fatalf("errors not generalised into one group: %+v", g.errs)
	}
	if g.change != 195 || len(g.upToDate) != 1 {
		t.Fatalf("change %d, up to date %v", g.change, g.upToDate)
	}
	if got := hostList(groups[0].hosts); !strings.HasPrefix(got, "×193 hosts (") {
		t.Fatalf("hostList = %q", got)
	}
}

func TestWordDiffHighlightsOnlyChangedWords(t *testing.T) {
	th := themes.Dark()
	lines := renderDiff(th, "@@ -1 +1 @@\n-\tworker_connections 512;\n+\tworker_connections 1024;\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	del, add := lines[1], lines[2]
	if !strings.Contains(del, th.DiffDelWord.Render("512")) || strings.Contains(del, th.DiffDelWord.Render("worker_connections")) {
		t.Errorf("removed line: %q", del)
	}
	if !strings.Contains(add, th.DiffAddWord.Render("1024")) || strings.Contains(add, "\t") {
		t.Errorf("added line: %q", add)
	}
	// A rewritten line is coloured whole, without word highlights.
	lines = renderDiff(th, "-completely different text here\n+nothing alike at all, really\n")
	if strings.Contains(lines[0], th.DiffDelWord.Render("completely")) {
		t.Errorf("rewrite got word highlights: %q", lines[0])
	}
}

func TestSplitWordsAndArgs(t *testing.T) {
	w, err := splitWords(`exec --creates /x -- sh -c "echo 'hi there'" a\ b`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"exec", "--creates", "/x", "--", "sh", "-c", "echo 'hi there'", "a b"}
	if strings.Join(w, "|") != strings.Join(want, "|") {
		t.Fatalf("words %q", w)
	}
	a, err := parseArgs(w[1:])
	if err != nil || a.flags["creates"] != "/x" || len(a.rest) != 4 {
		t.Fatalf("args %+v, %v", a, err)
	}
	if _, err := splitWords(`lock "unterminated`); err == nil {
		t.Fatal("unterminated quote accepted")
	}
	if _, err := parseArgs([]string{"--to"}); err == nil {
		t.Fatal("--to without a value accepted")
	}
}

// The review says what each kind of change does: binary content, mode and
// owner, commands, template errors, unreachable hosts — once per group.
func TestPlanReviewShowsEveryKindOfChange(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 120, Entries: 9}, 160, 48)
	if err := d.f.Lock("main", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.f.Stage("main", engine.StageRequest{Kind: "template", Path: "/etc/nginx/nginx.conf"}); err != nil {
		t.Fatal(err)
	}
	d.key("p")
	all := stripANSI(strings.Join(d.m.review.lines, "\n"))
	for _, want := range []string{
		"#9 file /usr/local/bin/healthcheck",
		"binary content 000000000000 → 000000000000",
		"mode 0644 → 0755 · owner root:root → root:staff",
		"created ×", "mode none → 0755 · owner none → root:staff",
		"would run ×", "$ systemctl reload nginx",
		`error ×3: db0011, lb0019, mail0002`, `map has no entry for key "workers"`,
		"#10 template /etc/nginx/nginx.conf staged",
		"would reboot ×",
		"hosts that could not be planned",
		"unreachable: dial tcp [‹addr›]:22: connect: no route to host ×",
		"host key not in known_hosts (SHA256:‹key›) ×1: web0002",
		"-\tworker", // tabs are expanded…
	} {
		if want == "-\tworker" {
			if strings.Contains(all, want) {
				t.Errorf("review keeps a tab: %q", want)
			}
			continue
		}
		if !strings.Contains(all, want) {
			t.Errorf("review lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(all)
	}
}

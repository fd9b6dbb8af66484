package ui

import (
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/themes"
	"github.com/discoterm/discoterm/ui/uitest"
)

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
		"×7 hosts (build0012, db0006, …)", "unreachable: dial tcp [", "(as build0012 said it", "]:22: connect: no route to host",
		"said the same of themselves", "×1: web0002", "host key not in known_hosts (SHA256:0000",
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

// No review line shows a placeholder (‹host›, ‹addr›): grouping keys are
// not words any host said.
func TestReviewHasNoTemplates(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 96}, 80, 24)
	d.key("p")
	all := stripANSI(strings.Join(d.m.review.lines, "\n"))
	if strings.Contains(all, "‹") || strings.Contains(all, "›") {
		t.Fatalf("review shows a template:\n%s", all)
	}
}

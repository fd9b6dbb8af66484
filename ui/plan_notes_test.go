package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/ui/uitest"
)

// TestPlanReviewNotes: what batch plan says of some hosts before approving
// — exec entries not simulated, a clock off, a revert armed — the review
// says too, in the same words (engine.PlanNotes).
func TestPlanReviewNotes(t *testing.T) {
	d := newDriver(t, uitest.Options{Hosts: 3}, 100, 40)
	d.f.Lock("main", "notes")
	d.f.Stage("main", engine.StageRequest{Kind: "file", Path: "/etc/motd"})
	p, err := d.f.Plan(t.Context(), engine.PlanRequest{Branch: "main"})
	if err != nil || len(p.Hosts) < 3 {
		t.Fatalf("plan: %v", err)
	}
	p.Hosts[0].Revert = "a push with --must-come-back is armed on this host"
	p.Hosts[1].ClockSkew = 10 * time.Minute
	p.Hosts[1].Sandbox = "may not create namespaces (log in as root)"
	p.Hosts[2].Sandbox = "may not create namespaces (log in as root)"
	two := []string{p.Hosts[1].Name, p.Hosts[2].Name}
	slices.SortFunc(two, engine.NaturalCompare)
	d.m.review.setPlan(p)
	d.m.focusView(viewPlan)
	d.wantScreen("! ×1: "+p.Hosts[0].Name, "a push with --must-come-back is armed on this host",
		"its clock is 10m0s ahead of this controller's",
		"! ×2: "+strings.Join(two, ", "), "exec entries not simulated: may not create namespaces")
}

package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/discoterm/discoterm/engine"
)

// planTickEvery redraws the elapsed times of hosts a plan still waits for.
const planTickEvery = 500 * time.Millisecond

// planTickMsg redraws a running plan's waiting times.
type planTickMsg struct{ job string }

func planTick(job string) tea.Cmd {
	return tea.Tick(planTickEvery, func(time.Time) tea.Msg { return planTickMsg{job: job} })
}

// planAnswer is what one host's plan.host event said.
type planAnswer struct {
	status string // planned, error, skipped
	text   string
	after  time.Duration // since the plan started
}

// planProgress follows a running plan host by host, from its plan.host
// events, so the review shows each host's result as it arrives and names
// the hosts still awaited with how long they have taken.
type planProgress struct {
	job         string
	start       time.Time
	done, total int
	expect      []string // host names asked for, sorted
	answers     map[string]planAnswer
	// The review so far, grouped host by host as they answer; dirty
	// when a host was added since the pane last showed it.
	planID, branch string
	review         engine.ReviewBuilder
	dirty          bool
}

// livePlan is the plan being computed as far as the pane needs it.
func (p *planProgress) livePlan() *engine.Plan {
	return &engine.Plan{ID: p.planID, Branch: p.branch}
}

func newPlanProgress(job string, start time.Time, expect []string) planProgress {
	expect = slices.Clone(expect)
	slices.SortFunc(expect, naturalCompare)
	return planProgress{job: job, start: start, total: len(expect), expect: expect, answers: map[string]planAnswer{}}
}

// step records one host's dry-run as it finished.
func (p *planProgress) step(ev *engine.PlanHostEvent, now time.Time) {
	if p.job == "" {
		return
	}
	if p.planID == "" { // the first answer names the plan
		p.planID, p.branch = ev.PlanID, ev.Branch
	}
	if ev.PlanID != p.planID {
		return // another plan of the engine's (a catch-up)
	}
	h := ev.Host
	p.review.Add(h)
	p.dirty = true
	name := h.Name
	if name == "" {
		name = h.HostID
	}
	a := planAnswer{status: "planned", after: now.Sub(p.start)}
	switch n := h.Pending(); {
	case h.Err != "":
		a.status, a.text = "error", firstLine(h.Err)
	case n == 0:
		a.text = "up to date"
	default:
		a.text = plural(n, "entry") + " would change it"
	}
	p.answer(name, a)
}

// note records a log line about one host of the running plan: the
// engine says so when it skips a host the scanner lost.
func (p *planProgress) note(ev *engine.LogEvent, now time.Time) {
	if ev.PlanID == "" || ev.Host == "" {
		return
	}
	p.answer(ev.Host, planAnswer{status: "skipped", text: ev.Message, after: now.Sub(p.start)})
}

func (p *planProgress) answer(name string, a planAnswer) {
	if p.job == "" || name == "" {
		return
	}
	if _, again := p.answers[name]; !again {
		p.done++
	}
	if !slices.Contains(p.expect, name) {
		p.expect = append(p.expect, name)
		p.total = max(p.total, len(p.expect))
	}
	p.answers[name] = a
}

// waiting lists the hosts not answered yet.
func (p planProgress) waiting() []string {
	var out []string
	for _, h := range p.expect {
		if _, ok := p.answers[h]; !ok {
			out = append(out, h)
		}
	}
	return out
}

func (p planProgress) String() string {
	if p.total > 0 {
		return fmt.Sprintf("%d/%s", p.done, plural(p.total, "host"))
	}
	return plural(p.done, "host")
}

// lines is the plan pane while the plan runs: the hosts still awaited
// first (what holds the plan up), then each answer as it came. At most
// room lines.
func (p planProgress) lines(c *Common, now time.Time, room int) []string {
	t := c.Theme
	elapsed := now.Sub(p.start).Round(100 * time.Millisecond)
	out := []string{t.Info.Render(fmt.Sprintf(" dry-running: %s answered · %s", p.String(), elapsed))}
	wait := p.waiting()
	if len(wait) > 0 {
		out = append(out, t.Warn.Render(fmt.Sprintf(" waiting for %s:", plural(len(wait), "host"))))
		shown := wait[:min(len(wait), max(room/2, 3))]
		for _, h := range shown {
			out = append(out, fmt.Sprintf("   %-20s %s", h, t.Warn.Render("waiting "+elapsed.String())))
		}
		if n := len(wait) - len(shown); n > 0 {
			out = append(out, t.Muted.Render(fmt.Sprintf("   … and %d more", n)))
		}
	}
	var answered []string
	for _, h := range p.expect {
		// Once the review grows below, it shows the planned hosts;
		// only the skipped ones are told here.
		if a, ok := p.answers[h]; ok && (p.review.Hosts() == 0 || a.status == "skipped") {
			answered = append(answered, h)
		}
	}
	if len(answered) > 0 {
		out = append(out, t.Muted.Render(" answered:"))
	}
	for _, h := range answered {
		if len(out) >= room-1 && len(answered) > 1 {
			out = append(out, t.Muted.Render(fmt.Sprintf("   … %d more answered", len(answered)-(len(out)-2-len(wait)))))
			break
		}
		a := p.answers[h]
		st := t.Ok
		switch a.status {
		case "error":
			st = t.Error
		case "skipped":
			st = t.Warn
		}
		out = append(out, fmt.Sprintf("   %-20s %s %s", h, st.Render(a.text), t.Muted.Render(a.after.Round(10*time.Millisecond).String())))
	}
	return out
}

// naturalCompare orders names with their numbers by value: web2 before web10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitsPrefix(a), digitsPrefix(b)
		if da != "" && db != "" {
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitsPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

package main

import (
	"fmt"
	"github.com/discoterm/discoterm/engine/textsafe"
	"os"
	"slices"
	"strings"

	"github.com/discoterm/discoterm/engine"
)

// stdout and stderr for batch output, escaped: see textsafe.
var (
	safeStdout = textsafe.NewWriter(os.Stdout)
	stderr     = textsafe.NewWriter(os.Stderr)
)

func sorted(s []string) []string {
	slices.SortFunc(s, engine.NaturalCompare)
	return s
}

// hostList names hosts, eliding past a handful.
func hostList(hs []string) string {
	if len(hs) <= 6 {
		return strings.Join(hs, ", ")
	}
	return strings.Join(hs[:5], ", ") + fmt.Sprintf(" and %d more", len(hs)-5)
}

// plan prints the review: per entry, each distinct effect once with the
// hosts that share it, then hosts that could not be planned.
func (p *textPrinter) plan(pl *engine.Plan) {
	r := engine.GroupPlan(pl)
	groups, failed := r.Entries, r.Failed
	fmt.Fprintf(p.w, "plan %s — branch %s, head %d", pl.ID, pl.Branch, pl.Head)
	if len(pl.Staged) > 0 {
		fmt.Fprintf(p.w, " + %d staged", len(pl.Staged))
	}
	fmt.Fprintf(p.w, ", %s\n", engine.Plural(len(pl.Hosts), "host"))
	if len(groups) == 0 && len(failed) == 0 {
		fmt.Fprintln(p.w, "\nevery host is up to date")
	}
	for _, g := range groups {
		tag := ""
		if g.Staged {
			tag = " (staged)"
		}
		fmt.Fprintf(p.w, "\n#%d %s %s%s — %s\n", g.Seq, g.Kind, g.Summary, tag, engine.Plural(g.HostCount(), "host"))
		for _, v := range g.Variants {
			c := v.Change
			effect := string(c.Effect)
			if c.Effect == engine.EffectFail && c.Cap == "" {
				effect = fmt.Sprintf("would fail (exit %d)", c.ExitCode)
			}
			fmt.Fprintf(p.w, "  ×%d %s: %s\n", len(v.Hosts), effect, hostList(v.Hosts))
			if c.Guard != "" {
				fmt.Fprintf(p.w, "     guard: %s\n", c.Guard)
			}
			if c.Err != "" {
				fmt.Fprintf(p.w, "     error: %s\n", c.Err)
			}
			if c.AllowUserDir {
				fmt.Fprintf(p.w, "     %s\n", engine.UserDirNote)
			}
			if c.OldMode != "" && c.OldMode != c.NewMode {
				fmt.Fprintf(p.w, "     mode %s → %s\n", c.OldMode, c.NewMode)
			}
			if c.OldOwner != "" && c.OldOwner != c.NewOwner {
				fmt.Fprintf(p.w, "     owner %s → %s\n", c.OldOwner, c.NewOwner)
			}
			if c.Binary {
				old := c.OldHash
				if old == "" {
					old = "(absent)"
				}
				fmt.Fprintf(p.w, "     binary, sha256 %s → %s\n", short(old), short(c.NewHash))
			}
			if c.Kind == "exec" && c.Effect != engine.EffectSkip {
				p.execEffects(c)
			}
			if c.Diff != "" {
				for _, l := range strings.Split(strings.TrimRight(c.Diff, "\n"), "\n") {
					fmt.Fprintf(p.w, "     %s\n", l)
				}
			}
		}
	}
	for _, g := range failed {
		if len(g.Hosts) == 1 {
			fmt.Fprintf(p.w, "\n! %s: %s\n", g.Hosts[0], g.First)
			continue
		}
		fmt.Fprintf(p.w, "\n! ×%d %s could not be planned: %s\n  e.g. %s: %s\n", len(g.Hosts), hostList(g.Hosts), g.Err, g.Hosts[0], g.First)
	}
	for _, s := range pl.Skipped {
		seen := "never seen"
		if !s.LastSeen.IsZero() {
			seen = "last seen " + s.LastSeen.Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(p.w, "\n- %s skipped: the scanner marked it %s (%s); name it to include it: plan %s\n", s.Name, s.Liveness, seen, s.Name)
	}
	for _, n := range engine.PlanNotes(pl) {
		fmt.Fprintf(p.w, "\n! %s: %s\n", hostList(n.Hosts), n.Text)
	}
	fmt.Fprintf(p.w, "\nreview, then: discoterm --batch approve %s && discoterm --batch push %s\n", pl.ID, pl.ID)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (p *textPrinter) push(r *engine.PushResult) {
	for _, h := range r.Hosts {
		fmt.Fprintf(p.w, "%-20s %-14s position %d → %d  (%s)\n", h.Name, h.Status, h.From, h.To, h.Duration.Round(1e6))
		for _, e := range h.Entries {
			fmt.Fprintf(p.w, "    #%-4d %-8s %-40s %s (exit %d, %s)\n", e.Seq, e.Kind, firstLine(e.Summary), e.Result, e.ExitCode, e.Duration)
			if e.Result == "failed" && e.Output != "" {
				for _, l := range strings.Split(strings.TrimRight(e.Output, "\n"), "\n") {
					fmt.Fprintf(p.w, "          | %s\n", l)
				}
			}
		}
		if h.Err != "" {
			fmt.Fprintf(p.w, "    ! %s\n", h.Err)
		}
		if h.CameBack != "" {
			fmt.Fprintf(p.w, "    %s\n", h.CameBack)
		}
	}
	fmt.Fprintf(p.w, "push %s: %s, %d not finished (%d stale), %s\n", r.PlanID, engine.Plural(len(r.Hosts), "host"), r.Failed(), r.Stale(), r.Duration.Round(1e6))
	if r.Stopped != "" {
		ns := r.NotStarted()
		fmt.Fprintf(p.w, "push %s %s; not started (untouched): %s: %s\n", r.PlanID, r.Stopped, engine.Plural(len(ns), "host"), strings.Join(ns, " "))
	}
}

// execEffects prints what an exec did in the host's sandbox, in the terms
// of file entries, or why it was not simulated.
func (p *textPrinter) execEffects(c engine.Change) {
	if c.NotSimulated != "" {
		fmt.Fprintf(p.w, "     would run (not simulated: %s): %s\n", c.NotSimulated, c.Command)
		return
	}
	if !c.Sandboxed {
		fmt.Fprintf(p.w, "     would run: %s\n", c.Command)
		return
	}
	fmt.Fprintf(p.w, "     ran in the sandbox (filesystem effects only): %s\n", c.Command)
	if c.Output != "" && (c.Effect == engine.EffectFail || len(c.Files) == 0) {
		lines := strings.Split(strings.TrimRight(c.Output, "\n"), "\n")
		if len(lines) > 10 {
			lines = append(lines[:10], fmt.Sprintf("… %d more lines", len(lines)-10))
		}
		for _, l := range lines {
			fmt.Fprintf(p.w, "       | %s\n", l)
		}
	}
	if len(c.Files) == 0 && c.Effect != engine.EffectFail {
		fmt.Fprintln(p.w, "     changed no file")
	}
	for _, f := range c.Files {
		line := fmt.Sprintf("     %s %s", f.Effect, f.Path)
		switch f.Type {
		case "dir":
			line += "/"
		case "symlink":
			if f.NewTarget != "" {
				line += " → " + f.NewTarget
			}
		}
		if f.OldMode != "" && f.NewMode != "" && f.OldMode != f.NewMode {
			line += fmt.Sprintf(" (mode %s → %s)", f.OldMode, f.NewMode)
		}
		if f.OldOwner != "" && f.NewOwner != "" && f.OldOwner != f.NewOwner {
			line += fmt.Sprintf(" (owner %s → %s)", f.OldOwner, f.NewOwner)
		}
		fmt.Fprintln(p.w, line)
		if f.Binary {
			fmt.Fprintf(p.w, "       binary, sha256 %s → %s\n", short(orAbsent(f.OldHash)), short(orAbsent(f.NewHash)))
		}
		if f.Diff != "" {
			for _, l := range strings.Split(strings.TrimRight(f.Diff, "\n"), "\n") {
				fmt.Fprintf(p.w, "       %s\n", l)
			}
		}
	}
}

func orAbsent(h string) string {
	if h == "" {
		return "(absent)"
	}
	return h
}

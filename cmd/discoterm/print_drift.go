package main

import (
	"fmt"
	"strings"

	"github.com/discoterm/discoterm/engine"
)

// drift prints one line per drifted path, its diff journal → host, and
// the hosts that could not be checked.
func (p *textPrinter) drift(r *engine.DriftReport) {
	for _, h := range r.Hosts {
		if h.Err != "" {
			fmt.Fprintf(p.w, "%-20s ! %s\n", h.Name, h.Err)
		}
		if len(h.Paths) == 0 && h.Err == "" {
			fmt.Fprintf(p.w, "%-20s no drift (%d paths at position %d)\n", h.Name, h.Checked, h.Position)
		}
		for _, d := range h.Paths {
			line := fmt.Sprintf("%-20s %s drifted: %s (seq %d %s)", h.Name, d.Path, strings.Join(d.What, ", "), d.Seq, d.Kind)
			if d.WantMode != d.HostMode && d.HostMode != "" && d.WantMode != "" {
				line += fmt.Sprintf("; mode %s → %s", d.WantMode, d.HostMode)
			}
			if d.WantOwner != d.HostOwner && d.HostOwner != "" && d.WantOwner != "" {
				line += fmt.Sprintf("; owner %s → %s", d.WantOwner, d.HostOwner)
			}
			fmt.Fprintln(p.w, line)
			switch {
			case d.Diff != "":
				for _, l := range strings.Split(strings.TrimRight(d.Diff, "\n"), "\n") {
					fmt.Fprintf(p.w, "    %s\n", l)
				}
			case d.Binary:
				fmt.Fprintf(p.w, "    binary or large: sha256 %.12s → %.12s\n", d.WantHash, d.HostHash)
			}
		}
	}
	fmt.Fprintf(p.w, "drift on %s: %d of %d hosts drifted", r.Branch, r.Drifted(), len(r.Hosts))
	if f := r.Failed(); f > 0 {
		fmt.Fprintf(p.w, ", %d could not be checked", f)
	}
	if r.Drifted() > 0 {
		fmt.Fprint(p.w, "; put the journal's version back with: repair [HOST…], or keep a host's with: adopt HOST")
	}
	fmt.Fprintln(p.w)
}

func (p *jsonPrinter) drift(r *engine.DriftReport) {
	for _, h := range r.Hosts {
		p.emit("drift.host", h)
	}
	p.emit("drift", map[string]any{"branch": r.Branch, "head": r.Head, "hosts": len(r.Hosts), "drifted": r.Drifted(), "failed": r.Failed()})
}

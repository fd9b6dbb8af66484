package ui

import "charm.land/lipgloss/v2"

// The hosts table's DRIFT column: what the host's last drift check found
// (store.DriftSummary on its record, kept current by drift results and
// events).

// drift is the DRIFT cell: how many files the last drift check found
// drifted, "–" when the host was never checked (when it was checked is in
// the host's details, enter).
func (r *hostRow) drift() string {
	switch d := r.Drift; {
	case d == nil:
		return "–"
	case d.Err != "":
		return "error"
	case len(d.Paths) == 0:
		return "none"
	}
	return plural(len(r.Drift.Paths), "file")
}

func (p *hostsPane) driftStyle(r *hostRow) lipgloss.Style {
	t := p.c.Theme
	switch d := r.Drift; {
	case d == nil || (d.Err == "" && len(d.Paths) == 0):
		return t.Muted
	case d.Err != "":
		return t.Error
	}
	return t.Warn
}

// driftCount orders hosts by drift: drifted most first, then checked and
// clean, then failed checks, then never checked.
func driftCount(r *hostRow) int {
	switch d := r.Drift; {
	case d == nil:
		return -2
	case d.Err != "":
		return -1
	}
	return len(r.Drift.Paths)
}

// byName finds a host's row by the name the table shows.
func (p *hostsPane) byName(name string) *hostRow {
	for _, r := range p.rows {
		if r.displayName() == name {
			return r
		}
	}
	return nil
}

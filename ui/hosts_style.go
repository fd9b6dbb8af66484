package ui

import (
	"charm.land/lipgloss/v2"

	"github.com/discoterm/discoterm/engine"
)

func (p *hostsPane) stateStyle(s string) lipgloss.Style {
	t := p.c.Theme
	switch s {
	case stateAlive:
		return t.Ok
	case stateLost:
		return t.Warn
	case stateUntrusted:
		return t.Error
	}
	return t.Info
}

func (p *hostsPane) resultStyle(r *hostRow) lipgloss.Style {
	t := p.c.Theme
	switch {
	case r.push != "":
		return t.Info
	case len(r.Warnings) > 0:
		return t.Warn
	case r.LastResult == "ok" || r.LastResult == string(engine.PushDone):
		return t.Ok
	case r.Prepared != nil && r.Prepared.State == "armed":
		return t.Info
	case r.LastResult == "":
		return t.Muted
	case r.LastError != "" || r.LastResult == "failed":
		return t.Error
	}
	return t.Warn
}

package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
)

// shortHelp is the bottom line when nothing else is shown: the keys that
// matter most in the focused pane.
func (m *Model) shortHelp() string {
	k := m.c.Keys
	var bs []*key.Binding
	switch m.focus {
	case viewHosts:
		bs = []*key.Binding{&k.Mark, &k.Plan, &k.Lock, &k.Stage, &k.Filter, &k.Sort}
	case viewJournal:
		bs = []*key.Binding{&k.Lock, &k.Stage, &k.Drop, &k.Plan, &k.Branch, &k.Filter}
	case viewPlan:
		bs = []*key.Binding{&k.Approve, &k.Push, &k.NextEntry, &k.Fold}
	case viewPush:
		bs = []*key.Binding{&k.StopPush, &k.Down}
	case viewActivity:
		bs = []*key.Binding{&k.Level, &k.Bottom}
	case viewDrift:
		bs = []*key.Binding{&k.Repair, &k.Adopt, &k.RepairAll, &k.CheckDrift, &k.Fold}
	case viewMachines:
		bs = []*key.Binding{&k.History, &k.StartBoot, &k.StopBoot}
	}
	bs = append(bs, &k.Command, &k.Help)
	t := m.c.Theme
	parts := make([]string, 0, len(bs))
	for _, b := range bs {
		h := b.Help()
		if !b.Enabled() {
			parts = append(parts, t.KeyOff.Render(h.Key+" "+h.Desc))
			continue
		}
		parts = append(parts, t.Key.Render(h.Key)+" "+t.KeyDesc.Render(h.Desc))
	}
	return " " + strings.Join(parts, t.Muted.Render(" · "))
}

package engine

import (
	"fmt"
	"slices"
)

// PlanNote is what the operator must know of some hosts of a plan before
// approving it, in the same words on every face: "HOSTS: Text".
type PlanNote struct {
	Hosts []string `json:"hosts"`
	Text  string   `json:"text"`
}

// PlanNotes lists a plan's notes, hosts saying the same thing together:
// exec entries not simulated (and why), a host clock off the
// controller's, an armed must-come-back revert.
func PlanNotes(pl *Plan) []PlanNote {
	var out []PlanNote
	at := map[string]int{}
	add := func(host, text string) {
		if i, ok := at[text]; ok {
			out[i].Hosts = append(out[i].Hosts, host)
			return
		}
		at[text] = len(out)
		out = append(out, PlanNote{Hosts: []string{host}, Text: text})
	}
	for _, h := range pl.Hosts {
		if h.Err != "" {
			continue
		}
		if h.Sandbox != "" {
			add(h.Name, "exec entries not simulated: "+h.Sandbox)
		}
		if h.ClockSkew != 0 {
			way, d := "ahead of", h.ClockSkew
			if d < 0 {
				way, d = "behind", -d
			}
			add(h.Name, fmt.Sprintf("its clock is %s %s this controller's; it keeps maintenance windows by its own clock — set its time (NTP)", d, way))
		}
		if h.Revert != "" {
			add(h.Name, h.Revert)
		}
	}
	for i := range out {
		slices.SortFunc(out[i].Hosts, NaturalCompare)
	}
	return out
}

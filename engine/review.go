package engine

import (
	"sort"
	"strings"

	"github.com/discoterm/discoterm/engine/journal"
)

// Variant is one distinct predicted effect of an entry and the hosts that
// share it.
type Variant struct {
	Change Change   `json:"change"`
	Hosts  []string `json:"hosts"`
}

// ChangeGroup is one pending entry across a plan's hosts: identical effects
// collapse into one variant, so a 200-host change reads as one diff with
// its count, and the odd hosts out stand apart.
type ChangeGroup struct {
	Seq      uint64       `json:"seq"`
	Kind     journal.Kind `json:"kind"`
	Summary  string       `json:"summary"`
	Staged   bool         `json:"staged,omitempty"`
	Variants []Variant    `json:"variants"` // largest first
}

// HostCount is how many hosts the entry is pending on.
func (g ChangeGroup) HostCount() int {
	n := 0
	for _, v := range g.Variants {
		n += len(v.Hosts)
	}
	return n
}

func variantKey(c Change) string {
	return strings.Join([]string{string(c.Effect), c.Diff, c.OldHash, c.NewHash, c.OldMode, c.NewMode,
		c.OldOwner, c.NewOwner, c.Guard, c.Err}, "\x00")
}

// GroupPlan arranges a plan for review: per entry in sequence order, its
// distinct effects with the hosts of each. Hosts that could not be planned
// are returned apart.
func GroupPlan(p *Plan) (groups []ChangeGroup, failed []HostPlan) {
	bySeq := map[uint64]*ChangeGroup{}
	index := map[uint64]map[string]int{}
	for _, hp := range p.Hosts {
		if hp.Err != "" {
			failed = append(failed, hp)
			continue
		}
		for _, c := range hp.Changes {
			g, ok := bySeq[c.Seq]
			if !ok {
				g = &ChangeGroup{Seq: c.Seq, Kind: c.Kind, Summary: c.Summary(), Staged: c.Staged}
				bySeq[c.Seq] = g
				index[c.Seq] = map[string]int{}
			}
			k := variantKey(c)
			i, ok := index[c.Seq][k]
			if !ok {
				i = len(g.Variants)
				index[c.Seq][k] = i
				g.Variants = append(g.Variants, Variant{Change: c})
			}
			g.Variants[i].Hosts = append(g.Variants[i].Hosts, hp.Name)
		}
	}
	for _, g := range bySeq {
		sort.SliceStable(g.Variants, func(i, j int) bool { return len(g.Variants[i].Hosts) > len(g.Variants[j].Hosts) })
		groups = append(groups, *g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Seq < groups[j].Seq })
	return groups, failed
}

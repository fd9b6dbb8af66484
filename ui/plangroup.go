package ui

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

// changeGroup is one distinct effect of an entry and the hosts it has:
// identical diffs across hosts collapse into one group.
type changeGroup struct {
	change engine.Change
	hosts  []string
}

// entryGroups is one entry of a plan with its distinct effects, the most
// common first so the odd ones out stand apart below it.
type entryGroups struct {
	seq     uint64
	kind    journal.Kind
	summary string
	staged  bool
	groups  []changeGroup
}

// errGroup is hosts that could not be planned for the same reason.
type errGroup struct {
	err   string
	hosts []string
}

// planGroups is a plan arranged for review.
type planGroups struct {
	entries  []entryGroups
	errs     []errGroup
	upToDate []string
	change   int // hosts with something to do
}

// changeKey is what makes two hosts' changes "the same" for review.
type changeKey struct {
	effect                       engine.Effect
	diff                         string
	binary                       bool
	oldHash, newHash             string
	oldMode, newMode             string
	oldOwner, newOwner, err, grd string
}

func keyOf(c engine.Change) changeKey {
	return changeKey{c.Effect, c.Diff, c.Binary, c.OldHash, c.NewHash, c.OldMode, c.NewMode, c.OldOwner, c.NewOwner, c.Err, c.Guard}
}

// fingerprintRE matches SSH key fingerprints, which differ per host.
var fingerprintRE = regexp.MustCompile(`SHA256:[A-Za-z0-9+/=]{8,}`)

// generalise takes what is particular to one host out of an error — its
// address, name, id, key fingerprint — so the same failure on forty hosts
// reads as one line with "×40".
func generalise(err string, h engine.HostPlan) string {
	if err == "" {
		return ""
	}
	for _, s := range []struct{ v, as string }{{h.Addr, "‹addr›"}, {h.Name, "‹host›"}, {h.HostID, "‹id›"}} {
		if s.v != "" {
			err = strings.ReplaceAll(err, s.v, s.as)
		}
	}
	return fingerprintRE.ReplaceAllString(err, "SHA256:‹key›")
}

// groupPlan collapses a plan's per-host changes into per-entry groups.
func groupPlan(p *engine.Plan) planGroups {
	var g planGroups
	bySeq := map[uint64]*entryGroups{}
	index := map[uint64]map[changeKey]int{}
	errIdx := map[string]int{}
	for _, h := range p.Hosts {
		name := h.Name
		if name == "" {
			name = h.HostID
		}
		if h.Err != "" {
			e := generalise(h.Err, h)
			i, ok := errIdx[e]
			if !ok {
				i = len(g.errs)
				errIdx[e] = i
				g.errs = append(g.errs, errGroup{err: e})
			}
			g.errs[i].hosts = append(g.errs[i].hosts, name)
			continue
		}
		if h.Pending() == 0 {
			g.upToDate = append(g.upToDate, name)
		} else {
			g.change++
		}
		for _, c := range h.Changes {
			e := bySeq[c.Seq]
			if e == nil {
				e = &entryGroups{seq: c.Seq, kind: c.Kind, summary: c.Summary(), staged: c.Staged}
				bySeq[c.Seq] = e
				index[c.Seq] = map[changeKey]int{}
			}
			c.Err = generalise(c.Err, h)
			k := keyOf(c)
			i, ok := index[c.Seq][k]
			if !ok {
				i = len(e.groups)
				index[c.Seq][k] = i
				e.groups = append(e.groups, changeGroup{change: c})
			}
			e.groups[i].hosts = append(e.groups[i].hosts, name)
		}
	}
	for _, e := range bySeq {
		for i := range e.groups {
			slices.Sort(e.groups[i].hosts)
		}
		slices.SortStableFunc(e.groups, func(a, b changeGroup) int {
			if c := cmp.Compare(len(b.hosts), len(a.hosts)); c != 0 {
				return c
			}
			return cmp.Compare(a.hosts[0], b.hosts[0])
		})
		g.entries = append(g.entries, *e)
	}
	slices.SortFunc(g.entries, func(a, b entryGroups) int { return cmp.Compare(a.seq, b.seq) })
	for i := range g.errs {
		slices.Sort(g.errs[i].hosts)
	}
	slices.SortStableFunc(g.errs, func(a, b errGroup) int { return cmp.Compare(len(b.hosts), len(a.hosts)) })
	slices.Sort(g.upToDate)
	return g
}

package engine

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
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

// ErrorGroup is hosts that could not be planned for the same reason.
type ErrorGroup struct {
	// Err is the reason with what is particular to each host (address,
	// name, id, key fingerprint) replaced by a ‹placeholder›.
	Err string `json:"error"`
	// First is the error of the first host listed, word for word.
	First string   `json:"first"`
	Hosts []string `json:"hosts"`
}

// Review is a plan arranged for review. Both faces render it, so the TUI,
// `--batch plan` and its JSON group the same plan the same way.
type Review struct {
	Entries  []ChangeGroup `json:"entries"`    // in sequence order
	Failed   []ErrorGroup  `json:"failed"`     // largest first
	UpToDate []string      `json:"up_to_date"` // hosts with nothing to do
	Changing int           `json:"changing"`   // hosts with something to do
}

// FailedHosts counts the hosts that could not be planned.
func (r Review) FailedHosts() int {
	n := 0
	for _, g := range r.Failed {
		n += len(g.Hosts)
	}
	return n
}

// fingerprintRE matches SSH key fingerprints, which differ per host.
var fingerprintRE = regexp.MustCompile(`SHA256:[A-Za-z0-9+/=]{8,}`)

// generalise takes what is particular to one host out of an error — its
// address, name, id, key fingerprint — so the same failure on forty hosts
// groups as one.
func generalise(err string, h HostPlan) string {
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

// variantKey is what makes two hosts' changes "the same": every field of
// the change, with the host-particular parts of its error generalised. It
// is the change's JSON, so a field added to Change takes part by itself.
func variantKey(c Change, h HostPlan) string {
	c.Err = generalise(c.Err, h)
	b, err := json.Marshal(c)
	if err != nil { // a struct of strings, numbers and slices of them
		panic(err)
	}
	return string(b)
}

// GroupPlan arranges a plan for review: per entry in sequence order, its
// distinct effects with the hosts of each (largest first, hosts in natural
// order), then the hosts that could not be planned, grouped by reason.
func GroupPlan(p *Plan) Review {
	var b ReviewBuilder
	for _, h := range p.Hosts {
		b.Add(h)
	}
	return b.Review()
}

// ReviewBuilder groups a plan host by host as the hosts answer (from
// PlanHostEvents), so a face can show the review growing: adding a host
// costs that host's changes, never a regrouping of the others.
type ReviewBuilder struct {
	r      Review
	bySeq  map[uint64]*ChangeGroup
	index  map[uint64]map[string]int
	errIdx map[string]int
	own    map[string]string // host name → its error, for ErrorGroup.First
	hosts  int
}

// Hosts counts the hosts added.
func (b *ReviewBuilder) Hosts() int { return b.hosts }

// Add groups one host's plan in.
func (b *ReviewBuilder) Add(h HostPlan) {
	if b.bySeq == nil {
		b.bySeq, b.index, b.errIdx, b.own = map[uint64]*ChangeGroup{}, map[uint64]map[string]int{}, map[string]int{}, map[string]string{}
	}
	b.hosts++
	r := &b.r
	name := orDefault(h.Name, h.HostID)
	if h.Err != "" {
		key := generalise(h.Err, h)
		i, ok := b.errIdx[key]
		if !ok {
			i = len(r.Failed)
			b.errIdx[key] = i
			r.Failed = append(r.Failed, ErrorGroup{Err: key})
		}
		b.own[name] = h.Err
		r.Failed[i].Hosts = insertSorted(r.Failed[i].Hosts, name)
		return
	}
	if h.Pending() == 0 {
		r.UpToDate = insertSorted(r.UpToDate, name)
	} else {
		r.Changing++
	}
	for _, c := range h.Changes {
		g := b.bySeq[c.Seq]
		if g == nil {
			g = &ChangeGroup{Seq: c.Seq, Kind: c.Kind, Summary: c.Summary(), Staged: c.Staged}
			b.bySeq[c.Seq] = g
			b.index[c.Seq] = map[string]int{}
		}
		k := variantKey(c, h)
		i, ok := b.index[c.Seq][k]
		if !ok {
			i = len(g.Variants)
			b.index[c.Seq][k] = i
			g.Variants = append(g.Variants, Variant{Change: c})
		}
		g.Variants[i].Hosts = insertSorted(g.Variants[i].Hosts, name)
	}
}

// insertSorted keeps a host list in natural order as names arrive.
func insertSorted(hosts []string, name string) []string {
	i, _ := slices.BinarySearchFunc(hosts, name, NaturalCompare)
	return slices.Insert(hosts, i, name)
}

// Review is the review of the hosts added so far: entries in sequence
// order, each entry's variants largest first. It copies only the group
// headers and variant lists, not the changes' diffs.
func (b *ReviewBuilder) Review() Review {
	r := Review{Changing: b.r.Changing, UpToDate: slices.Clone(b.r.UpToDate)}
	for _, g := range b.bySeq {
		cg := *g
		cg.Variants = slices.Clone(g.Variants)
		for i := range cg.Variants { // Add inserts into the builder's own lists
			cg.Variants[i].Hosts = slices.Clone(cg.Variants[i].Hosts)
		}
		slices.SortStableFunc(cg.Variants, func(a, b Variant) int {
			if c := cmp.Compare(len(b.Hosts), len(a.Hosts)); c != 0 {
				return c
			}
			return NaturalCompare(a.Hosts[0], b.Hosts[0])
		})
		r.Entries = append(r.Entries, cg)
	}
	slices.SortFunc(r.Entries, func(a, b ChangeGroup) int { return cmp.Compare(a.Seq, b.Seq) })
	r.Failed = slices.Clone(b.r.Failed)
	for i := range r.Failed {
		r.Failed[i].Hosts = slices.Clone(r.Failed[i].Hosts)
		r.Failed[i].First = b.own[r.Failed[i].Hosts[0]]
	}
	slices.SortStableFunc(r.Failed, func(a, b ErrorGroup) int { return cmp.Compare(len(b.Hosts), len(a.Hosts)) })
	return r
}

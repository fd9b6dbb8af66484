package engine

import (
	"fmt"
	"strings"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// simulate replays pending entries in memory against the probed host state
// and predicts each one's effect, through each entry's kind. staged
// entries are those with seq > committed. Exec entries take their effect
// from the host's sandbox (sb); the paths it saw them change are added to
// fp, so a push refuses the host if they move.
func simulate(pending []journal.Entry, res *remote.ProbeResult, content map[uint64][]byte, renderErr map[uint64]string, old map[string][]byte, committed int, sb sandboxOutcome, fp *Fingerprint, sec secretSim) []Change {
	h := kinds.NewHost(res, old)
	h.Sandbox, h.NotSimulated, h.NoopTimeout, h.NoopSpace = sb.res, sb.reason, sb.timeout, sb.space
	h.NoopOutput, h.NoopProcs = sb.output, sb.procs
	defer bind(h, fp)
	changes := make([]Change, 0, len(pending))
	for _, en := range pending {
		var c Change
		if msg, bad := renderErr[en.Seq]; bad {
			c = Change{Path: en.Path, Command: en.Command, Effect: EffectError, Err: msg}
		} else if k, ok := kinds.Lookup(en.Kind); ok {
			c = k.Simulate(en, content[en.Seq], h)
		} else { // verification refuses unknown kinds before a plan
			c = Change{Effect: EffectError, Err: fmt.Sprintf("unknown entry kind %q", en.Kind)}
		}
		c.Seq, c.Staged, c.Kind = en.Seq, en.Seq > uint64(committed), en.Kind
		sec.mask(en, &c)
		changes = append(changes, c)
	}
	return changes
}

// secretSim is what a simulation must hide: which entries install secret
// content on the host, which paths hold secret content as it goes, and
// the host's secret values to scrub from what the sandbox reports.
type secretSim struct {
	entry map[uint64]bool
	paths map[string]bool
	host  hostSecrets
}

// mask hides secret content in c, the change of en, and moves the
// simulation's secret paths on. A diff at a path is masked when the
// content before or after it is secret.
func (s secretSim) mask(en journal.Entry, c *Change) {
	if en.Path != "" && (s.entry[en.Seq] || s.paths[en.Path]) {
		kinds.MaskSecret(c)
	}
	switch en.Kind {
	case journal.KindFile, journal.KindTemplate:
		s.paths[en.Path] = s.entry[en.Seq]
	case journal.KindRemove:
		s.paths[en.Path] = false
	}
	for i := range c.Files {
		if s.paths[c.Files[i].Path] {
			kinds.MaskSecretFile(&c.Files[i])
		}
		c.Files[i].Diff = s.host.redact(c.Files[i].Diff)
	}
	c.Output, c.Err = s.host.redact(c.Output), s.host.redact(c.Err)
}

// templateVars is what a template sees: the host's classification
// variables, plus facts it cannot override by accident.
func templateVars(cls map[string]string, h store.Host, res *remote.ProbeResult, branch string) map[string]string {
	return withFacts(cls, hostFacts(h, res, branch))
}

// hostFacts are the facts a template sees besides the classification.
func hostFacts(h store.Host, res *remote.ProbeResult, branch string) map[string]string {
	return map[string]string{"HOSTNAME": res.Facts.Hostname, "MACHINE_ID": res.Facts.MachineID,
		"ADDR": h.Addr, "BRANCH": branch, "OS": res.Facts.OS}
}

// withFacts is the classification variables with the facts each does not set.
func withFacts(cls, facts map[string]string) map[string]string {
	v := map[string]string{}
	for k, x := range cls {
		v[k] = x
	}
	for k, x := range facts {
		if _, ok := v[k]; !ok {
			v[k] = x
		}
	}
	return v
}

// hostEnv is what exec entries and guards see of a host's variables: its
// classification variables that can be environment variables.
func hostEnv(cls map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range cls {
		if remote.ValidEnvName(k) && strings.IndexByte(v, 0) < 0 {
			env[k] = v
		}
	}
	return env
}

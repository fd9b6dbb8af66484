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
func simulate(pending []journal.Entry, res *remote.ProbeResult, content map[uint64][]byte, renderErr map[uint64]string, old map[string][]byte, committed int, sb sandboxOutcome, fp *Fingerprint) []Change {
	h := kinds.NewHost(res, old)
	h.Sandbox, h.NotSimulated, h.NoopTimeout, h.NoopSpace = sb.res, sb.reason, sb.timeout, sb.space
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
		changes = append(changes, c)
	}
	return changes
}

// templateVars is what a template sees: the host's classification
// variables, plus facts it cannot override by accident.
func templateVars(cls map[string]string, h store.Host, res *remote.ProbeResult, branch string) map[string]string {
	v := map[string]string{}
	for k, x := range cls {
		v[k] = x
	}
	set := func(k, x string) {
		if _, ok := v[k]; !ok {
			v[k] = x
		}
	}
	set("HOSTNAME", res.Facts.Hostname)
	set("MACHINE_ID", res.Facts.MachineID)
	set("ADDR", h.Addr)
	set("BRANCH", branch)
	set("OS", res.Facts.OS)
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

package classify

import "fmt"

// A netboot machine file (engine/machines) may give the branch of the
// machine with its MAC. The classification file may name that MAC too
// (a "mac:" stanza). There is one answer per machine: the machine file's
// branch is the host's BRANCH, as if its mac: stanza said so, and a mac:
// stanza that sets another BRANCH is refused (both places named).

// machineBranch is the branch a machine file gives a MAC.
type machineBranch struct {
	branch string
	where  string // the machine file
}

// AddMachine says that the host bound to mac is the machine of file
// where, on branch (nothing to add when branch is ""). It refuses a
// branch other than the one the file's mac: stanza for that MAC sets.
func (c *Config) AddMachine(mac, branch, where string) error {
	if branch == "" {
		return nil
	}
	m, bad := NormalizeMAC(mac)
	if bad != "" {
		return fmt.Errorf("%s: MAC %q: %s", where, mac, bad)
	}
	target := macPrefix + m
	for _, s := range c.stanzas {
		if !s.identity || s.target != target {
			continue
		}
		var got Classification
		got.Vars, got.From = map[string]string{}, map[string]string{}
		c.apply(s, &got)
		if b, ok := got.Vars["BRANCH"]; ok && b != branch {
			return fmt.Errorf("%s puts machine %s on branch %s but %s (stanza %s) says BRANCH = %s; say a machine's branch in one place: remove one (machine edit NAME --branch none, or the BRANCH line)",
				where, m, branch, got.From["BRANCH"], target, b)
		}
	}
	if c.machines == nil {
		c.machines = map[string]machineBranch{}
	}
	c.machines[target] = machineBranch{branch: branch, where: where}
	return nil
}

// machineOf applies the machine file's branch to a host's classification.
func (c *Config) machineOf(h Host, out *Classification) {
	mac, _ := identityOf(h)
	if mb, ok := c.machines[mac]; ok && mac != "" {
		out.Vars["BRANCH"], out.From["BRANCH"] = mb.branch, mb.where
		if out.Stanza == "" {
			out.Stanza, out.Where = mac, mb.where
		}
	}
}

package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/discoterm/discoterm/engine/classify"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// A host's identity is the SSH host key it was trusted with. Machine-id
// and MAC help find it but prove nothing: clones share machine-ids, and
// anyone on the link can answer with any MAC. So:
//
//   - a host presenting a key a trusted host holds is that host;
//   - a key accepted on first use (--accept-new) that claims the
//     machine-id or MAC of a trusted host with another key is refused
//     like a changed key;
//   - a key the operator trusted explicitly (known_hosts, T, trust) that
//     shares a machine-id with another host is a clone: a host of its own,
//     with a duplicate machine-id warning on both, never merged.

// identify finds the host record a probe result belongs to, or makes a new
// one. tofu says the key was accepted on first use, not explicitly.
func identify(tx store.Tx, res *remote.ProbeResult, addr, mac string, tofu bool) (store.Host, bool, error) {
	hosts, err := tx.Hosts()
	if err != nil {
		return store.Host{}, false, err
	}
	fp := res.HostKey
	if fp != "" {
		for _, h := range hosts {
			if h.Trusted && h.HostKey == fp {
				return h, true, nil
			}
		}
	}
	mid := res.Facts.MachineID
	for _, h := range hosts {
		if !h.Trusted {
			continue
		}
		sameMID := mid != "" && h.MachineID == mid
		sameMAC := mac != "" && h.MAC == mac
		if !sameMID && !sameMAC {
			continue
		}
		if h.HostKey == "" && sameMID && h.ID == "mid:"+mid {
			return h, true, nil // recorded before keys were bound
		}
		if tofu && fp != "" {
			claim := "machine-id " + mid
			if !sameMID {
				claim = "MAC " + mac
			}
			return store.Host{}, false, &remote.HostKeyError{Host: addr, Name: displayName(h), Presented: fp,
				Known: []string{h.HostKey}, Changed: true, Bound: true,
				Why: fmt.Sprintf("the host at %s claims %s's %s", addr, displayName(h), claim)}
		}
	}
	id := hostID(res.Facts, fp, addr)
	for _, h := range hosts {
		if h.ID == id && fp != "" {
			id = "key:" + fp // a clone: the machine-id is taken
			break
		}
	}
	return store.Host{ID: id}, false, nil
}

// hostWarnings says what is doubtful about each host: machine-ids shared
// by several hosts (clones, or a host claiming to be another), and hosts
// that call themselves something else than when they were trusted.
func hostWarnings(hosts []store.Host) map[string][]string {
	byMID := map[string][]store.Host{}
	for _, h := range hosts {
		if h.Trusted && h.MachineID != "" {
			byMID[h.MachineID] = append(byMID[h.MachineID], h)
		}
	}
	out := map[string][]string{}
	for mid, hs := range byMID {
		if len(hs) < 2 {
			continue
		}
		for _, h := range hs {
			var others []string
			for _, o := range hs {
				if o.ID != h.ID {
					others = append(others, displayName(o))
				}
			}
			sort.Strings(others)
			out[h.ID] = append(out[h.ID], fmt.Sprintf("duplicate machine-id %s: also on %s (a clone, or a host claiming to be another); each is a host of its own by its SSH key", mid, strings.Join(others, ", ")))
		}
	}
	for _, h := range hosts {
		if h.HostnameNow != "" && h.Hostname != "" && h.HostnameNow != h.Hostname {
			out[h.ID] = append(out[h.ID], fmt.Sprintf("calls itself %s now (was %s when trusted); still classified as %s", h.HostnameNow, h.Hostname, displayName(h)))
		}
		if h.MachineIDNow != "" && h.MachineID != "" && h.MachineIDNow != h.MachineID {
			out[h.ID] = append(out[h.ID], fmt.Sprintf("reports machine-id %s now (was %s when trusted); still classified by %s", h.MachineIDNow, h.MachineID, h.MachineID))
		}
		if h.BoundMAC != "" && h.MAC != "" && !strings.EqualFold(h.MAC, h.BoundMAC) {
			out[h.ID] = append(out[h.ID], fmt.Sprintf("answers from MAC %s now (was %s when trusted); still classified by %s", h.MAC, h.BoundMAC, h.BoundMAC))
		}
	}
	return out
}

// classHost is what the classification file may match a host by: the
// operator's name for it, and the MAC and machine-id bound to its trusted
// key. An untrusted host (a scan placeholder: anyone can claim a MAC) is
// matched by name alone.
func classHost(h store.Host) classify.Host {
	short, fqdn := hostNames(h.Name)
	ch := classify.Host{Name: short, FQDN: fqdn}
	if h.Trusted && h.HostKey != "" {
		ch.MAC, ch.MachineID = h.BoundMAC, h.MachineID
		if ch.MAC == "" {
			ch.MAC = h.MAC // recorded before MACs were bound
		}
	}
	return ch
}

// emitDuplicates tells about the other hosts that share h's machine-id,
// now that h joined them: the warning is on both.
func (e *Engine) emitDuplicates(h store.Host) {
	if h.MachineID == "" {
		return
	}
	var others []store.Host
	_ = e.opts.Store.View(func(tx store.Tx) error {
		hosts, err := tx.Hosts()
		for _, o := range hosts {
			if o.Trusted && o.ID != h.ID && o.MachineID == h.MachineID {
				others = append(others, o)
			}
		}
		return err
	})
	for _, o := range others {
		e.emitHost(o, HostUpdated, LevelWarn, fmt.Sprintf("%s shares its machine-id with %s", displayName(o), displayName(h)))
	}
}

package engine

import (
	"fmt"

	"github.com/discoterm/discoterm/store"
)

// TrustCandidate is a host offered for trust by accepting the key it
// offers: trust --all-scanned and the console's T on a selection list
// these, and trust only those not Refused, each through TrustHost.
type TrustCandidate struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Addr        string `json:"addr"`
	MAC         string `json:"mac,omitempty"`
	MachineID   string `json:"machine_id,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"` // the key it offers (SHA256:…)
	// Refused says why the host must not be trusted this way ("" when it
	// may): a key that changed, a claim on a trusted host's identity, a
	// host trusted already, or one that offered no key.
	Refused string `json:"refused,omitempty"`
}

// TrustCandidates lists selected for trust in bulk, each with why it is
// refused, if it is; all is every host (a claim on a trusted host's MAC is
// checked against them). Order is kept.
func TrustCandidates(selected, all []HostView) []TrustCandidate {
	hosts := make([]store.Host, len(all))
	for i, h := range all {
		hosts[i] = h.Host
	}
	out := make([]TrustCandidate, 0, len(selected))
	for _, v := range selected {
		h := v.Host
		c := TrustCandidate{ID: h.ID, Name: displayName(h), Addr: h.Addr, MAC: h.MAC, MachineID: h.MachineID, Fingerprint: h.HostKey}
		c.Refused = identityRefusal(h, hosts)
		if c.Refused == "" && h.HostKey == "" {
			// A changed key is recorded without a fingerprint to accept,
			// and with the refusal (both keys) as the host's error.
			c.Refused = "it offered no key that can be accepted"
			if h.LastError != "" {
				c.Refused += ": " + h.LastError
			}
		}
		out = append(out, c)
	}
	return out
}

// identityRefusal says why accepting the key h offers would be wrong
// whatever the key: h is trusted already (a different key answering for
// it is an impostor, not a new key), or h answers from the MAC a trusted
// host was bound with — a claim on its identity, refused like a changed
// key. "" when neither.
func identityRefusal(h store.Host, all []store.Host) string {
	if h.Trusted {
		s := "trusted already, bound to key " + h.HostKey
		if h.LastError != "" {
			s += " (last error: " + h.LastError + ")"
		}
		return s
	}
	if h.MAC == "" {
		return ""
	}
	for _, o := range all {
		if o.Trusted && o.ID != h.ID && (o.BoundMAC == h.MAC || o.MAC == h.MAC) {
			return fmt.Sprintf("it answers from MAC %s, which %s was trusted at with key %s: an impostor or a man-in-the-middle; refusing, like a changed key", h.MAC, displayName(o), o.HostKey)
		}
	}
	return ""
}

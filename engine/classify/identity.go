package classify

import (
	"fmt"
	"strings"
)

// Host is what a host is known by when it is classified. MAC and
// MachineID must be what the engine bound to the host's trusted SSH key,
// never what the host reports later: a stanza with a MAC or machine-id
// target can hold a host's secrets.
type Host struct {
	Name      string // short or fully qualified; the operator's name for the host
	FQDN      string // may be empty
	MAC       string // any case, ':' or '-' separated; "" when unknown
	MachineID string // 32 hex digits; "" when unknown
}

// Identity targets name a host by what it is rather than what it is
// called: "mac:52:54:00:12:34:56" or "machine-id:<32 hex digits>".
const (
	macPrefix = "mac:"
	midPrefix = "machine-id:"
)

// identityTarget reports whether target is written as an identity target
// and, if so, its canonical form ("mac:52:54:00:12:34:56", lower case
// with colons; "machine-id:" and 32 lower-case hex digits) or what is
// wrong with it.
func identityTarget(target string) (canon string, ok bool, msg string) {
	lower := strings.ToLower(target)
	switch {
	case strings.HasPrefix(lower, macPrefix):
		mac, err := NormalizeMAC(target[len(macPrefix):])
		if err != "" {
			return "", true, fmt.Sprintf("target %q is not a MAC address: %s; expected mac: and six two-digit hex bytes separated by ':' or '-', e.g. mac:52:54:00:12:34:56", target, err)
		}
		return macPrefix + mac, true, ""
	case strings.HasPrefix(lower, midPrefix):
		mid, err := NormalizeMachineID(target[len(midPrefix):])
		if err != "" {
			return "", true, fmt.Sprintf("target %q is not a machine-id: %s; expected machine-id: and the 32 hex digits of the host's /etc/machine-id", target, err)
		}
		return midPrefix + mid, true, ""
	}
	return "", false, ""
}

// NormalizeMAC returns an Ethernet MAC address in lower case with ':'
// separators, or what is wrong with it.
func NormalizeMAC(s string) (string, string) {
	if s == "" {
		return "", "it is empty"
	}
	sep := ":"
	if strings.Contains(s, "-") {
		sep = "-"
	}
	parts := strings.Split(s, sep)
	if len(parts) != 6 {
		return "", fmt.Sprintf("it has %d parts, not 6", len(parts))
	}
	for i, p := range parts {
		if len(p) != 2 || !isHex(p) {
			return "", fmt.Sprintf("part %d (%q) is not two hex digits", i+1, p)
		}
		parts[i] = strings.ToLower(p)
	}
	return strings.Join(parts, ":"), ""
}

// NormalizeMachineID returns a machine-id in lower case, or what is wrong
// with it.
func NormalizeMachineID(s string) (string, string) {
	switch {
	case len(s) != 32:
		return "", fmt.Sprintf("it has %d characters, not 32", len(s))
	case !isHex(s):
		return "", "it has a character that is not a hex digit"
	}
	return strings.ToLower(s), ""
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// identityOf is the host's identity targets, canonical: the ones an
// identity stanza is compared with.
func identityOf(h Host) (mac, mid string) {
	if m, bad := NormalizeMAC(strings.TrimSpace(h.MAC)); bad == "" {
		mac = macPrefix + m
	}
	if m, bad := NormalizeMachineID(strings.TrimSpace(h.MachineID)); bad == "" {
		mid = midPrefix + m
	}
	return mac, mid
}

// identityHeader makes s an identity stanza when its target is one,
// reporting whether it is (msg says what is wrong with a malformed one).
func identityHeader(s *stanza, msg *string) bool {
	canon, ok, bad := identityTarget(s.target)
	if !ok {
		return false
	}
	*msg = bad
	s.target, s.identity = canon, true
	return true
}

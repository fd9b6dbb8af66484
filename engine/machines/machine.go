// Package machines keeps the machines that netboot provisioning knows:
// one small text file per machine in a directory the operator can keep in
// git (PXElator's "a machine is its MAC and IP address and some optional
// parameters"). A file is lines of "key value"; "#" starts a comment.
//
//	# discoterm machine
//	mac 52:54:00:12:34:56
//	name web7
//	ip 10.0.0.7
//	branch web
//	boot debian
//
// The package knows no network service: it parses, checks and writes the
// files; engine/provision reads them.
package machines

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Machine is one registered machine.
type Machine struct {
	MAC    net.HardwareAddr // required: the key DHCP answers by
	Name   string           // required: hostname, also the file's name
	IP     netip.Addr       // optional fixed IPv4 address
	Branch string           // optional branch it joins once it is up
	Boot   string           // optional boot profile
	File   string           // the file it was read from ("" before it is written)
}

// Ext is the extension of a machine file.
const Ext = ".machine"

// MaxFileSize caps a machine file: it holds five short lines.
const MaxFileSize = 4096

// Keys are the keys a machine file may hold, in the order they are written.
var Keys = []string{"mac", "name", "ip", "branch", "boot"}

// ParseError is a machine file line that is refused: where, what, and what
// to do.
type ParseError struct {
	File string
	Line int // 0: the file as a whole
	What string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.What)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.What)
}

// Parse reads one machine file; file names it in errors.
func Parse(file string, data []byte) (Machine, error) {
	m := Machine{File: file}
	if len(data) > MaxFileSize {
		return m, &ParseError{File: file, What: fmt.Sprintf("%d bytes is too large for a machine file (at most %d); it should hold only the keys %s", len(data), MaxFileSize, strings.Join(Keys, ", "))}
	}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		bad := func(format string, args ...any) error {
			return &ParseError{File: file, Line: n, What: fmt.Sprintf(format, args...)}
		}
		if prev, ok := seen[key]; ok {
			return m, bad("%q given twice (first on line %d); keep one", key, prev)
		}
		seen[key] = n
		if val == "" {
			return m, bad("%q has no value; write it as \"%s VALUE\"", key, key)
		}
		var err error
		switch key {
		case "mac":
			m.MAC, err = ParseMAC(val)
		case "name":
			err = CheckName(val)
			m.Name = val
		case "ip":
			m.IP, err = ParseIPv4(val)
		case "branch":
			err = checkWord("branch", val)
			m.Branch = val
		case "boot":
			err = checkWord("boot profile", val)
			m.Boot = val
		default:
			return m, bad("unknown key %q; the keys are %s", key, strings.Join(Keys, ", "))
		}
		if err != nil {
			return m, bad("%v", err)
		}
	}
	if err := sc.Err(); err != nil {
		return m, &ParseError{File: file, What: err.Error()}
	}
	for _, k := range []string{"mac", "name"} {
		if _, ok := seen[k]; !ok {
			return m, &ParseError{File: file, What: fmt.Sprintf("no %q line; every machine file needs \"mac MAC\" and \"name NAME\"", k)}
		}
	}
	return m, nil
}

// Format is the machine's file content; Parse(Format(m)) gives m back.
func Format(m Machine) []byte {
	var b bytes.Buffer
	b.WriteString("# discoterm machine (see README: Netboot)\n")
	fmt.Fprintf(&b, "mac %s\n", m.MAC)
	fmt.Fprintf(&b, "name %s\n", m.Name)
	if m.IP.IsValid() {
		fmt.Fprintf(&b, "ip %s\n", m.IP)
	}
	if m.Branch != "" {
		fmt.Fprintf(&b, "branch %s\n", m.Branch)
	}
	if m.Boot != "" {
		fmt.Fprintf(&b, "boot %s\n", m.Boot)
	}
	return b.Bytes()
}

// ParseMAC accepts a 6-byte Ethernet address (aa:bb:cc:dd:ee:ff or with
// dashes), the only kind DHCP for PXE hands out leases to.
func ParseMAC(s string) (net.HardwareAddr, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return nil, fmt.Errorf("%q is not an Ethernet MAC address; write it as 52:54:00:12:34:56", s)
	}
	if hw[0]&1 == 1 {
		return nil, fmt.Errorf("%s is a multicast address, not a machine's; check the MAC on the machine's label or its firmware screen", hw)
	}
	return hw, nil
}

// ParseIPv4 accepts the fixed IPv4 address DHCP hands the machine.
func ParseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address; DHCPv4 hands out addresses like 10.0.0.7", s)
	}
	if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Addr{}, fmt.Errorf("%s cannot be a machine's address; give a unicast address on the boot network", a)
	}
	return a, nil
}

// CheckName accepts a hostname label: it is the machine's hostname and the
// file's name, so it may hold only a-z, 0-9 and inner "-".
func CheckName(s string) error {
	ok := len(s) >= 1 && len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-'
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("name %q is not a hostname; use 1 to 63 of a-z, 0-9 and inner '-', e.g. web7", s)
	}
	return nil
}

func checkWord(what, s string) error {
	ok := len(s) <= 64
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			ok = false
		}
	}
	if !ok || s == "." || s == ".." {
		return fmt.Errorf("%s %q: use up to 64 of letters, digits, '-', '_' and '.'", what, s)
	}
	return nil
}

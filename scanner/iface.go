package scanner

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Errors about interfaces. An *InterfaceError wraps one of them, so callers can test with
// errors.Is and still show the full message, which names the interface and what to do.
var (
	ErrNoSuchInterface = errors.New("no such interface")
	ErrInterfaceDown   = errors.New("interface is down")
	ErrNoLinkLocal     = errors.New("no usable IPv6 link-local address")
	ErrNotMulticast    = errors.New("interface cannot send multicast")
	ErrLoopback        = errors.New("loopback interface")
	ErrBridgePort      = errors.New("interface is a port of another interface")
	// ErrNoInterfaces: no interface was named and none qualifies.
	ErrNoInterfaces = errors.New("no interface to scan")
)

// InterfaceError says why one interface cannot be scanned and what to do about it.
type InterfaceError struct {
	Name string
	Err  error  // one of the Err* values above
	Why  string // detail, e.g. "IPv6 is disabled on it"
	Hint string // what to do
}

// problemPhrases say the Err* values after an interface name.
var problemPhrases = map[error]string{
	ErrNoSuchInterface: "does not exist",
	ErrInterfaceDown:   "is down",
	ErrNoLinkLocal:     "has no usable IPv6 link-local address",
	ErrNotMulticast:    "cannot send multicast",
	ErrLoopback:        "is a loopback interface",
	ErrBridgePort:      "is a port of another interface",
}

func (e *InterfaceError) Error() string {
	phrase, ok := problemPhrases[e.Err]
	if !ok {
		phrase = e.Err.Error()
	}
	msg := fmt.Sprintf("scanner: interface %q %s", e.Name, phrase)
	if e.Why != "" {
		msg += " (" + e.Why + ")"
	}
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

func (e *InterfaceError) Unwrap() error { return e.Err }

// InterfaceInfo describes one network interface as a scan candidate.
type InterfaceInfo struct {
	Name      string
	Index     int
	MAC       string
	LinkLocal []netip.Addr // usable (not tentative) IPv6 link-local addresses, zoned
	// Usable: the default selection (no interface named) scans it.
	Usable bool
	// Problem is nil when Usable, else an *InterfaceError saying why not.
	Problem error
}

// Interfaces lists every network interface with the reason, if any, why the scanner would
// leave it out by default. The default is every up, multicast-capable, non-loopback
// interface with an IPv6 link-local address that is not a port of a bridge or bond.
func Interfaces() ([]InterfaceInfo, error) {
	links, err := netlink.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("scanner: listing interfaces: %w", err)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V6)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("scanner: listing IPv6 addresses: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	infos := make([]InterfaceInfo, 0, len(links))
	for _, l := range links {
		infos = append(infos, inspect(l.Attrs(), addrs, names))
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Index < infos[j].Index })
	return infos, nil
}

func inspect(a *netlink.LinkAttrs, addrs []netlink.Addr, names map[int]string) InterfaceInfo {
	info := InterfaceInfo{Name: a.Name, Index: a.Index, MAC: a.HardwareAddr.String()}
	var tentative, dadFailed bool
	for _, ad := range addrs {
		if ad.LinkIndex != a.Index || ad.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(ad.IP)
		if !ok || !ip.Is6() || !ip.IsLinkLocalUnicast() {
			continue
		}
		switch {
		case ad.Flags&unix.IFA_F_DADFAILED != 0:
			dadFailed = true
		case ad.Flags&unix.IFA_F_TENTATIVE != 0:
			tentative = true
		default:
			info.LinkLocal = append(info.LinkLocal, ip.WithZone(a.Name))
		}
	}
	problem := func(err error, why, hint string) InterfaceInfo {
		info.Problem = &InterfaceError{Name: a.Name, Err: err, Why: why, Hint: hint}
		return info
	}
	switch {
	case a.Flags&net.FlagLoopback != 0:
		return problem(ErrLoopback, "", "scanning it would find only this machine; leave it out")
	case a.Flags&net.FlagUp == 0:
		return problem(ErrInterfaceDown, "",
			fmt.Sprintf("bring it up with \"ip link set %s up\", or leave it out", a.Name))
	case a.MasterIndex != 0:
		master := names[a.MasterIndex]
		return problem(ErrBridgePort, "enslaved to "+master,
			fmt.Sprintf("replies arrive on %s: scan %s instead", master, master))
	case a.Flags&net.FlagMulticast == 0:
		return problem(ErrNotMulticast, "", "scan a multicast-capable interface instead")
	case len(info.LinkLocal) == 0:
		why, hint := noLinkLocalAdvice(a.Name, tentative, dadFailed)
		return problem(ErrNoLinkLocal, why, hint)
	}
	info.Usable = true
	return info
}

// noLinkLocalAdvice works out why an up interface has no usable link-local address.
func noLinkLocalAdvice(name string, tentative, dadFailed bool) (why, hint string) {
	// sysctl spells a dot in an interface name (VLANs: eth0.100) as a slash.
	key := "net.ipv6.conf." + strings.ReplaceAll(name, ".", "/")
	leave := ", or leave " + name + " out"
	switch {
	case dadFailed:
		return "duplicate address detection failed",
			"another machine on the link uses the same link-local address; fix that" + leave
	case tentative:
		return "its link-local address is still tentative (duplicate address detection)",
			"retry in a few seconds"
	case readSysctl(name, "disable_ipv6") == "1":
		return "IPv6 is disabled on it",
			fmt.Sprintf("enable it with \"sysctl -w %s.disable_ipv6=0\"%s", key, leave)
	case readSysctl(name, "addr_gen_mode") == "1":
		return "addr_gen_mode is 1 (none), so the kernel made no link-local address",
			fmt.Sprintf("set \"sysctl -w %s.addr_gen_mode=0\" and bring the link down and up, or add one with \"ip addr add fe80::…/64 dev %s\"%s", key, name, leave)
	}
	return "", fmt.Sprintf("add one with \"ip addr add fe80::…/64 dev %s\"%s", name, leave)
}

func readSysctl(iface, key string) string {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + iface + "/" + key)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// link is one interface the scanner probes.
type link struct {
	name  string
	index int
	netif *net.Interface // for SetMulticastInterface
}

// chooseLinks resolves the interfaces to scan: the named ones (each must qualify) or, when
// none are named, every usable one.
func chooseLinks(names []string) ([]*link, error) {
	infos, err := Interfaces()
	if err != nil {
		return nil, err
	}
	byName := map[string]InterfaceInfo{}
	for _, in := range infos {
		byName[in.Name] = in
	}
	var chosen []InterfaceInfo
	if len(names) == 0 {
		var why []string
		for _, in := range infos {
			if in.Usable {
				chosen = append(chosen, in)
			} else {
				why = append(why, in.Problem.Error())
			}
		}
		if len(chosen) == 0 {
			return nil, fmt.Errorf("scanner: %w: every interface was left out: %s",
				ErrNoInterfaces, strings.Join(why, "; "))
		}
	} else {
		seen := map[string]bool{}
		var errs []error
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			in, ok := byName[name]
			if !ok {
				in, ok = byIndexName(infos, name)
			}
			switch {
			case !ok:
				errs = append(errs, &InterfaceError{Name: name, Err: ErrNoSuchInterface,
					Hint: usableHint(infos)})
			case in.Problem != nil:
				errs = append(errs, in.Problem)
			default:
				chosen = append(chosen, in)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	links := make([]*link, 0, len(chosen))
	for _, in := range chosen {
		links = append(links, &link{name: in.Name, index: in.Index,
			netif: &net.Interface{Index: in.Index, Name: in.Name}})
	}
	return links, nil
}

// byIndexName accepts a numeric interface index where a name is expected, as zones allow.
func byIndexName(infos []InterfaceInfo, s string) (InterfaceInfo, bool) {
	i, err := strconv.Atoi(s)
	if err != nil {
		return InterfaceInfo{}, false
	}
	for _, in := range infos {
		if in.Index == i {
			return in, true
		}
	}
	return InterfaceInfo{}, false
}

// usableHint names the interfaces that could be scanned instead (not every bridge port).
func usableHint(infos []InterfaceInfo) string {
	var names []string
	for _, in := range infos {
		if in.Usable {
			names = append(names, in.Name)
		}
	}
	if len(names) == 0 {
		return "and no interface here qualifies (\"ip -br link\" lists them)"
	}
	return "interfaces that could be scanned: " + strings.Join(names, ", ")
}

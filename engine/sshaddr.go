package engine

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// SSHAddress is an address as an operator gives it to add-host.
type SSHAddress struct {
	User string // "" when not given
	Host string // IP (with zone) or name, without brackets
	Port int    // 0 when not given
}

// ParseSSHAddress reads the forms every SSH tool takes: HOST, USER@HOST,
// HOST:PORT, USER@HOST:PORT, [V6ADDR], [V6ADDR]:PORT (zone allowed:
// [fe80::1%eth0]:22), a bare IPv6 address, and ssh://[USER@]HOST[:PORT].
func ParseSSHAddress(s string) (SSHAddress, error) {
	in := s
	s = strings.TrimSpace(s)
	var a SSHAddress
	bad := func(why string) (SSHAddress, error) {
		return SSHAddress{}, fmt.Errorf("%w: address %q: %s; give HOST, USER@HOST:PORT, [V6ADDR]:PORT or ssh://USER@HOST:PORT", ErrUsage, in, why)
	}
	if rest, ok := strings.CutPrefix(s, "ssh://"); ok {
		s = strings.TrimSuffix(rest, "/")
		if strings.ContainsAny(s, "/?#") {
			return bad("an ssh:// address has no path")
		}
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		a.User, s = s[:i], s[i+1:]
		if a.User == "" || strings.ContainsAny(a.User, "@:/ \t") {
			return bad("the user name is empty or has @, :, / or blanks")
		}
	}
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return bad("no closing ]")
		}
		a.Host = s[1:end]
		switch rest := s[end+1:]; {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			p, err := parsePort(rest[1:])
			if err != nil {
				return bad(err.Error())
			}
			a.Port = p
		default:
			return bad("unexpected " + strconv.Quote(rest) + " after ]")
		}
	case strings.Count(s, ":") > 1:
		a.Host = s // a bare IPv6 address: no port without brackets
	case strings.Contains(s, ":"):
		h, p, _ := strings.Cut(s, ":")
		port, err := parsePort(p)
		if err != nil {
			return bad(err.Error())
		}
		a.Host, a.Port = h, port
	default:
		a.Host = s
	}
	if a.Host == "" {
		return bad("no host")
	}
	if strings.Contains(a.Host, ":") && net.ParseIP(strings.SplitN(a.Host, "%", 2)[0]) == nil {
		return bad(strconv.Quote(a.Host) + " is not an IPv6 address")
	}
	if strings.ContainsAny(a.Host, " \t/@[]") || strings.HasPrefix(a.Host, "-") {
		return bad(strconv.Quote(a.Host) + " is not a host name or IP address")
	}
	return a, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return n, nil
}

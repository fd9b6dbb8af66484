// Package classify reads the classification file: a plain-text file the
// operator keeps in git that gives every host its variables, BRANCH among
// them. It follows ISconf's main.cf.
//
// # Format
//
//	# A comment runs from # to the end of the line (outside "quotes").
//	DEFAULT:                       # every host gets these first
//	    BRANCH = main
//	    NTPSERVERS = ntp1 ntp2     # unquoted values keep inner spaces
//
//	include sites/lab.cf           # another file, relative to this one
//
//	NET1:                          # a stanza no host is called: used by name
//	    GATEWAY = 10.10.1.1
//
//	scotty: NET1                   # short hostname; applies NET1, then its own
//	    building = 23
//	db1.example.com:               # contains a dot: the FQDN
//	    BRANCH = db
//	^web[0-9]+$:                   # starts with ^: a Go regexp
//	    BRANCH = web
//	^.*:                           # catch-all for every other named host
//	    BRANCH = lab
//	mac:52:54:00:12:34:56:         # the host bound to this MAC (any case, : or -)
//	    BRANCH = db
//	machine-id:0123456789abcdef0123456789abcdef:
//	    BRANCH = db
//	    secret DBPASS = "s3cr3t"   # a secret variable, set here
//	    secret APIKEY              # APIKEY is secret wherever it is set
//	include creds.secret           # every variable set in a *.secret file is secret
//
// A stanza header starts at column 0: a target, then optionally ":" and the
// names of other stanzas to include ("target: NET1 RACK4"). The colon may be
// left out when there are no includes. Variable lines are indented and read
// NAME = value, NAME being [A-Za-z_][A-Za-z0-9_]*; a value is trimmed, or
// written as a Go-quoted string ("two  spaces\t# not a comment").
// "include PATH" at column 0 reads another file in its place.
//
// # Which stanzas apply
//
// As in ISconf, every DEFAULT stanza applies to every host, then the FIRST
// stanza, in file order with included files expanded in place, whose target
// matches the host. Only that one: this is what makes a trailing catch-all
// such as ^.* safe. A stanza first applies the stanzas it includes, in
// order, then its own lines; a variable set later overrides one set earlier.
//
// A target heads one stanza only; a second stanza for it is an error rather
// than a stanza that could never match. DEFAULT is the exception: all DEFAULT
// stanzas apply, in file order.
//
// A target without dots is compared with the short hostname, one with dots
// with the FQDN, exactly (case matters, as in ISconf). A target starting with
// ^ is a regular expression tried on both the FQDN and the short name;
// anchor its end with $ where needed. A host with no name gets DEFAULT only:
// a catch-all must not claim machines nobody has identified.
//
// # Identity targets
//
// "mac:ADDR" and "machine-id:ID" name a host by the MAC address and
// machine-id the engine bound to its trusted SSH key when it was trusted
// (never what it reports later). They are more specific than any name, so
// the first identity stanza, in file order, that matches a host wins over
// every name stanza; only when none matches are names tried, in file
// order. MACs are compared in any case, written with ':' or '-';
// machine-ids are 32 hex digits. Clones share a machine-id: a machine-id
// target classifies every clone of the image.
//
// # Secrets
//
// A variable is secret when a "secret NAME" line (or "secret NAME = value")
// in any stanza names it, or when it is set in a file whose name ends in
// ".secret" (or a file such a file includes). Secret is a property of the
// name, for every host: faces never show its value, and what is rendered
// from it is shown as a hash. BRANCH cannot be secret. A *.secret file
// others can read is refused: its values would not be secret.
package classify

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Config is a parsed classification file. The zero value and nil classify
// every host with no variables.
type Config struct {
	defaults []*stanza          // every DEFAULT stanza, in file order
	stanzas  []*stanza          // every other stanza, in file order
	byTarget map[string]*stanza // for includes by name
	secret   map[string]position
	machines map[string]machineBranch // "mac:…" → a machine file's branch (machines.go)
}

// stanza is one header and its variable lines.
type stanza struct {
	target   string
	re       *regexp.Regexp // for targets starting with ^
	identity bool           // a mac: or machine-id: target, canonical
	includes []string
	vars     []assignment
	pos      position
}

type assignment struct {
	name, value string
	pos         position
}

// position is where a line is, for errors and explanations.
type position struct {
	file string
	line int
}

func (p position) String() string { return p.file + ":" + strconv.Itoa(p.line) }

// Classification is how one host was classified, for faces that explain
// why a host is on its branch.
type Classification struct {
	// Stanza is the target of the stanza that matched, "" when only DEFAULT
	// applied.
	Stanza string
	// Where is the file:line of that stanza's header, "" when none matched.
	Where string
	// Vars are the host's variables.
	Vars map[string]string
	// From gives, for each variable, the file:line of the line that set it.
	From map[string]string
	// Secret names the host's variables whose values are secret.
	Secret map[string]bool
}

// Classify resolves a host's variables by its names only and says where
// each came from. hostname may be short or fully qualified; fqdn may be
// empty.
func (c *Config) Classify(hostname, fqdn string) Classification {
	return c.ClassifyHost(Host{Name: hostname, FQDN: fqdn})
}

// ClassifyHost resolves a host's variables: DEFAULT, then the first
// identity stanza matching its MAC or machine-id, else the first stanza
// matching its name.
func (c *Config) ClassifyHost(h Host) Classification {
	out := Classification{Vars: map[string]string{}, From: map[string]string{}, Secret: map[string]bool{}}
	if c == nil {
		return out
	}
	for _, s := range c.defaults {
		c.apply(s, &out)
	}
	if s := c.match(h); s != nil {
		out.Stanza, out.Where = s.target, s.pos.String()
		c.apply(s, &out)
	}
	c.machineOf(h, &out)
	for name := range out.Vars {
		if _, ok := c.secret[name]; ok {
			out.Secret[name] = true
		}
	}
	return out
}

// match finds the stanza that classifies h: identity targets first, as
// they are more specific than names; file order within each kind.
func (c *Config) match(h Host) *stanza {
	if mac, mid := identityOf(h); mac != "" || mid != "" {
		for _, s := range c.stanzas {
			if s.identity && (s.target == mac || s.target == mid) {
				return s
			}
		}
	}
	short, full := names(h.Name, h.FQDN)
	if short == "" && full == "" {
		return nil
	}
	for _, s := range c.stanzas {
		if !s.identity && s.matches(short, full) {
			return s
		}
	}
	return nil
}

// Vars returns a host's variables: DEFAULT, then the first matching stanza.
func (c *Config) Vars(hostname, fqdn string) map[string]string {
	return c.Classify(hostname, fqdn).Vars
}

// Branch returns the host's BRANCH variable, "" when none is set.
func (c *Config) Branch(hostname, fqdn string) string {
	return c.Vars(hostname, fqdn)["BRANCH"]
}

// Secrets lists every secret variable name of the file, sorted.
func (c *Config) Secrets() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.secret))
	for n := range c.secret {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// apply sets a stanza's variables, after those of the stanzas it includes.
// Parse has resolved every include and refused cycles, so this terminates.
func (c *Config) apply(s *stanza, out *Classification) {
	for _, name := range s.includes {
		if inc := c.byTarget[name]; inc != nil {
			c.apply(inc, out)
		}
	}
	for _, a := range s.vars {
		out.Vars[a.name] = a.value
		out.From[a.name] = a.pos.String()
	}
}

// names derives the short hostname and FQDN from what the caller knows,
// which may be either or both.
func names(hostname, fqdn string) (short, full string) {
	hostname = strings.TrimSuffix(strings.TrimSpace(hostname), ".")
	full = strings.TrimSuffix(strings.TrimSpace(fqdn), ".")
	if full == "" && strings.Contains(hostname, ".") {
		full = hostname
	}
	short = hostname
	if short == "" {
		short = full
	}
	short, _, _ = strings.Cut(short, ".")
	return short, full
}

func (s *stanza) matches(short, full string) bool {
	switch {
	case s.re != nil:
		return (full != "" && s.re.MatchString(full)) || (short != "" && s.re.MatchString(short))
	case strings.Contains(s.target, "."):
		return full != "" && s.target == full
	default:
		return short != "" && s.target == short
	}
}

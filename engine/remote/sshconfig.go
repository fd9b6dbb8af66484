package remote

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// SSHConfig is a minimal reader of OpenSSH client configuration
// (~/.ssh/config). It understands Host blocks (patterns with *, ? and
// !negation, several per line), HostName, User, Port, IdentityFile and
// Include. Match blocks are skipped without error, unknown keywords are
// ignored. As in OpenSSH, the first value obtained for a keyword wins, except
// IdentityFile, which accumulates.
type SSHConfig struct {
	root *cfgFile
}

// HostConfig is what the configuration says about one host.
type HostConfig struct {
	HostName      string   // "" when not set
	User          string   // "" when not set
	Port          int      // 0 when not set
	IdentityFiles []string // ~ expanded, in order of appearance
}

type cfgFile struct {
	blocks []cfgBlock
}

// cfgBlock is the part of a file up to the next Host or Match line. The
// first block of a file has no condition of its own.
type cfgBlock struct {
	patterns []hostPat // nil: no condition (lines before the first Host)
	never    bool      // a Match block: never active
	items    []cfgItem
}

type hostPat struct {
	pat    string // lower case
	negate bool
}

type cfgItem struct {
	key     string // lower case
	value   string
	include []*cfgFile
	where   string // file:line, for messages
}

const maxIncludeDepth = 16

// LoadSSHConfig reads an OpenSSH client configuration file. A missing file
// is an empty configuration.
func LoadSSHConfig(path string) (*SSHConfig, error) {
	f, err := parseConfigFile(path, filepath.Dir(path), 0)
	if err != nil {
		return nil, err
	}
	if f == nil {
		f = &cfgFile{}
	}
	return &SSHConfig{root: f}, nil
}

// ParseSSHConfig parses configuration text. Relative Include paths are
// taken relative to includeDir (OpenSSH: ~/.ssh for the user's file).
func ParseSSHConfig(r io.Reader, name, includeDir string) (*SSHConfig, error) {
	f, err := parseConfig(r, name, includeDir, 0)
	if err != nil {
		return nil, err
	}
	return &SSHConfig{root: f}, nil
}

func parseConfigFile(path, includeDir string, depth int) (*cfgFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	defer fh.Close()
	return parseConfig(fh, path, includeDir, depth)
}

func parseConfig(r io.Reader, name, includeDir string, depth int) (*cfgFile, error) {
	f := &cfgFile{blocks: []cfgBlock{{}}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		where := fmt.Sprintf("%s:%d", name, lineNo)
		key, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("ssh config %s: %v", where, err)
		}
		if key == "" {
			continue
		}
		cur := &f.blocks[len(f.blocks)-1]
		switch key {
		case "host":
			if len(args) == 0 {
				return nil, fmt.Errorf("ssh config %s: Host needs at least one pattern", where)
			}
			var pats []hostPat
			for _, a := range args {
				p := hostPat{pat: strings.ToLower(a)}
				if strings.HasPrefix(p.pat, "!") {
					p.negate, p.pat = true, p.pat[1:]
				}
				pats = append(pats, p)
			}
			f.blocks = append(f.blocks, cfgBlock{patterns: pats})
		case "match":
			f.blocks = append(f.blocks, cfgBlock{never: true})
		case "include":
			if len(args) == 0 {
				return nil, fmt.Errorf("ssh config %s: Include needs a file name", where)
			}
			if depth >= maxIncludeDepth {
				return nil, fmt.Errorf("ssh config %s: Include nested too deeply", where)
			}
			it := cfgItem{key: key, where: where}
			for _, a := range args {
				p := expandTilde(a)
				if !filepath.IsAbs(p) {
					p = filepath.Join(includeDir, p)
				}
				matches, err := filepath.Glob(p)
				if err != nil {
					return nil, fmt.Errorf("ssh config %s: Include %q: %v", where, a, err)
				}
				for _, m := range matches {
					inc, err := parseConfigFile(m, includeDir, depth+1)
					if err != nil {
						return nil, err
					}
					if inc != nil {
						it.include = append(it.include, inc)
					}
				}
			}
			cur.items = append(cur.items, it)
		case "hostname", "user", "identityfile":
			if len(args) != 1 {
				return nil, fmt.Errorf("ssh config %s: %s takes one argument", where, key)
			}
			cur.items = append(cur.items, cfgItem{key: key, value: args[0], where: where})
		case "port":
			if len(args) != 1 {
				return nil, fmt.Errorf("ssh config %s: Port takes one argument", where)
			}
			if p, err := strconv.Atoi(args[0]); err != nil || p <= 0 || p > 65535 {
				return nil, fmt.Errorf("ssh config %s: bad Port %q", where, args[0])
			}
			cur.items = append(cur.items, cfgItem{key: key, value: args[0], where: where})
		default:
			// Unknown or unsupported keyword: ignored, as the brief of this
			// reader is to resolve addresses, users, ports and identities.
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ssh config %s: %v", name, err)
	}
	return f, nil
}

// splitConfigLine splits one line into a lower-case keyword and its
// arguments. It accepts "Key value", "Key=value", "Key = value", double
// quoted arguments and # comments.
func splitConfigLine(line string) (string, []string, error) {
	s := strings.TrimSpace(line)
	if s == "" || s[0] == '#' {
		return "", nil, nil
	}
	i := strings.IndexAny(s, " \t=")
	if i < 0 {
		return strings.ToLower(s), nil, nil
	}
	key := strings.ToLower(s[:i])
	rest := strings.TrimLeft(s[i:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	var args []string
	for rest != "" {
		if rest[0] == '#' {
			break
		}
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return "", nil, fmt.Errorf("unterminated quote")
			}
			args = append(args, rest[1:1+end])
			rest = strings.TrimLeft(rest[2+end:], " \t")
			continue
		}
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		args = append(args, rest[:end])
		rest = strings.TrimLeft(rest[end:], " \t")
	}
	return key, args, nil
}

// Lookup returns the settings that apply to host (the name as given by the
// operator, matched case-insensitively against Host patterns).
func (c *SSHConfig) Lookup(host string) HostConfig {
	var hc HostConfig
	if c == nil || c.root == nil {
		return hc
	}
	c.root.apply(strings.ToLower(host), true, &hc)
	return hc
}

func (f *cfgFile) apply(host string, active bool, hc *HostConfig) {
	for _, b := range f.blocks {
		on := active && b.matches(host)
		for _, it := range b.items {
			if it.include != nil || it.key == "include" {
				// OpenSSH: an included file is read in the context of the
				// enclosing block, which is in force again after it.
				for _, inc := range it.include {
					inc.apply(host, on, hc)
				}
				continue
			}
			if !on {
				continue
			}
			switch it.key {
			case "hostname":
				if hc.HostName == "" {
					hc.HostName = expandHostName(it.value, host)
				}
			case "user":
				if hc.User == "" {
					hc.User = it.value
				}
			case "port":
				if hc.Port == 0 {
					hc.Port, _ = strconv.Atoi(it.value)
				}
			case "identityfile":
				p := expandTilde(it.value)
				if !slices.Contains(hc.IdentityFiles, p) {
					hc.IdentityFiles = append(hc.IdentityFiles, p)
				}
			}
		}
	}
}

func (b *cfgBlock) matches(host string) bool {
	if b.never {
		return false
	}
	if b.patterns == nil {
		return true
	}
	matched := false
	for _, p := range b.patterns {
		if wildcardMatch(p.pat, host) {
			if p.negate {
				return false
			}
			matched = true
		}
	}
	return matched
}

// wildcardMatch matches s against pattern with * (any run) and ? (any one
// character), as OpenSSH's match_pattern does.
func wildcardMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// expandHostName expands %h (the host as given) and %% in a HostName value,
// as in "HostName %h.lan.example".
func expandHostName(v, host string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+1 < len(v) {
			switch v[i+1] {
			case 'h':
				b.WriteString(host)
				i++
				continue
			case '%':
				b.WriteByte('%')
				i++
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func expandTilde(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

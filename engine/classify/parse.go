package classify

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ParseError is a problem at one line of a classification file. Msg says
// what was wrong and what was expected.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

const (
	// maxFileSize keeps an include of /dev/zero or a log file from eating
	// memory; classification files are a few kilobytes.
	maxFileSize = 16 << 20
	// maxIncludeDepth bounds nesting; cycles are caught separately.
	maxIncludeDepth = 32
)

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Load reads the classification file at path and the files it includes.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading classification file: %w", err)
	}
	return parse(path, data, readFile)
}

// Parse reads a classification file from r. name is used in errors, and
// includes are read from disk relative to its directory.
func Parse(name string, r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading classification file %s: %w", name, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("classification file %s is larger than %d MiB; expected a small text file", name, maxFileSize>>20)
	}
	return parse(name, data, readFile)
}

// readFile reads a regular file of bounded size: an include must not be able
// to block on a FIFO or a device.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	if isSecretFile(path) && fi.Mode().Perm()&0o007 != 0 {
		return nil, &secretModeError{mode: fi.Mode().Perm()}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(data) > maxFileSize {
		err = &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d MiB; expected a small text file", maxFileSize>>20)}
	}
	return data, err
}

type parser struct {
	read     func(path string) ([]byte, error)
	cfg      *Config
	stack    []string // files being read, outermost first, for cycle detection
	inSecret int      // *.secret files among them: what they set is secret
}

func parse(name string, data []byte, read func(string) ([]byte, error)) (*Config, error) {
	p := &parser{read: read, cfg: &Config{byTarget: map[string]*stanza{}, secret: map[string]position{}}}
	if err := p.file(name, data, nil); err != nil {
		return nil, err
	}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// file parses one file; from is the include line that named it.
func (p *parser) file(name string, data []byte, from *position) error {
	fail := func(pos position, format string, args ...any) error {
		return &ParseError{File: pos.file, Line: pos.line, Msg: fmt.Sprintf(format, args...)}
	}
	for i, open := range p.stack {
		if sameFile(open, name) {
			chain := strings.Join(append(p.stack[i:], name), " → ")
			return fail(*from, "include %q makes a cycle (%s); remove one of these includes", filepath.Base(name), chain)
		}
	}
	if len(p.stack) >= maxIncludeDepth {
		return fail(*from, "includes are nested more than %d deep; expected a shallower tree of files", maxIncludeDepth)
	}
	p.stack = append(p.stack, name)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	if isSecretFile(name) {
		p.inSecret++
		defer func() { p.inSecret-- }()
	}

	var cur *stanza     // the stanza variable lines belong to
	var lastInclude int // line of the last include, which ends a stanza
	for i, raw := range strings.Split(string(data), "\n") {
		pos := position{file: name, line: i + 1}
		line := strings.TrimSuffix(raw, "\r")
		if i == 0 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = stripComment(line)
		if strings.TrimSpace(line) == "" {
			continue
		}
		text := strings.TrimSpace(line)

		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil {
				if lastInclude > 0 {
					return fail(pos, "variable line %q follows the include on line %d, not a stanza header; expected a stanza header such as \"DEFAULT:\" above it", text, lastInclude)
				}
				return fail(pos, "variable line %q comes before any stanza header; expected a stanza header such as \"DEFAULT:\" or a host name at column 0 above it", text)
			}
			rest, secret := secretLine(text)
			if secret && !strings.Contains(rest, "=") {
				if !varName.MatchString(rest) {
					return fail(pos, "secret line %q does not name one variable; expected secret NAME or secret NAME = value", text)
				}
				p.markSecret(rest, pos)
				continue
			}
			a, msg := parseAssignment(rest)
			if msg != "" {
				return fail(pos, "%s", msg)
			}
			a.pos = pos
			if secret || p.inSecret > 0 {
				p.markSecret(a.name, pos)
			}
			cur.vars = append(cur.vars, a)
			continue
		}

		if arg, ok := includeArg(text); ok {
			cur, lastInclude = nil, pos.line
			incPath, msg := includePath(arg)
			if msg != "" {
				return fail(pos, "%s", msg)
			}
			if !filepath.IsAbs(incPath) {
				incPath = filepath.Join(filepath.Dir(name), incPath)
			}
			inc, err := p.read(incPath)
			var sme *secretModeError
			if errors.As(err, &sme) {
				return fail(pos, "included file %s can be read by other users (mode %04o), so its values are not secret; expected it readable by its owner only: chmod o-rwx %s", incPath, uint32(sme.mode), incPath)
			}
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return fail(pos, "cannot read included file %s: %v; expected a path relative to the directory of %s, or an absolute one", incPath, err, filepath.Base(name))
			}
			if err := p.file(incPath, inc, &pos); err != nil {
				return err
			}
			continue
		}

		s, msg := parseHeader(text)
		if msg != "" {
			return fail(pos, "%s", msg)
		}
		if prev := p.cfg.byTarget[s.target]; prev != nil && s.identity {
			return fail(pos, "stanza %q names the same host as the one at %s; merge the two stanzas into one", text, prev.pos)
		}
		s.pos = pos
		if s.target == "DEFAULT" {
			p.cfg.defaults = append(p.cfg.defaults, s)
		} else {
			if prev := p.cfg.byTarget[s.target]; prev != nil {
				return fail(pos, "stanza %q is already defined at %s; merge the two stanzas into one", s.target, prev.pos)
			}
			p.cfg.byTarget[s.target] = s
			p.cfg.stanzas = append(p.cfg.stanzas, s)
		}
		cur = s
	}
	return nil
}

// sameFile reports whether two names are one file, so that "a.cf" and
// "./a.cf" are one step of a cycle.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}

// stripComment cuts a line at the first # outside double quotes.
func stripComment(line string) string {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case inQuote && c == '\\':
			i++ // an escaped character, perhaps a quote
		case c == '"':
			inQuote = !inQuote
		case c == '#' && !inQuote:
			return line[:i]
		}
	}
	return line
}

// parseHeader reads "TARGET[: STANZA...]". The separating colon must be
// followed by a space or end the line, so regexps may use (?:...).
func parseHeader(text string) (*stanza, string) {
	sep := -1
	for i := 0; i < len(text); i++ {
		if text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\t') {
			sep = i
			break
		}
	}
	head, rest := text, ""
	if sep >= 0 {
		head, rest = text[:sep], text[sep+1:]
	}
	target := strings.TrimSpace(head)
	s := &stanza{target: target, includes: strings.Fields(rest)}
	var msg string
	switch {
	case target == "":
		return nil, fmt.Sprintf("stanza header %q has no target; expected a host name, FQDN, ^regexp or DEFAULT before the colon", text)
	case strings.ContainsAny(target, " \t") && sep < 0:
		return nil, fmt.Sprintf("stanza header %q has several words and no colon; expected TARGET: STANZA... (variable lines must be indented)", text)
	case strings.ContainsAny(target, " \t"):
		return nil, fmt.Sprintf("target %q contains a space; expected one host name, FQDN or ^regexp (write a space in a regexp as \\x20)", target)
	case identityHeader(s, &msg):
		if msg != "" {
			return nil, msg
		}
	case target[0] == '^':
		re, err := regexp.Compile(target)
		if err != nil {
			return nil, fmt.Sprintf("target %q is not a valid regular expression: %v; expected Go regexp syntax", target, err)
		}
		s.re = re
	case strings.Contains(target, ":"):
		return nil, fmt.Sprintf("target %q contains a colon; expected TARGET: STANZA... with a space after the colon", target)
	case target != "DEFAULT" && strings.EqualFold(target, "DEFAULT"):
		// Case matters in targets, so this would silently be a host name.
		return nil, fmt.Sprintf("target %q is not DEFAULT; expected DEFAULT in capitals (for a host of that name write ^%s$)", target, target)
	}
	for _, inc := range s.includes {
		if inc == "DEFAULT" {
			return nil, fmt.Sprintf("stanza %q includes DEFAULT, which every host already gets first; remove it from the header", target)
		}
	}
	return s, ""
}

// parseAssignment reads "NAME = value" or NAME = "quoted value".
func parseAssignment(text string) (assignment, string) {
	eq := strings.IndexByte(text, '=')
	if eq < 0 {
		hint := ""
		if strings.HasSuffix(text, ":") {
			hint = " (a stanza header starts at column 0)"
		}
		return assignment{}, fmt.Sprintf("variable line %q has no \"=\"; expected NAME = value%s", text, hint)
	}
	name := strings.TrimSpace(text[:eq])
	if !varName.MatchString(name) {
		return assignment{}, fmt.Sprintf("variable name %q is not valid; expected a letter or underscore, then letters, digits or underscores", name)
	}
	value := strings.TrimSpace(text[eq+1:])
	if !strings.HasPrefix(value, `"`) {
		return assignment{name: name, value: value}, ""
	}
	end := closingQuote(value)
	if end < 0 {
		return assignment{}, fmt.Sprintf("value of %s starts a quoted string that does not end; expected a closing \" on the same line", name)
	}
	unq, err := strconv.Unquote(value[:end+1])
	if err != nil {
		return assignment{}, fmt.Sprintf("quoted value of %s has an invalid escape; expected \\\" \\\\ \\t \\n or \\xNN inside the quotes", name)
	}
	if tail := strings.TrimSpace(value[end+1:]); tail != "" {
		return assignment{}, fmt.Sprintf("unexpected %q after the quoted value of %s; expected the end of the line or a # comment", tail, name)
	}
	return assignment{name: name, value: unq}, ""
}

// closingQuote returns the index of the quote that closes s[0], or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// includeArg recognises "include PATH". "include:" and "include : X" are
// stanza headers for a host called include.
func includeArg(text string) (string, bool) {
	rest, ok := strings.CutPrefix(text, "include")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	arg := strings.TrimSpace(rest)
	if strings.HasPrefix(arg, ":") {
		return "", false
	}
	return arg, true
}

// includePath unquotes an include's argument.
func includePath(arg string) (string, string) {
	if strings.HasPrefix(arg, `"`) {
		end := closingQuote(arg)
		if end < 0 || strings.TrimSpace(arg[end+1:]) != "" {
			return "", fmt.Sprintf("include %s is not one quoted path; expected include PATH or include \"PATH WITH SPACES\"", arg)
		}
		p, err := strconv.Unquote(arg[:end+1])
		if err != nil || p == "" {
			return "", fmt.Sprintf("include %s is not a valid quoted path; expected include \"PATH\"", arg)
		}
		return p, ""
	}
	if strings.ContainsAny(arg, " \t") {
		return "", fmt.Sprintf("include %q names more than one file; expected one path per include line (quote a path that has spaces)", arg)
	}
	return arg, ""
}

// resolve checks every stanza include names a stanza and none loops back,
// and that BRANCH is not secret.
func (p *parser) resolve() error {
	if pos, ok := p.cfg.secret["BRANCH"]; ok {
		return &ParseError{File: pos.file, Line: pos.line,
			Msg: "BRANCH cannot be secret: every face shows which branch a host follows; set it outside *.secret files and secret lines"}
	}
	all := append(append([]*stanza(nil), p.cfg.defaults...), p.cfg.stanzas...)
	for _, s := range all {
		for _, name := range s.includes {
			if p.cfg.byTarget[name] == nil {
				return &ParseError{File: s.pos.file, Line: s.pos.line,
					Msg: fmt.Sprintf("stanza %q includes %q, which is not defined; expected the target of a stanza in this file or an included one", s.target, name)}
			}
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[*stanza]int{}
	var visit func(s *stanza, path []string) error
	visit = func(s *stanza, path []string) error {
		state[s] = visiting
		path = append(path, s.target)
		for _, name := range s.includes {
			inc := p.cfg.byTarget[name]
			switch state[inc] {
			case visiting:
				i := 0
				for path[i] != name {
					i++
				}
				chain := strings.Join(append(path[i:], name), " → ")
				return &ParseError{File: s.pos.file, Line: s.pos.line,
					Msg: fmt.Sprintf("stanza %q includes %q, which makes a cycle (%s); remove one of these includes", s.target, name, chain)}
			case unvisited:
				if err := visit(inc, path); err != nil {
					return err
				}
			}
		}
		state[s] = done
		return nil
	}
	for _, s := range all {
		if state[s] == unvisited {
			if err := visit(s, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

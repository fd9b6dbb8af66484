package verbs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Word is one word of a command line.
type Word struct {
	Text string // the word after quote removal
	// Rest is the line from this word's first character to its end, as
	// typed: a command verb's command is kept this way.
	Rest string
}

// MaxLine caps a ":" line; longer input is refused, not truncated.
const MaxLine = 64 << 10

// SplitLine splits a ":" line into words as a POSIX shell does, with no
// expansion: blanks separate words; '…' keeps everything literally; "…"
// keeps everything except that a backslash before $ ` " \ or a newline
// escapes it; outside quotes a backslash escapes any character.
func SplitLine(line string) ([]Word, error) {
	if len(line) > MaxLine {
		return nil, usagef("the command line is %d bytes; the limit is %d", len(line), MaxLine)
	}
	var words []Word
	var cur strings.Builder
	start := -1 // byte offset of the current word, -1 between words
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(line) && strings.IndexByte("$`\"\\\n", line[i+1]) >= 0:
				i++
				cur.WriteByte(line[i])
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if start >= 0 {
				words = append(words, Word{Text: cur.String(), Rest: strings.TrimRight(line[start:], " \t\r\n")})
				cur.Reset()
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
			switch c {
			case '\'', '"':
				quote = c
			case '\\':
				if i+1 >= len(line) {
					return nil, usagef("the line ends with a backslash; escape it as \\\\ or quote it")
				}
				i++
				cur.WriteByte(line[i])
			default:
				cur.WriteByte(c)
			}
		}
	}
	if quote != 0 {
		return nil, usagef("unterminated %c quote; close it, or escape it with a backslash", quote)
	}
	if start >= 0 {
		words = append(words, Word{Text: cur.String(), Rest: strings.TrimRight(line[start:], " \t\r\n")})
	}
	return words, nil
}

// Words wraps a command line the operator's shell already split (batch
// argv). A command's words are joined by spaces: the shell removed the
// quotes, so `exec -- 'echo a  b'` and `exec -- echo a b` differ only in
// the spacing the shell kept.
func Words(argv []string) []Word {
	out := make([]Word, len(argv))
	for i, a := range argv {
		out[i] = Word{Text: a, Rest: strings.Join(argv[i:], " ")}
	}
	return out
}

// Table is a set of verbs and the parser over them.
type Table struct {
	verbs  []*Verb
	byName map[string]*Verb
	flags  map[string]Flag // every verb flag by name; one type per name
}

// NewTable builds a table. Two verbs with one name, or one flag name with
// two types, are programming errors the table test catches.
func NewTable(vs ...*Verb) (*Table, error) {
	t := &Table{byName: map[string]*Verb{}, flags: map[string]Flag{}}
	for _, v := range vs {
		if err := t.add(v); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Table) add(v *Verb) error {
	for _, n := range append([]string{v.Name}, v.Aliases...) {
		if _, dup := t.byName[n]; dup {
			return fmt.Errorf("verbs: %q declared twice", n)
		}
		t.byName[n] = v
	}
	for _, f := range v.Flags {
		if g, ok := t.flags[f.Name]; ok && g.Type != f.Type {
			return fmt.Errorf("verbs: flag --%s of %s has another type than elsewhere", f.Name, v.Name)
		}
		t.flags[f.Name] = f
	}
	t.verbs = append(t.verbs, v)
	return nil
}

// With returns a table with more verbs (a face's own commands).
func (t *Table) With(vs ...*Verb) (*Table, error) {
	return NewTable(append(append([]*Verb(nil), t.verbs...), vs...)...)
}

// Verbs returns the verbs in declaration order.
func (t *Table) Verbs() []*Verb { return append([]*Verb(nil), t.verbs...) }

// Lookup finds a verb by name or alias.
func (t *Table) Lookup(name string) (*Verb, bool) {
	v, ok := t.byName[name]
	return v, ok
}

// Parse reads a command line: the first word that is not a flag is the
// verb; flags may come anywhere before "--" (and, for a command verb,
// before its command); globals are the face's own flags. With no verb it
// returns a Call whose Verb is nil, holding only the globals.
func (t *Table) Parse(words []Word, globals []Flag) (*Call, error) {
	c := &Call{Flags: map[string]string{}}
	gl := map[string]Flag{}
	for _, g := range globals {
		gl[g.Name] = g
	}
	type given struct{ name, value string }
	var flags []given
	for i := 0; i < len(words); i++ {
		w := words[i].Text
		if w == "--" {
			rest := words[i+1:]
			if c.Verb != nil && c.Verb.Command != "" {
				c.HasCommand = true
				if len(rest) > 0 {
					c.Command = rest[0].Rest
				}
				break
			}
			for _, r := range rest {
				if c.Verb == nil {
					v, ok := t.byName[r.Text]
					if !ok {
						return nil, t.unknownVerb(r.Text)
					}
					c.Verb = v
					continue
				}
				c.Args = append(c.Args, r.Text)
			}
			break
		}
		if c.Verb != nil && c.Verb.Command != "" && !isFlag(w) && len(c.Args) >= len(c.Verb.Args) {
			c.Command, c.HasCommand = words[i].Rest, true
			break
		}
		if isFlag(w) {
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f, ok := t.flags[name]
			if !ok {
				if f, ok = gl[name]; !ok {
					return nil, usagef("unknown flag -%s%s; help lists each verb's flags", dashes(w), name)
				}
			}
			if f.Type == Bool {
				if !hasValue {
					value = "true"
				}
			} else if !hasValue {
				if i+1 >= len(words) {
					return nil, usagef("--%s needs a value (%s)", name, orWord(f.Value, "VALUE"))
				}
				i++
				value = words[i].Text
			}
			flags = append(flags, given{name, value})
			continue
		}
		if c.Verb == nil {
			v, ok := t.byName[w]
			if !ok {
				return nil, t.unknownVerb(w)
			}
			c.Verb = v
			continue
		}
		c.Args = append(c.Args, w)
	}
	for _, g := range flags {
		if c.Verb != nil {
			if f, ok := c.Verb.Flag(g.name); ok {
				if err := c.setFlag(f, g.value); err != nil {
					return nil, err
				}
				continue
			}
		}
		if f, ok := gl[g.name]; ok {
			if err := checkValue(f, g.value); err != nil {
				return nil, err
			}
			c.Globals = append(c.Globals, GlobalValue{g.name, g.value})
			continue
		}
		if c.Verb == nil {
			return nil, usagef("--%s belongs to a verb; give the verb", g.name)
		}
		if why, ok := movedFlags[g.name]; ok {
			return nil, usagef("%s does not take --%s: %s", c.Verb.Name, g.name, why)
		}
		return nil, usagef("%s does not take --%s; its flags: %s", c.Verb.Name, g.name, flagList(c.Verb))
	}
	if c.Verb != nil {
		if err := c.checkArity(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Call) setFlag(f Flag, value string) error {
	if _, dup := c.Flags[f.Name]; dup && f.Type != List {
		return usagef("--%s is given twice; give it once", f.Name)
	}
	if err := checkValue(f, value); err != nil {
		return err
	}
	if f.Type == Bool {
		b, _ := strconv.ParseBool(value)
		value = strconv.FormatBool(b)
	}
	if old, ok := c.Flags[f.Name]; ok {
		value = old + "\n" + value
	}
	c.Flags[f.Name] = value
	return nil
}

func checkValue(f Flag, value string) error {
	switch f.Type {
	case Bool:
		if _, err := strconv.ParseBool(value); err != nil {
			return usagef("--%s=%q: give --%s alone, or =true / =false", f.Name, value, f.Name)
		}
	case Int:
		if _, err := strconv.Atoi(value); err != nil {
			return usagef("--%s %q is not a whole number", f.Name, value)
		}
	case Duration:
		if d, err := time.ParseDuration(value); err != nil || d < 0 {
			return usagef("--%s %q is not a duration such as 30s, 5m or 1h", f.Name, value)
		}
	}
	return nil
}

func (c *Call) checkArity() error {
	v := c.Verb
	min, max := v.arity()
	n := len(c.Args)
	if n < min {
		var missing []string
		for _, a := range v.Args[n:] {
			if !a.Optional {
				missing = append(missing, a.Name)
			}
		}
		return usagef("%s needs %s: %s", v.Name, strings.Join(missing, " and "), v.Usage())
	}
	if max >= 0 && n > max {
		extra := c.Args[max:]
		if max == 0 {
			return usagef("%s takes no arguments, got %s: %s", v.Name, quoteAll(extra), v.Usage())
		}
		return usagef("%s takes %s at most; %s is extra: %s", v.Name, count(max, "argument"), quoteAll(extra), v.Usage())
	}
	for _, f := range v.Flags {
		if f.Required && !c.Has(f.Name) {
			return usagef("%s needs --%s %s (%s): %s", v.Name, f.Name, f.Value, f.Help, v.Usage())
		}
	}
	if v.Command != "" && (!c.HasCommand || strings.TrimSpace(c.Command) == "") {
		return usagef("%s needs a %s: %s", v.Name, v.Command, v.Usage())
	}
	return nil
}

func (t *Table) unknownVerb(w string) error {
	return usagef("unknown verb %q; help lists them", w)
}

// isFlag tells a flag from a word: "-x", "--x", "--x=v"; a lone "-" is a
// word (stdin to many tools).
func isFlag(w string) bool {
	return len(w) > 1 && w[0] == '-' && w != "--" && (w[1] != '-' || len(w) > 2)
}

func dashes(w string) string {
	if strings.HasPrefix(w, "--") {
		return "-"
	}
	return ""
}

func orWord(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func quoteAll(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = strconv.Quote(w)
	}
	return strings.Join(q, " ")
}

func flagList(v *Verb) string {
	if len(v.Flags) == 0 {
		return "none"
	}
	var out []string
	for _, f := range v.Flags {
		out = append(out, "--"+f.Name)
	}
	return strings.Join(out, " ")
}

// movedFlags are flags that left the verbs that had them, with where they
// went: an operator's old script gets told what to do instead.
var movedFlags = map[string]string{
	"allow-user-dir": "a target in a directory a non-root user can change is allowed per entry now, reviewed and signed with it: stage it with snap or template --allow-user-dir",
}

package kinds

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/discoterm/discoterm/engine/journal"
)

// MaxContent is the largest file or template that can be staged. Content
// travels inline in one push per host, so it is kept to what a
// configuration file plausibly is.
const MaxContent = 16 << 20

// MaxDiff is the largest file whose old content is fetched to show a diff;
// larger files are shown as a hash change.
const MaxDiff = 1 << 20

// checkOwner refuses what cannot be a user or group name on the hosts (it
// reaches them as data either way; this catches mistakes early): a name
// of letters, digits, '_', '.', '-' not starting with '-' (at most 32),
// or a numeric id.
func checkOwner(what, s string) error {
	if s == "" {
		return nil
	}
	if _, err := strconv.ParseUint(s, 10, 32); err == nil {
		return nil
	}
	ok := len(s) <= 32 && s[0] != '-' && s[0] != '.'
	for _, c := range s {
		if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%s %q is not a user or group name; use a name such as www-data (letters, digits, '_', '.', '-', not starting with '-') or a numeric id", what, s)
	}
	return nil
}

// checkText refuses shell text that cannot reach a host: a NUL byte
// cannot be in a shell word, and the journal is UTF-8.
func checkText(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s contains a NUL byte, which a shell command cannot hold", what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}

// parseMode reads an octal permission mode flag.
func parseMode(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("--mode %q is not an octal permission mode such as 0644", s)
	}
	return uint32(m), nil
}

// splitOwner reads --owner USER[:GROUP].
func splitOwner(flags map[string]string) (owner, group string) {
	owner, group = flags["owner"], flags["group"]
	if o, g, ok := strings.Cut(owner, ":"); ok {
		owner = o
		if group == "" {
			group = g
		}
	}
	return owner, group
}

// noArgs is the Request of a kind that takes no arguments or flags.
func noArgs(name journal.Kind, in Input) (Request, error) {
	if len(in.Args) > 0 {
		return Request{}, fmt.Errorf("%s takes no arguments, got %q", name, strings.Join(in.Args, " "))
	}
	return Request{Kind: name}, nil
}

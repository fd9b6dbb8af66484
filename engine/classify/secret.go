package classify

import (
	"io/fs"
	"strings"
)

// isSecretFile reports whether every variable a file sets is secret.
func isSecretFile(name string) bool { return strings.HasSuffix(name, ".secret") }

// secretModeError is a *.secret file other users can read.
type secretModeError struct{ mode fs.FileMode }

func (e *secretModeError) Error() string { return "readable by other users" }

// secretLine recognises "secret NAME" and "secret NAME = value", returning
// what follows the word. "secret = x" sets a variable called secret.
func secretLine(text string) (string, bool) {
	rest, ok := strings.CutPrefix(text, "secret")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return text, false
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "=") {
		return text, false
	}
	return rest, true
}

// markSecret records that name is secret, at the first place it was said.
func (p *parser) markSecret(name string, pos position) {
	if _, ok := p.cfg.secret[name]; !ok {
		p.cfg.secret[name] = pos
	}
}

package remote

import (
	"context"
	"io"
	"strconv"
	"strings"
)

// Runner runs one command on a host: one SSH session, one round trip.
// *Client implements it over SSH; tests may run the same scripts with a
// local sh.
type Runner interface {
	Run(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (exitCode int, err error)
}

// remoteShell is the command every step runs: the step's script arrives on
// stdin. exec keeps a login shell out of the way, so a session signal reaches
// the script itself.
const remoteShell = "exec /bin/sh -s"

// quote returns s as one single-quoted POSIX shell word.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// script accumulates a POSIX sh program.
type script struct{ b strings.Builder }

func (s *script) line(parts ...string) {
	s.b.WriteString(strings.Join(parts, " "))
	s.b.WriteByte('\n')
}

func (s *script) raw(text string) { s.b.WriteString(text) }

func (s *script) String() string { return s.b.String() }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

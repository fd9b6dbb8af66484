package remote

import (
	"context"
	"embed"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// The host programs are .sh files (readable, `sh -n` and shellcheck clean
// on their own, see `make lint`) that only define functions. A program
// sent to a host is its files, then calls of those functions, built by
// program.call: every argument, whatever it holds, goes through quote and
// nothing else, so a path, owner, command or branch reaches the host as
// data, never as code. Options cannot be forged either: the functions put
// "--" before operands.
//
//go:embed *.sh
var shFiles embed.FS

// The programs, by the files they are made of, in order.
var (
	probeFiles = []string{"common.sh", "probe.sh"}
	fetchFiles = []string{"fetch.sh"}
	applyFiles = []string{"common.sh", "lock.sh", "state.sh", "usage.sh", "pending.sh", "apply.sh"}
	// A push that must come back carries the code that keeps copies and
	// arms the revert; the others only check for one armed (pending.sh).
	comeBackFiles = []string{"common.sh", "lock.sh", "state.sh", "usage.sh", "pending.sh", "comeback.sh", "apply.sh"}
	cancelFiles   = []string{"cancel.sh"}
)

// programs lists every program, for tests and lint.
var programs = map[string][]string{"probe": probeFiles, "fetch": fetchFiles, "apply": applyFiles, "cancel": cancelFiles, "sandbox": sandboxFiles,
	"confirm": confirmFiles, "apply-comeback": comeBackFiles, "probe+sandbox": {"common.sh", "probe.sh", "sandbox.sh", "sandbox_report.sh", "sandbox_trust.sh"}}

// library is the text of files as sent: concatenated, without comment
// lines and blank lines (the files are for reading; every byte is sent
// to every host on every step). The files hold no here-documents or
// multi-line strings in which a line could start with "#".
func library(files []string) string {
	key := strings.Join(files, "\x00")
	if t, ok := libraryCache.Load(key); ok {
		return t.(string)
	}
	t := libraryText(files)
	libraryCache.Store(key, t)
	return t
}

// libraryCache holds library's text by file list: the files are embedded,
// so the text of a list never changes; a plan to many hosts builds it once.
var libraryCache sync.Map

func libraryText(files []string) string {
	var b strings.Builder
	for _, f := range files {
		data, err := shFiles.ReadFile(f)
		if err != nil { // embedded at build time: cannot be missing
			panic(err)
		}
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if t := strings.TrimSpace(l); t == "" || t[0] == '#' {
				continue
			}
			b.WriteString(l)
		}
	}
	return b.String()
}

// sourceOf is the files as they are, for lint.
func sourceOf(files []string) string {
	var b strings.Builder
	for _, f := range files {
		data, _ := shFiles.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// quote returns s as one single-quoted POSIX shell word. It is the only
// way data enters a host program.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// program is a host program being built: the whole text is one function
// definition followed by its call, so a transfer cut short is a syntax
// error that runs nothing, never half a program.
type program struct {
	b   strings.Builder
	err error
}

func newProgram(files []string) *program {
	p := &program{}
	p.b.WriteString("main() {\n")
	p.b.WriteString(library(files))
	return p
}

// call appends one call of a function the program's files define. A NUL
// byte cannot travel in a shell word; staging refuses it, and a program
// that would carry one is not sent.
func (p *program) call(fn string, args ...string) {
	p.b.WriteString(fn)
	for _, a := range args {
		if strings.IndexByte(a, 0) >= 0 && p.err == nil {
			p.err = fmt.Errorf("%s: an argument contains a NUL byte, which a host program cannot be given", fn)
		}
		p.b.WriteByte(' ')
		p.b.WriteString(quote(a))
	}
	p.b.WriteByte('\n')
}

// text ends the program.
func (p *program) text() (string, error) {
	p.b.WriteString("}\nmain\n")
	return p.b.String(), p.err
}

// envArgs turns host variables into the NAME VALUE pairs runenv exports,
// in name order. A name that is not a shell variable name (the
// classification parser allows none) or a value with a NUL is refused.
func envArgs(env map[string]string) ([]string, error) {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]string, 0, 2*len(names))
	for _, k := range names {
		if !ValidEnvName(k) {
			return nil, fmt.Errorf("variable name %q cannot be an environment variable; use letters, digits and underscores, not starting with a digit", k)
		}
		if strings.IndexByte(env[k], 0) >= 0 {
			return nil, fmt.Errorf("variable %s contains a NUL byte, which an environment variable cannot hold", k)
		}
		out = append(out, k, env[k])
	}
	return out, nil
}

// reservedEnv are names a command's shell gives a meaning of its own:
// exporting them would change how the command is parsed or run, not what
// it sees.
var reservedEnv = map[string]bool{"IFS": true, "ENV": true, "PS1": true, "PS2": true, "PS4": true,
	"OPTIND": true, "OPTARG": true, "PPID": true, "PWD": true, "OLDPWD": true, "LINENO": true}

// ValidEnvName reports whether name can be passed to exec commands as an
// environment variable: a shell variable name that the shell does not
// reserve.
func ValidEnvName(name string) bool {
	if name == "" || len(name) > 128 || reservedEnv[name] {
		return false
	}
	for i, c := range name {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// Exit codes, documented in the README and in `--batch help`.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitHostsFail = 3
	exitLockHeld  = 4
	exitStale     = 5
	exitCancelled = 130
)

// globals are the flags every mode takes.
type globals struct {
	storeFlags
	store      string
	classFile  string
	knownHosts string
	acceptNew  bool
	identities multiFlag
	sshConfig  string
	operator   string
	parallel   int
	timeout    time.Duration
	connect    time.Duration
	stateDir   string
	json       bool
	theme      string
	branch     string
	ifaces     multiFlag
	noScan     bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.store, "store", "", "store file, or nats://HOST:4222[/PREFIX] for a shared one (default $DISCOTERM_STORE, else $XDG_STATE_HOME/discoterm/discoterm.db)")
	fs.StringVar(&g.natsCreds, "nats-creds", "", "NATS credentials file: who you are on a shared store")
	fs.StringVar(&g.natsCA, "nats-ca", "", "CA certificates for a tls:// NATS store (default: the system's)")
	fs.StringVar(&g.classFile, "class", "", "classification file, ISconf main.cf semantics (default $DISCOTERM_CLASS, else ./main.cf if present)")
	fs.StringVar(&g.knownHosts, "known-hosts", "", "known_hosts file (default ~/.ssh/known_hosts)")
	fs.BoolVar(&g.acceptNew, "accept-new", false, "trust unknown host keys on first contact (a changed key is always refused)")
	fs.Var(&g.identities, "identity", "SSH private key file (repeatable; default ~/.ssh/id_*)")
	fs.StringVar(&g.sshConfig, "ssh-config", "", "ssh config file (default ~/.ssh/config; \"none\" to skip)")
	fs.StringVar(&g.operator, "operator", "", "who you are in locks and the audit trail (default $DISCOTERM_OPERATOR or user@host)")
	fs.IntVar(&g.parallel, "parallel", 16, "hosts planned or pushed at once")
	fs.DurationVar(&g.timeout, "timeout", 30*time.Second, "per-host timeout of an operation (planning one host, a scan's probe)")
	fs.DurationVar(&g.connect, "connect-timeout", 4*time.Second, "per-host timeout for the SSH connection: TCP, handshake and login")
	fs.StringVar(&g.stateDir, "state-dir", "/var/lib/discoterm", "directory of the state file on each host")
	fs.BoolVar(&g.json, "json", false, "batch: one JSON object per line on stdout")
	fs.StringVar(&g.theme, "theme", "", "TUI theme: dark, light, high-contrast, or a theme file (default: from the terminal background)")
	fs.StringVar(&g.branch, "branch", "", "branch to act on (default: the one you hold the lock on, or the only one)")
	fs.Var(&g.ifaces, "iface", "interface to scan (repeatable; default: every up, multicast, non-loopback interface with IPv6)")
	fs.BoolVar(&g.noScan, "no-scan", false, "TUI: do not scan for hosts")
}

// invocation is a parsed command line.
type invocation struct {
	globals
	batch bool
	help  bool
	verb  string
	args  []string  // the verb's arguments, flags removed
	vf    *verbFlag // the verb's own flags
}

// parseArgs splits off --batch and the verb, then parses global and verb
// flags wherever they appear (before "--"), so `snap FILE --to PATH` and
// `--json plan` both work.
func parseArgs(args []string) (*invocation, error) {
	inv := &invocation{}
	var rest, afterDash []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			afterDash = args[i+1:]
			break
		}
		switch a {
		case "--batch", "-batch":
			inv.batch = true
		case "-h", "--help", "-help":
			inv.help = true
		default:
			rest = append(rest, a)
		}
	}
	if inv.help && !inv.batch {
		return inv, nil
	}
	fs := flag.NewFlagSet("discoterm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	inv.register(fs)
	inv.vf = newVerbFlags(fs)
	// Flags may come anywhere before "--"; the first plain word is the verb.
	var positional []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return nil, fmt.Errorf("%v (see discoterm --batch help; put a command after --)", err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	if afterDash != nil {
		positional = append(positional, afterDash...)
	}
	if inv.batch {
		if len(positional) == 0 {
			return nil, errors.New("--batch needs a verb; list them with: discoterm --batch help")
		}
		inv.verb, inv.args = positional[0], positional[1:]
	} else if len(positional) > 0 {
		return nil, fmt.Errorf("unexpected argument %q; verbs need --batch (discoterm --batch help)", positional[0])
	}
	if inv.help {
		inv.verb, inv.args = "help", nil
	}
	return inv, nil
}

func (g *globals) classPath() string {
	switch {
	case g.classFile != "":
		return g.classFile
	case os.Getenv("DISCOTERM_CLASS") != "":
		return os.Getenv("DISCOTERM_CLASS")
	}
	if _, err := os.Stat("main.cf"); err == nil {
		abs, _ := filepath.Abs("main.cf")
		return abs
	}
	return ""
}

// app is what a running discoterm holds.
type app struct {
	eng    *engine.Engine
	store  store.Store
	client *remote.Client
}

func (a *app) Close() {
	if a.client != nil {
		a.client.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
}

// open builds the store, the SSH client and the engine.
func (g *globals) open() (*app, error) {
	st, operator, err := g.openStore()
	if err != nil {
		return nil, err
	}
	ro := remote.Options{AcceptNew: g.acceptNew, IdentityFiles: g.identities, ConfigFile: g.sshConfig,
		UseAgent: os.Getenv("SSH_AUTH_SOCK") != "", ConnectTimeout: min(g.connect, g.timeout)}
	if g.knownHosts != "" {
		ro.KnownHostsFiles = []string{g.knownHosts}
	}
	client, err := remote.New(ro)
	if err != nil {
		st.Close()
		return nil, err
	}
	eng, err := engine.New(engine.Options{Store: st, Remote: &remote.Steps{R: client, HostKey: client.HostKey},
		KeyTrust: client, Operator: operator, ClassFile: g.classPath(), Parallel: g.parallel,
		HostTimeout: g.timeout, StateDir: g.stateDir, RebootCommand: os.Getenv("DISCOTERM_REBOOT_CMD")})
	if err != nil {
		client.Close()
		st.Close()
		return nil, err
	}
	return &app{eng: eng, store: st, client: client}, nil
}

// exitCode maps an engine error to the documented exit codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, engine.ErrUsage), errors.Is(err, engine.ErrNotLocked), errors.Is(err, engine.ErrNotFound):
		return exitUsage
	case errors.Is(err, engine.ErrLockHeld):
		return exitLockHeld
	case errors.Is(err, engine.ErrStale):
		return exitStale
	case errors.Is(err, engine.ErrHostsFail):
		return exitHostsFail
	case errors.Is(err, engine.ErrCancelled):
		return exitCancelled
	}
	return exitError
}

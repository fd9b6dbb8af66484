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
	"github.com/discoterm/discoterm/engine/verbs"
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
	exitOutside   = 6 // up of a branch outside its maintenance windows: nothing pushed
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
	noop       time.Duration
	noopSpace  sizeFlag
	noopOutput sizeFlag
	noopProcs  int
	stateDir   string
	json       bool
	theme      string
	branch     string
	ifaces     multiFlag
	noScan     bool
	signingKey string
	allowed    string
	metrics    string
	machines   string
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
	fs.DurationVar(&g.noop, "noop-timeout", remote.DefaultNoopTimeout, "plan: time limit of each entry carried out in a host's sandbox")
	g.noopSpace, g.noopOutput = remote.DefaultUpperCap, remote.DefaultOutputCap
	fs.Var(&g.noopSpace, "noop-space", "plan: what a host's sandbox may hold of the changes its entries make (e.g. 256M, 1G)")
	fs.Var(&g.noopOutput, "noop-output", "plan: output an entry may print in a host's sandbox (e.g. 1M, 256K)")
	fs.IntVar(&g.noopProcs, "noop-procs", remote.DefaultMaxProcs, "plan: processes alive at once in a host's sandbox")
	fs.StringVar(&g.stateDir, "state-dir", "/var/lib/discoterm", "directory of the state file on each host")
	fs.BoolVar(&g.json, "json", false, "batch: one JSON object per line on stdout")
	fs.StringVar(&g.theme, "theme", "", "TUI theme: dark, light, high-contrast, or a theme file (default: from the terminal background)")
	fs.StringVar(&g.branch, "branch", "", "branch to act on (default: the one you hold the lock on, or the only one)")
	fs.Var(&g.ifaces, "iface", "interface to scan (repeatable; default: every up, multicast, non-loopback interface with IPv6)")
	fs.BoolVar(&g.noScan, "no-scan", false, "TUI: do not scan for hosts")
	fs.StringVar(&g.signingKey, "signing-key", "", "SSH private key that signs the changesets you approve (default: the agent's first key, else --identity / ~/.ssh/id_*)")
	fs.StringVar(&g.allowed, "allowed-signers", "", "OpenSSH allowed_signers file of the keys whose changesets are accepted (default $XDG_CONFIG_HOME/discoterm/allowed_signers)")
	fs.StringVar(&g.machines, "machines", "", "directory of netboot machine files (default: machines/ beside the store file)")
	fs.StringVar(&g.metrics, "metrics-listen", "", "TUI: also serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9469)")
}

// invocation is a parsed command line.
type invocation struct {
	globals
	batch   bool
	help    bool
	version bool
	call    *verbs.Call // the verb (batch); nil for the TUI
}

// consoleOnly are global flags that only the TUI reads; a batch verb
// given one refuses it like any flag that is not its own.
var consoleOnly = map[string]bool{"theme": true, "branch": true, "no-scan": true, "metrics-listen": true}

// parseArgs splits off --batch, --help and --version, then parses global
// and verb flags with the verb table's parser, wherever they appear before
// "--", so `snap FILE --to PATH` and `--json plan` both work.
func parseArgs(args []string) (*invocation, error) {
	inv := &invocation{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		switch a {
		case "--batch", "-batch":
			inv.batch = true
		case "-h", "--help", "-help":
			inv.help = true
		case "--version", "-version":
			inv.version = true
		default:
			rest = append(rest, a)
		}
	}
	if (inv.help || inv.version) && !inv.batch {
		return inv, nil
	}
	fs := flag.NewFlagSet("discoterm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	inv.register(fs)
	var gl []verbs.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if inv.batch && consoleOnly[f.Name] {
			return
		}
		t := verbs.String
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			t = verbs.Bool
		}
		gl = append(gl, verbs.Flag{Name: f.Name, Type: t, Help: f.Usage})
	})
	table := verbs.Default()
	if inv.batch {
		table = batchTable()
	}
	call, err := table.Parse(verbs.Words(rest), gl)
	if err != nil {
		if !inv.batch {
			return nil, fmt.Errorf("%v (verbs need --batch: discoterm --batch help)", err)
		}
		return nil, err
	}
	for _, g := range call.Globals {
		if err := fs.Set(g.Name, g.Value); err != nil {
			return nil, fmt.Errorf("%w: --%s %q: %v", engine.ErrUsage, g.Name, g.Value, err)
		}
	}
	switch {
	case inv.batch && inv.help:
		v, _ := table.Lookup("help")
		call = &verbs.Call{Verb: v, Flags: map[string]string{}}
	case inv.batch && call.Verb == nil:
		return nil, errors.New("--batch needs a verb; list them with: discoterm --batch help")
	case !inv.batch && call.Verb != nil:
		return nil, fmt.Errorf("%s is a verb; verbs need --batch: discoterm --batch %s", call.Verb.Name, call.Verb.Name)
	}
	if err := inv.checkNoop(); err != nil {
		return nil, err
	}
	if inv.batch {
		call.Help = table
		inv.call = call
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
	signer, _, err := remote.SigningKey(g.signingKey, g.signingFallbacks())
	if err != nil {
		client.Close()
		st.Close()
		return nil, err
	}
	eng, err := engine.New(engine.Options{Store: st, Remote: &remote.Steps{R: client, HostKey: client.HostKey},
		KeyTrust: client, Operator: operator, ClassFile: g.classPath(), Parallel: g.parallel,
		HostTimeout: g.timeout, NoopTimeout: g.noop,
		NoopSpace: int64(g.noopSpace), NoopOutput: int64(g.noopOutput), NoopProcs: g.noopProcs, StateDir: g.stateDir, RebootCommand: os.Getenv("DISCOTERM_REBOOT_CMD"),
		Signer: signer, AllowedSigners: g.allowedSignersPath(), MachinesDir: g.machinesDir()})
	if err != nil {
		client.Close()
		st.Close()
		return nil, err
	}
	return &app{eng: eng, store: st, client: client}, nil
}

// signingFallbacks are the key files tried for signing when neither
// --signing-key nor an agent gives one: the --identity files, else
// OpenSSH's default identities.
func (g *globals) signingFallbacks() []string {
	if len(g.identities) > 0 {
		return g.identities
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		out = append(out, filepath.Join(home, ".ssh", n))
	}
	return out
}

// allowedSignersPath is --allowed-signers, else the default file when it
// exists; "" (not configured: push refuses and says how to set it up).
func (g *globals) allowedSignersPath() string {
	if g.allowed != "" {
		return g.allowed
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	p := filepath.Join(dir, "discoterm", "allowed_signers")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
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
	case errors.Is(err, engine.ErrOutsideWindow):
		return exitOutside
	case errors.Is(err, engine.ErrHostsFail):
		return exitHostsFail
	case errors.Is(err, engine.ErrCancelled):
		return exitCancelled
	}
	return exitError
}

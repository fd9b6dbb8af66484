// Package verbs is the one table of discoterm's verbs. Each verb is
// declared once — name, positional arguments, flags, one line of help,
// group and the engine call — and both faces are built from it: the
// `discoterm --batch VERB` command line, the console's ":" line, `help`
// and the console's command list, and the README's verb table (checked by
// a test). Both faces parse with the same parser and get the same errors.
//
// The staging verbs (snap, template, exec, …) come from the entry kinds'
// registry (engine/kinds), so a new kind appears in both faces without
// touching this table.
//
// The package knows no terminal: results are typed values the faces
// render, errors are plain sentences.
package verbs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// Backend is the part of the engine the verbs call. *engine.Engine
// satisfies it; the console's tests use an in-process fake.
type Backend interface {
	Operator() string

	Hosts(ctx context.Context) ([]engine.HostView, error)
	AddHost(ctx context.Context, req engine.AddHostRequest) (engine.HostView, error)
	Assign(host, branch string) error
	Report(host string) ([]store.RunResult, error)
	// TrustHost accepts the key a scanned host offers, if it is still the
	// fingerprint the operator was shown.
	TrustHost(host, fingerprint string) error
	Discover(ctx context.Context, opts engine.DiscoverOptions) error

	Branches() ([]store.Branch, error)
	Log(branch string) (*engine.JournalView, error)
	Fork(from, newBranch string) error
	Migrate(ctx context.Context, host, branch string) error
	Audit(branch string) ([]store.AuditRecord, error)
	SetCatchUp(branch string, p store.CatchUp) error
	SetWindows(branch string, windows []string) error

	Lock(branch, message string) error
	Unlock(branch string, force bool) error
	Stage(branch string, req engine.StageRequest) (journal.Entry, error)
	Staged(branch string) ([]journal.Entry, *store.Lock, error)
	Drop(branch string, seq uint64) error

	Plan(ctx context.Context, req engine.PlanRequest) (*engine.Plan, error)
	GetPlan(id string) (*engine.Plan, error)
	Approve(planID string, keepLock bool) (*engine.Plan, error)
	Push(ctx context.Context, planID string, opts engine.PushOptions) (*engine.PushResult, error)
	Up(ctx context.Context, req engine.PlanRequest, opts engine.PushOptions) (*engine.Plan, *engine.PushResult, error)
	UpAll(ctx context.Context, opts engine.PushOptions) ([]engine.UpRun, error)
	PreparePush(ctx context.Context, planID string, opts engine.PushOptions) (*engine.PushResult, error)
	Collect(ctx context.Context, hosts []string, branch string, cancel bool) ([]engine.CollectedPlan, error)
}

var _ Backend = (*engine.Engine)(nil)

// FlagType is the kind of value a flag takes; the parser checks it, so a
// bad value is refused the same way in both faces.
type FlagType int

// The flag types.
const (
	String   FlagType = iota
	Bool              // takes no value (or =true / =false)
	Int               // a decimal number
	Duration          // a Go duration such as 30s or 5m
	List              // a string that may be given more than once
)

// String names the type, as `help --json` gives it.
func (t FlagType) String() string {
	switch t {
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Duration:
		return "duration"
	case List:
		return "list"
	}
	return "string"
}

// Flag is one --flag of a verb.
type Flag struct {
	Name     string
	Type     FlagType
	Value    string // metavariable in help, e.g. "PATH"; empty for Bool
	Help     string
	Required bool // the verb refuses to run without it
}

// Arg is one positional argument of a verb.
type Arg struct {
	Name     string // e.g. "BRANCH"
	Optional bool
	Many     bool // takes every remaining word; only the last argument
}

// Verb is one verb of the table.
type Verb struct {
	Name    string
	Aliases []string
	Group   string // heading in help
	Help    string // one line
	Args    []Arg
	Flags   []Flag
	// Command, when set, names a trailing shell command (exec): it starts
	// at the first word after the verb's arguments and flags, or after
	// "--", and is kept as typed (see Call.Command).
	Command string
	// Run is the engine call. Nil for a face's own commands (the console's
	// :theme), which the face handles itself.
	Run func(ctx context.Context, b Backend, c *Call) (Result, error)
}

// Usage is the verb's synopsis: "lock BRANCH MESSAGE…".
func (v *Verb) Usage() string {
	parts := []string{v.Name}
	for _, a := range v.Args {
		s := a.Name
		if a.Many {
			s += "…"
		}
		if a.Optional {
			s = "[" + s + "]"
		}
		parts = append(parts, s)
	}
	for _, f := range v.Flags {
		s := "--" + f.Name
		if f.Type != Bool {
			s += " " + f.Value
		}
		if !f.Required {
			s = "[" + s + "]"
		}
		parts = append(parts, s)
	}
	if v.Command != "" {
		parts = append(parts, "[--] "+v.Command+"…")
	}
	return strings.Join(parts, " ")
}

// Flag returns the verb's flag called name.
func (v *Verb) Flag(name string) (Flag, bool) {
	for _, f := range v.Flags {
		if f.Name == name {
			return f, true
		}
	}
	return Flag{}, false
}

func (v *Verb) arity() (min, max int) {
	for _, a := range v.Args {
		if !a.Optional {
			min++
		}
		if a.Many {
			return min, -1
		}
		max++
	}
	return min, max
}

// Call is one parsed invocation of a verb, and what the face supplies for
// running it.
type Call struct {
	Verb *Verb
	// Args are the positional arguments.
	Args []string
	// Flags are the verb's flags as given; a Bool flag maps to "true" or
	// "false", a List flag's values are joined by "\n".
	Flags map[string]string
	// Command is a Command verb's command: on the console's ":" line the
	// text exactly as typed (quotes and backslashes included, because the
	// host's shell reads it); on a batch command line the words the
	// operator's shell already split, joined by spaces.
	Command string
	// HasCommand tells an empty command ("exec --") from none.
	HasCommand bool
	// Globals are flags that belong to the face, not the verb (batch:
	// --store, --json …), in the order given.
	Globals []GlobalValue

	// DefaultBranch is the face's branch when no --branch is given: the
	// console's current branch; empty in batch.
	DefaultBranch string
	// Ask shows a result (a plan) and asks a yes/no question. Nil when
	// nobody can answer (a script): verbs that need an answer then say
	// what flag to give.
	Ask func(shown Result, question string) (bool, error)
	// Notify shows a result while the verb goes on (serve-metrics says
	// where it listens); nil: nobody is shown.
	Notify func(shown Result)
	// ReadFile reads a local file to stage; nil: ReadLocal.
	ReadFile func(path string) ([]byte, uint32, error)
	// Help is the table the help verb lists; nil: Default().
	Help *Table
}

// GlobalValue is one face flag as given.
type GlobalValue struct{ Name, Value string }

// Has tells whether the flag was given.
func (c *Call) Has(name string) bool { _, ok := c.Flags[name]; return ok }

// Str is a String flag's value ("" when not given).
func (c *Call) Str(name string) string { return c.Flags[name] }

// Bool is a Bool flag's value.
func (c *Call) Bool(name string) bool { return c.Flags[name] == "true" }

// Int is an Int flag's value (0 when not given; the parser checked it).
func (c *Call) Int(name string) int { n, _ := strconv.Atoi(c.Flags[name]); return n }

// Dur is a Duration flag's value (0 when not given).
func (c *Call) Dur(name string) time.Duration { d, _ := time.ParseDuration(c.Flags[name]); return d }

// List is a List flag's values.
func (c *Call) List(name string) []string {
	if v, ok := c.Flags[name]; ok {
		return strings.Split(v, "\n")
	}
	return nil
}

// Arg is positional argument i, or "" when it was not given.
func (c *Call) Arg(i int) string {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return ""
}

// Branch is the branch a verb acts on: --branch, else the face's default.
func (c *Call) Branch() string {
	if b := c.Str("branch"); b != "" {
		return b
	}
	return c.DefaultBranch
}

// UsageError is a command line the table refuses. It matches
// engine.ErrUsage (exit code 2) but its text is only the sentence, the
// same in both faces.
type UsageError struct {
	Msg string
	Err error // the error it came from, if any
}

// Error is the sentence, without the class word ("usage: ").
func (e *UsageError) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, engine.ErrUsage) true, and keeps the error
// it came from reachable.
func (e *UsageError) Unwrap() []error {
	if e.Err != nil {
		return []error{engine.ErrUsage, e.Err}
	}
	return []error{engine.ErrUsage}
}

// asUsage makes an input error a usage error (exit 2) without changing
// its text; an error that already has a class keeps it.
func asUsage(err error) error {
	for _, class := range []error{engine.ErrUsage, engine.ErrNotFound, engine.ErrNotLocked, engine.ErrLockHeld} {
		if errors.Is(err, class) {
			return err
		}
	}
	return &UsageError{Msg: err.Error(), Err: err}
}

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// IsUsage tells a refused command line from a failed operation.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// Package kinds holds the entry kinds of a journal, one file per kind, and
// the registry that every face and the engine read them from: staging
// (validate, normalise), what a plan must probe and how it predicts the
// effect, what a push uploads and runs, and how an entry is described.
//
// Adding a kind is one new file here that calls Register from init, plus
// its tests. The batch verb, the TUI's ":" command and stage dialog, the
// plan review and the docs of a kind all come from its registration.
package kinds

import (
	"fmt"
	"sort"
	"sync"

	"github.com/discoterm/discoterm/engine/journal"
)

// Request describes an entry to stage under the caller's lock, as a face
// collected it (command line, dialog). The kind validates and normalises it.
type Request struct {
	Kind    journal.Kind
	Content []byte // file, template
	Source  string // local file name it came from, for messages
	Path    string // file, template, remove: target path on the hosts
	Mode    uint32 // 0: the kind's default (the local file's mode for snap)
	Owner   string // "": root
	Group   string // "": root
	Command string
	Guard   journal.Guard
	Secret  bool // content must never be shown (diffs, plans, output)
}

// Flag is one flag a kind's staging verb takes. Value is the metavariable
// shown in help ("PATH"); a Bool flag takes no value.
type Flag struct {
	Name  string
	Value string
	Help  string
	Bool  bool
}

// Spec is what a kind contributes to the verb table: the staging verb's
// name, positional arguments, flags and help, shared by --batch, the ":"
// line, the stage dialog and the README.
type Spec struct {
	Verb    string // e.g. "snap" for file entries
	Args    string // usage of the positional arguments, e.g. "LOCALFILE"
	Help    string // one line
	Flags   []Flag
	MinArgs int
	MaxArgs int  // -1: any
	Rest    bool // words after "--" are part of the arguments (exec)
}

// Input is a staging verb's parsed command line, handed to Kind.Request.
type Input struct {
	Args  []string          // positional arguments, then the words after "--"
	Flags map[string]string // given flags; a Bool flag maps to "true"
	// ReadFile reads a local file to stage (size and type checks included).
	// It returns the content and the file's permission bits.
	ReadFile func(path string) ([]byte, uint32, error)
}

// Kind is one entry kind. The registry holds one value per journal.Kind.
type Kind interface {
	Name() journal.Kind
	// Spec is the staging verb of the kind.
	Spec() Spec
	// Request turns a staging verb's parsed input into a Request.
	Request(in Input) (Request, error)
}

var (
	mu       sync.RWMutex
	registry = map[journal.Kind]Kind{}
)

// Register adds a kind; each kind's file calls it from init. Registering a
// name twice is a programming error.
func Register(k Kind) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[k.Name()]; dup {
		panic(fmt.Sprintf("kinds: %q registered twice", k.Name()))
	}
	registry[k.Name()] = k
}

// Lookup returns the kind registered under name.
func Lookup(name journal.Kind) (Kind, bool) {
	mu.RLock()
	defer mu.RUnlock()
	k, ok := registry[name]
	return k, ok
}

// All returns every registered kind, ordered by name.
func All() []Kind {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Kind, 0, len(registry))
	for _, k := range registry {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

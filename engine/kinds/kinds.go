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
	"strings"
	"sync"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
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
	// AllowUserDir: the target may be in a directory a non-root user can
	// change (file, template).
	AllowUserDir bool
}

// Flag is one flag a kind's staging verb takes. Value is the metavariable
// shown in help ("PATH"); a Bool flag takes no value.
type Flag struct {
	Name  string
	Value string
	Help  string
	Bool  bool
	// Required flags are checked by the verb table's parser (the same
	// error in both faces) and shown without brackets in help.
	Required bool
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

// ContentUse is how an entry kind keeps content in the blob store.
type ContentUse int

// The ways a kind uses content.
const (
	ContentNone    ContentUse = iota // no content (exec, reboot, remove)
	ContentStaged                    // installed as staged (file)
	ContentPerHost                   // rendered for each host from the staged source (template)
)

// Needs is what a plan's probe must read of a host for one entry.
type Needs struct {
	Paths []string // stat and hash (a probe runs no command: guards are evaluated in the sandbox)
}

// Kind is one entry kind: everything the engine, the journal and the
// faces need to know of it. The registry holds one value per
// journal.Kind; TestEveryKindIsComplete exercises each method of each.
type Kind interface {
	Name() journal.Kind
	// Spec is the staging verb of the kind.
	Spec() Spec
	// Request turns a staging verb's parsed input into a Request.
	Request(in Input) (Request, error)
	// Stage checks a request and returns the entry to stage: the kind's
	// fields normalised (the engine adds author, time, message, blob).
	// Errors say what is wrong and what to give instead.
	Stage(req Request) (journal.Entry, error)
	// Check validates the kind's fields of a journal entry (verification
	// on load, store appends).
	Check(e journal.Entry) error
	// Content is how the entry's content is kept.
	Content() ContentUse
	// Render is the content the entry installs on one host, from its
	// staged content and the host's variables (ContentPerHost kinds;
	// others return src).
	Render(e journal.Entry, src []byte, vars map[string]string) ([]byte, error)
	// Needs is what the plan's probe must read for the entry.
	Needs(e journal.Entry) Needs
	// Fetch reports whether the old content at e.Path is worth fetching
	// to show the entry's diff (want: what it installs; nil if nothing).
	Fetch(e journal.Entry, want []byte, cur remote.PathInfo) bool
	// Simulate predicts the entry's effect on the simulated host and
	// changes it as the entry would (the Change's Seq, Staged and Kind are
	// the caller's).
	Simulate(e journal.Entry, want []byte, h *Host) Change
	// Op is the host operation that applies the entry (Seq and Hash are
	// the caller's), with the content it installs.
	Op(e journal.Entry, content []byte) remote.BundleEntry
	// Summary is a one-line subject: the path or command.
	Summary(e journal.Entry) string
	// Details are the attributes text output shows after the summary
	// ("0644 root:root, 12 bytes"), "" for none. (JSON output is the
	// entry itself.)
	Details(e journal.Entry) string
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
	journal.RegisterKind(k.Name(), journal.KindRules{Check: k.Check, Summary: k.Summary})
}

// Lookup returns the kind registered under name.
func Lookup(name journal.Kind) (Kind, bool) {
	mu.RLock()
	defer mu.RUnlock()
	k, ok := registry[name]
	return k, ok
}

// listOrder is how help and dialogs list the kinds: the common ones
// first. A kind not named here comes after them, by name.
var listOrder = []journal.Kind{journal.KindFile, journal.KindTemplate, journal.KindExec, journal.KindRemove, journal.KindReboot}

// All returns every registered kind, in listOrder.
func All() []Kind {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Kind, 0, len(registry))
	for _, k := range registry {
		out = append(out, k)
	}
	rank := func(k Kind) int {
		for i, n := range listOrder {
			if n == k.Name() {
				return i
			}
		}
		return len(listOrder)
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].Name() < out[j].Name()
	})
	return out
}

// Names lists the registered kind names, for messages.
func Names() string {
	var n []string
	for _, k := range All() {
		n = append(n, string(k.Name()))
	}
	return strings.Join(n, ", ")
}

// Details is the registered kind's detail text of e ("" for an unknown kind).
func Details(e journal.Entry) string {
	if k, ok := Lookup(e.Kind); ok {
		return k.Details(e)
	}
	return ""
}

// ForVerb returns the kind whose staging verb is verb.
func ForVerb(verb string) (Kind, bool) {
	for _, k := range All() {
		if k.Spec().Verb == verb {
			return k, true
		}
	}
	return nil, false
}

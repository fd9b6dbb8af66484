// Package journal defines the entries of a branch's append-only journal, their
// canonical encoding, the hash chain that links them, and its verification.
//
// A journal is ISconf's: entries are only ever appended, never edited, removed
// or reordered, and every host of a branch replays them in sequence order.
// Each entry carries the hash of the entry before it, so an edited, reordered
// or truncated journal is detected on load.
package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Kind is the kind of change an entry makes.
type Kind string

// The entry kinds; engine/kinds holds what each one does.
const (
	KindFile     Kind = "file"     // install a snapshot of content with mode, owner, group
	KindTemplate Kind = "template" // render a text/template per host, then install like a file
	KindExec     Kind = "exec"     // run a shell command, optionally guarded
	KindReboot   Kind = "reboot"   // reboot the host; stops replay unless reboots are allowed
	KindRemove   Kind = "remove"   // delete a file or an empty directory
)

// KindRules are what the journal needs of an entry kind: engine/kinds
// registers each kind's (the journal cannot import them).
type KindRules struct {
	Check   func(Entry) error  // the kind's fields are well-formed
	Summary func(Entry) string // one-line subject
}

var (
	rulesMu sync.RWMutex
	rules   = map[Kind]KindRules{}
)

// RegisterKind records a kind's rules; engine/kinds calls it for every
// kind it registers.
func RegisterKind(k Kind, r KindRules) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	rules[k] = r
}

func rulesOf(k Kind) (KindRules, bool) {
	rulesMu.RLock()
	defer rulesMu.RUnlock()
	r, ok := rules[k]
	return r, ok
}

// Valid reports whether k is a registered entry kind. (A program that
// checks entries links engine/kinds, which registers them.)
func (k Kind) Valid() bool {
	_, ok := rulesOf(k)
	return ok
}

// Guard makes an exec entry conditional. An empty guard always runs.
type Guard struct {
	// Creates skips the command when this absolute path already exists
	// ("only if PATH is absent").
	Creates string `json:"creates,omitempty"`
	// Unless skips the command when this shell command exits 0.
	Unless string `json:"unless,omitempty"`
}

// Empty reports whether the guard has no condition.
func (g Guard) Empty() bool { return g.Creates == "" && g.Unless == "" }

// String describes the guard for humans.
func (g Guard) String() string {
	var parts []string
	if g.Creates != "" {
		parts = append(parts, "only if "+g.Creates+" is absent")
	}
	if g.Unless != "" {
		parts = append(parts, "unless `"+g.Unless+"` succeeds")
	}
	return strings.Join(parts, " and ")
}

// Entry is one change in a journal. The fields up to Time are covered by the
// hash; Hash itself is derived from them.
type Entry struct {
	Seq     uint64 `json:"seq"`
	Prev    string `json:"prev"` // hash of the entry before; "" for seq 1
	Kind    Kind   `json:"kind"`
	Path    string `json:"path,omitempty"`  // file, template: absolute target path
	Blob    string `json:"blob,omitempty"`  // file, template: sha256 of the content (hex), stored in the blob store
	Size    int64  `json:"size,omitempty"`  // file, template: content length in bytes
	Mode    uint32 `json:"mode,omitempty"`  // file, template: permission bits, e.g. 0o644
	Owner   string `json:"owner,omitempty"` // file, template: user name or numeric id
	Group   string `json:"group,omitempty"` // file, template: group name or numeric id
	Command string `json:"command,omitempty"`
	Guard   Guard  `json:"guard,omitempty"`
	// Secret marks content that faces never show (snap --secret): plans
	// and diffs show its hash. It is part of the hash, so it cannot be
	// taken off without breaking the chain.
	Secret bool `json:"secret,omitempty"`
	// AllowUserDir (file, template): write the target even where a
	// non-root user can change its directory (snap --allow-user-dir);
	// refused otherwise. Part of the hash, so signed with the changeset.
	AllowUserDir bool `json:"allow_user_dir,omitempty"`
	// Changeset is the sequence number of the first entry committed with this
	// one under the same lock (ISconf's ci).
	Changeset uint64    `json:"changeset"`
	Author    string    `json:"author"`
	Message   string    `json:"message"`
	Time      time.Time `json:"time"`
	Hash      string    `json:"hash"`
	// Approver and Signature are set on the last entry of a changeset at
	// approve, outside the hash: the signature signs the chain head (see
	// Statement), which covers every entry before it.
	Approver  string `json:"approver,omitempty"`
	Signature string `json:"signature,omitempty"`
}

// canonical is the hashed form of an entry: every field but Hash, in a fixed
// order, with the time in UTC at nanosecond precision.
type canonical struct {
	Seq       uint64 `json:"seq"`
	Prev      string `json:"prev"`
	Kind      Kind   `json:"kind"`
	Path      string `json:"path"`
	Blob      string `json:"blob"`
	Size      int64  `json:"size"`
	Mode      uint32 `json:"mode"`
	Owner     string `json:"owner"`
	Group     string `json:"group"`
	Command   string `json:"command"`
	Creates   string `json:"creates"`
	Unless    string `json:"unless"`
	Secret    bool   `json:"secret,omitempty"`         // omitted when false: older entries hash as before
	UserDir   bool   `json:"allow_user_dir,omitempty"` // likewise
	Changeset uint64 `json:"changeset"`
	Author    string `json:"author"`
	Message   string `json:"message"`
	Time      string `json:"time"`
}

// Canonical returns the bytes the entry's hash is computed over.
func (e Entry) Canonical() []byte {
	b, err := json.Marshal(canonical{
		Seq: e.Seq, Prev: e.Prev, Kind: e.Kind, Path: e.Path, Blob: e.Blob, Size: e.Size,
		Mode: e.Mode, Owner: e.Owner, Group: e.Group, Command: e.Command,
		Creates: e.Guard.Creates, Unless: e.Guard.Unless, Secret: e.Secret, UserDir: e.AllowUserDir, Changeset: e.Changeset,
		Author: e.Author, Message: e.Message, Time: e.Time.UTC().Format(time.RFC3339Nano),
	})
	if err != nil { // a struct of strings and numbers always marshals
		panic(err)
	}
	return b
}

// ComputeHash returns the hex sha256 of the entry's canonical encoding.
func (e Entry) ComputeHash() string {
	sum := sha256.Sum256(e.Canonical())
	return hex.EncodeToString(sum[:])
}

// Summary is a one-line description: the path or command the entry acts on.
func (e Entry) Summary() string {
	if r, ok := rulesOf(e.Kind); ok {
		return r.Summary(e)
	}
	return string(e.Kind)
}

// Seal fills Seq, Prev and Hash so that e follows prev (nil for the first
// entry) and returns the sealed entry.
func Seal(prev *Entry, e Entry) Entry {
	if prev == nil {
		e.Seq, e.Prev = 1, ""
	} else {
		e.Seq, e.Prev = prev.Seq+1, prev.Hash
	}
	e.Time = e.Time.UTC()
	e.Hash = e.ComputeHash()
	return e
}

// ChainError reports the first entry at which a journal fails verification.
type ChainError struct {
	Branch string
	Seq    uint64 // the first bad sequence number
	Reason string
}

func (e *ChainError) Error() string {
	b := ""
	if e.Branch != "" {
		b = " of branch " + e.Branch
	}
	return fmt.Sprintf("journal%s fails verification at seq %d: %s; the journal was edited, reordered or truncated — restore the store from a backup", b, e.Seq, e.Reason)
}

// ErrChain matches any *ChainError with errors.Is.
var ErrChain = errors.New("journal chain broken")

// Is lets errors.Is(err, ErrChain) match.
func (e *ChainError) Is(target error) bool { return target == ErrChain }

// Verify checks that entries form an unbroken chain starting at seq 1: each
// has the next sequence number, links to its predecessor's hash, is itself
// well-formed and hashes to its recorded Hash. If head is non-empty it must be
// the hash of the last entry, which detects truncation at the end.
func Verify(branch string, entries []Entry, head string) error {
	prev := ""
	for i, e := range entries {
		want := uint64(i + 1)
		if e.Seq != want {
			return &ChainError{Branch: branch, Seq: want, Reason: fmt.Sprintf("found seq %d where %d belongs", e.Seq, want)}
		}
		if e.Prev != prev {
			return &ChainError{Branch: branch, Seq: want, Reason: "link to the previous entry does not match"}
		}
		if err := e.Validate(); err != nil {
			return &ChainError{Branch: branch, Seq: want, Reason: err.Error()}
		}
		if h := e.ComputeHash(); h != e.Hash {
			return &ChainError{Branch: branch, Seq: want, Reason: "content does not match its hash"}
		}
		prev = e.Hash
	}
	if head != "" && head != prev {
		return &ChainError{Branch: branch, Seq: uint64(len(entries) + 1), Reason: "entries are missing after the last one (head hash does not match)"}
	}
	return nil
}

// Validate checks the fields an entry of its kind needs.
func (e Entry) Validate() error {
	r, ok := rulesOf(e.Kind)
	if !ok {
		return fmt.Errorf("unknown entry kind %q", e.Kind)
	}
	// The canonical encoding is JSON, which turns invalid UTF-8 into U+FFFD:
	// entries differing only there would share a hash, and the stored entry
	// would not be the one that was reviewed.
	for _, f := range [...]struct{ name, v string }{
		{"path", e.Path}, {"owner", e.Owner}, {"group", e.Group}, {"command", e.Command},
		{"guard", e.Guard.Creates + e.Guard.Unless}, {"author", e.Author}, {"message", e.Message},
	} {
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("entry %s %q is not valid UTF-8; use UTF-8 text (write binary content as a file entry)", f.name, f.v)
		}
	}
	return r.Check(e)
}

// forbiddenRoots are kernel and device filesystems: writing snapshots there is
// never a configuration change.
var forbiddenRoots = []string{"/proc", "/sys", "/dev"}

// ValidTargetPath checks that p is an absolute, clean path to a regular
// location outside /proc, /sys and /dev.
func ValidTargetPath(p string) error {
	if p == "" {
		return errors.New("target path is empty; give an absolute path such as /etc/motd")
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("target path %q is relative; give an absolute path such as /etc/motd", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." || part == "." {
			return fmt.Errorf("target path %q contains %q; give a clean absolute path", p, part)
		}
	}
	if path.Clean(p) != p || p == "/" {
		return fmt.Errorf("target path %q is not a clean absolute file path", p)
	}
	if strings.ContainsAny(p, "\x00\n\r") {
		return fmt.Errorf("target path %q contains a NUL or newline", p)
	}
	for _, root := range forbiddenRoots {
		if p == root || strings.HasPrefix(p, root+"/") {
			return fmt.Errorf("target path %q is under %s, a kernel filesystem; discoterm does not manage files there", p, root)
		}
	}
	return nil
}

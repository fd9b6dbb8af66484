package kinds

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
)

// Effect is what a pending entry would do on a host.
type Effect string

// The effects a plan predicts.
const (
	EffectCreate    Effect = "created"
	EffectModify    Effect = "modified"
	EffectDelete    Effect = "deleted"
	EffectUnchanged Effect = "unchanged"
	EffectRun       Effect = "would run"
	EffectFail      Effect = "would fail" // an exec exited non-zero (or hit a cap) in the sandbox
	EffectSkip      Effect = "skipped by guard"
	EffectReboot    Effect = "would reboot"
	EffectError     Effect = "error" // e.g. template failed to render on this host
)

// Change is one pending entry's predicted effect on one host.
type Change struct {
	Seq     uint64       `json:"seq"`
	Staged  bool         `json:"staged,omitempty"` // not yet committed; Seq is what approve will give it
	Kind    journal.Kind `json:"kind"`
	Path    string       `json:"path,omitempty"`
	Command string       `json:"command,omitempty"`
	Guard   string       `json:"guard,omitempty"` // human text of the guard and how it evaluated
	Effect  Effect       `json:"effect"`
	Note    string       `json:"note,omitempty"` // what else the operator should know, e.g. "absent already"
	// Files and templates (and what remove deletes).
	Diff     string `json:"diff,omitempty"` // unified diff, "" when unchanged or binary
	Binary   bool   `json:"binary,omitempty"`
	OldHash  string `json:"old_hash,omitempty"`
	NewHash  string `json:"new_hash,omitempty"`
	OldMode  string `json:"old_mode,omitempty"` // octal, "" when absent
	NewMode  string `json:"new_mode,omitempty"`
	OldOwner string `json:"old_owner,omitempty"` // "user:group"
	NewOwner string `json:"new_owner,omitempty"`
	// Secret: the content (old, new or both) is secret; Diff is one line
	// naming the content hashes instead (MaskSecret).
	Secret bool `json:"secret,omitempty"`
	// AllowUserDir: the entry was staged with --allow-user-dir; the write
	// goes through even where a non-root user can change the directory.
	AllowUserDir bool   `json:"allow_user_dir,omitempty"`
	Err          string `json:"error,omitempty"`
	// Exec entries run in the host's sandbox (Sandboxed): the files they
	// changed there, their exit status, the first part of their output
	// and the cap that ended them, if any. NotSimulated says why an exec
	// was not run in a sandbox (then no --unless guard was evaluated).
	Sandboxed    bool         `json:"sandboxed,omitempty"`
	Files        []FileChange `json:"files,omitempty"`
	ExitCode     int          `json:"exit_code,omitempty"`
	Output       string       `json:"output,omitempty"`
	Cap          string       `json:"cap,omitempty"`
	NotSimulated string       `json:"not_simulated,omitempty"`
	// Repair marks a drift repair: the entry is one the host applied
	// already, installed again; the host's position does not move.
	Repair bool `json:"repair,omitempty"`
}

// FileChange is one path an exec entry changed in the sandbox, in the
// terms of a file entry's change.
type FileChange struct {
	Path      string `json:"path"`
	Effect    Effect `json:"effect"` // created, modified, deleted
	Type      string `json:"type"`   // file, dir, symlink, other (what it is after; before, when deleted)
	Diff      string `json:"diff,omitempty"`
	Binary    bool   `json:"binary,omitempty"`
	OldHash   string `json:"old_hash,omitempty"`
	NewHash   string `json:"new_hash,omitempty"`
	OldMode   string `json:"old_mode,omitempty"`
	NewMode   string `json:"new_mode,omitempty"`
	OldOwner  string `json:"old_owner,omitempty"`
	NewOwner  string `json:"new_owner,omitempty"`
	OldTarget string `json:"old_target,omitempty"` // symlinks
	NewTarget string `json:"new_target,omitempty"`
	Secret    bool   `json:"secret,omitempty"` // a secret path: Diff names hashes only
}

// Summary is a one-line description of the change's subject: its path,
// else its command, else its kind.
func (c Change) Summary() string {
	switch {
	case c.Path != "":
		return c.Path
	case c.Command != "":
		return c.Command
	}
	return string(c.Kind)
}

// Path is what a path holds at some point of a simulated replay.
type Path struct {
	Exists  bool
	Type    string // file, dir, symlink, other
	Hash    string
	Size    int64
	Mode    uint32
	Owner   string
	Group   string
	Content []byte // the content, when Known
	Known   bool
	Target  string // of a symlink, when the sandbox reported it
}

// Host is a host during a simulated replay: what the probe found, then
// what each pending entry did to it.
type Host struct {
	probe *remote.ProbeResult
	old   map[string][]byte
	paths map[string]*Path
	// Sandbox is the host's sandbox report of its pending exec entries;
	// nil when there is none, and then NotSimulated says why.
	Sandbox      *remote.SandboxResult
	NotSimulated string
	NoopTimeout  time.Duration // each entry's limit, for the plan's words
	NoopSpace    int64         // the sandbox's cap on changes, in bytes
	NoopOutput   int64         // its cap on an entry's output, in bytes
	NoopProcs    int           // its cap on processes alive at once
	// Bound are the paths the sandbox saw a command change, with their
	// state on the host before: the engine adds them to the fingerprint.
	Bound []BoundPath
	known map[string]bool // paths an exec's report set
}

// BoundPath is a host path a planned command changes, as it was on the
// host when planned.
type BoundPath struct {
	Path  string
	State remote.FileState
}

// known reports whether the simulation knows p's state (probed, or left
// by an earlier entry's sandbox report).
func (h *Host) knows(p string) bool {
	_, probed := h.probe.Paths[p]
	return probed || h.known[p]
}

// NewHost starts a simulation from a probe's answer and the old contents
// fetched for diffs.
func NewHost(res *remote.ProbeResult, old map[string][]byte) *Host {
	return &Host{probe: res, old: old, paths: map[string]*Path{}}
}

// Path returns the simulated state of p; changes to it carry on to the
// entries after.
func (h *Host) Path(p string) *Path {
	if s, ok := h.paths[p]; ok {
		return s
	}
	info := h.probe.Paths[p]
	s := &Path{Exists: info.Exists, Type: info.Type, Hash: info.Hash, Size: info.Size, Mode: info.Mode, Owner: info.Owner, Group: info.Group}
	if c, ok := h.old[p]; ok {
		s.Content, s.Known = c, true
	}
	h.paths[p] = s
	return s
}

// Sum is the hex sha256 of b, as content is addressed everywhere.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

package kinds

import (
	"crypto/sha256"
	"encoding/hex"

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
	Err      string `json:"error,omitempty"`
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
}

// Host is a host during a simulated replay: what the probe found, then
// what each pending entry did to it.
type Host struct {
	probe *remote.ProbeResult
	old   map[string][]byte
	paths map[string]*Path
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

// Guard is the exit status the probe saw for an unless-command.
func (h *Host) Guard(cmd string) (int, bool) {
	code, ok := h.probe.Unless[cmd]
	return code, ok
}

// Sum is the hex sha256 of b, as content is addressed everywhere.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

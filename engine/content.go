package engine

import (
	"fmt"

	"github.com/discoterm/discoterm/engine/diff"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/store"
)

// EntryContent is what a file or template entry installs, and how it
// differs from what the journal had at that path before.
type EntryContent struct {
	Content []byte `json:"content,omitempty"` // nil when binary or too large to show
	Size    int    `json:"size"`
	Binary  bool   `json:"binary,omitempty"`
	// Diff is a unified diff against the content of the branch's previous
	// entry for the same path (PrevSeq), "" when there is none.
	Diff    string `json:"diff,omitempty"`
	PrevSeq uint64 `json:"prev_seq,omitempty"`
	// Secret: the entry's content (or the one it replaces) is secret:
	// Content is nil and Diff is one line naming the hashes.
	Secret bool `json:"secret,omitempty"`
}

// Content reads what entry en of branch installs. A staged entry (not yet
// committed) is compared with the last committed entry for its path.
func (e *Engine) Content(branch string, en journal.Entry) (*EntryContent, error) {
	if en.Blob == "" {
		return nil, fmt.Errorf("%w: %s entries have no content", ErrUsage, en.Kind)
	}
	out := &EntryContent{}
	err := e.opts.Store.View(func(tx store.Tx) error {
		data, err := tx.Blob(en.Blob)
		if err != nil {
			return fmt.Errorf("content of %s: %w", en.Summary(), err)
		}
		out.Size = len(data)
		if en.Secret {
			out.Secret = true
			out.Diff = kinds.SecretDiff("", en.Blob)
		} else if diff.IsBinary(data) || len(data) > MaxDiff {
			out.Binary = diff.IsBinary(data)
			return nil
		} else {
			out.Content = data
		}
		entries, err := tx.Journal(branch)
		if err != nil {
			return err
		}
		for i := len(entries) - 1; i >= 0; i-- {
			p := entries[i]
			if (en.Seq != 0 && p.Seq >= en.Seq) || p.Path != en.Path || p.Blob == "" || p.Hash == en.Hash {
				continue
			}
			if p.Secret || en.Secret {
				// Either side secret: the hashes, never the lines.
				out.PrevSeq, out.Secret = p.Seq, true
				out.Diff = kinds.SecretDiff(p.Blob, en.Blob)
				return nil
			}
			old, err := tx.Blob(p.Blob)
			if err != nil || diff.IsBinary(old) || len(old) > MaxDiff {
				return nil // nothing to compare with that can be shown
			}
			out.PrevSeq = p.Seq
			out.Diff = diff.Unified(fmt.Sprintf("seq %d", p.Seq), "this entry", string(old), string(data))
			return nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

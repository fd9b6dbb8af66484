package kinds

import (
	"fmt"

	"github.com/discoterm/discoterm/engine/diff"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
)

// remove deletes a file, a symlink or an empty directory. A path already
// absent is done (replay is idempotent); a directory that is not empty is
// refused on the host, entry failed, nothing deleted.
type remove struct{}

func init() { Register(remove{}) }

func (remove) Name() journal.Kind { return journal.KindRemove }

func (remove) Spec() Spec {
	return Spec{Verb: "remove", Args: "PATH", Help: "stage deleting a file or an empty directory on the hosts", MinArgs: 1, MaxArgs: 1}
}

func (remove) Request(in Input) (Request, error) {
	if len(in.Args) != 1 {
		return Request{}, fmt.Errorf("remove needs one PATH on the hosts, got %d arguments", len(in.Args))
	}
	if err := journal.ValidTargetPath(in.Args[0]); err != nil {
		return Request{}, err
	}
	return Request{Kind: journal.KindRemove, Path: in.Args[0]}, nil
}

func (remove) Stage(req Request) (journal.Entry, error) {
	e := journal.Entry{Kind: journal.KindRemove, Path: req.Path}
	if err := journal.ValidTargetPath(req.Path); err != nil {
		return e, err
	}
	return e, nil
}

func (remove) Check(e journal.Entry) error { return journal.ValidTargetPath(e.Path) }

func (remove) Content() ContentUse { return ContentNone }

func (remove) Render(_ journal.Entry, src []byte, _ map[string]string) ([]byte, error) {
	return src, nil
}

func (remove) Needs(e journal.Entry) Needs { return Needs{Paths: []string{e.Path}} }

// Fetch: the old content is the diff of a deletion.
func (remove) Fetch(_ journal.Entry, _ []byte, cur remote.PathInfo) bool {
	return cur.Exists && cur.Type == "file" && cur.Size <= MaxDiff
}

func (remove) Simulate(e journal.Entry, _ []byte, h *Host) Change {
	c := Change{Path: e.Path}
	cur := h.Path(e.Path)
	if !cur.Exists {
		c.Effect, c.Note = EffectUnchanged, "absent already"
		return c
	}
	c.Effect = EffectDelete
	c.OldHash, c.OldMode, c.OldOwner = cur.Hash, fmt.Sprintf("%04o", cur.Mode), cur.Owner+":"+cur.Group
	switch {
	case cur.Type == "dir":
		c.Note = "a directory: deleted only if it is empty"
	case cur.Type != "file":
		c.Note = "a " + cur.Type
	case cur.Known && !diff.IsBinary(cur.Content):
		c.Diff = diff.Unified("a"+e.Path, "/dev/null", string(cur.Content), "")
	default:
		c.Binary = true // binary, or too large to fetch: show the hash
	}
	*cur = Path{}
	return c
}

func (remove) Op(e journal.Entry, _ []byte) remote.BundleEntry {
	return remote.BundleEntry{Op: remote.OpRemove, Path: e.Path}
}

func (remove) Summary(e journal.Entry) string { return e.Path }

func (remove) Details(journal.Entry) string { return "" }

package kinds

import (
	"fmt"

	"github.com/discoterm/discoterm/engine/diff"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
)

// file installs a snapshot of content with mode, owner and group.
type file struct{}

func init() { Register(file{}) }

func (file) Name() journal.Kind { return journal.KindFile }

func (file) Spec() Spec {
	return Spec{Verb: "snap", Args: "LOCALFILE", Help: "stage a snapshot of a local file (its mode unless --mode)",
		Flags: fileFlags, MinArgs: 1, MaxArgs: 1}
}

var fileFlags = []Flag{
	{Name: "to", Value: "PATH", Help: "absolute path on the hosts", Required: true},
	{Name: "mode", Value: "MODE", Help: "octal permission mode (default: the local file's for snap, 0644 for template)"},
	{Name: "owner", Value: "USER[:GROUP]", Help: "owner on the hosts (default root)"},
	{Name: "group", Value: "GROUP", Help: "group on the hosts (default root)"},
	{Name: "secret", Bool: true, Help: "secret content: every face shows only its sha256"},
	{Name: "allow-user-dir", Bool: true, Help: "write even into a directory a non-root user can change"},
}

func (file) Request(in Input) (Request, error) {
	return fileRequest(journal.KindFile, "snap", in, true)
}

// fileRequest reads LOCALFILE and the flags of snap and template; keepMode
// takes the local file's mode when --mode is not given.
// verb names the staging verb in messages, as the operator typed it.
func fileRequest(kind journal.Kind, verb string, in Input, keepMode bool) (Request, error) {
	if len(in.Args) != 1 {
		return Request{}, fmt.Errorf("%s needs one LOCALFILE, got %d arguments", verb, len(in.Args))
	}
	to := in.Flags["to"]
	if to == "" {
		return Request{}, fmt.Errorf("%s needs --to PATH, the absolute path on the hosts", verb)
	}
	// The target is checked before the local file is read: a bad path
	// needs no IO to refuse.
	if err := journal.ValidTargetPath(to); err != nil {
		return Request{}, err
	}
	if in.ReadFile == nil {
		return Request{}, fmt.Errorf("%s: no way to read local files here", verb)
	}
	content, localMode, err := in.ReadFile(in.Args[0])
	if err != nil {
		return Request{}, err
	}
	req := Request{Kind: kind, Content: content, Source: in.Args[0], Path: to}
	if m, ok := in.Flags["mode"]; ok {
		if req.Mode, err = parseMode(m); err != nil {
			return Request{}, err
		}
	} else if keepMode {
		req.Mode = localMode & 0o7777
	}
	req.Owner, req.Group = splitOwner(in.Flags)
	req.Secret = in.Flags["secret"] == "true"
	req.AllowUserDir = in.Flags["allow-user-dir"] == "true"
	return req, nil
}

func (file) Stage(req Request) (journal.Entry, error) { return stageFile(req) }

// stageFile checks what file and template entries share.
func stageFile(req Request) (journal.Entry, error) {
	e := journal.Entry{Kind: req.Kind, Path: req.Path, Mode: req.Mode, Owner: req.Owner, Group: req.Group, Secret: req.Secret, AllowUserDir: req.AllowUserDir}
	if err := journal.ValidTargetPath(req.Path); err != nil {
		return e, err
	}
	if len(req.Content) > MaxContent {
		return e, fmt.Errorf("content is %d bytes; the limit is %d MiB", len(req.Content), MaxContent>>20)
	}
	if e.Mode == 0 {
		e.Mode = 0o644
	}
	if e.Mode > 0o7777 {
		return e, fmt.Errorf("mode %o is not a permission mode (0000–7777)", e.Mode)
	}
	if e.Owner == "" {
		e.Owner = "root"
	}
	if e.Group == "" {
		e.Group = "root"
	}
	if err := checkOwner("owner", e.Owner); err != nil {
		return e, err
	}
	if err := checkOwner("group", e.Group); err != nil {
		return e, err
	}
	e.Size = int64(len(req.Content))
	return e, nil
}

func (file) Check(e journal.Entry) error { return checkFile(e) }

func checkFile(e journal.Entry) error {
	if err := journal.ValidTargetPath(e.Path); err != nil {
		return err
	}
	if len(e.Blob) != 64 {
		return fmt.Errorf("entry for %s has no content hash", e.Path)
	}
	if e.Mode > 0o7777 {
		return fmt.Errorf("mode %o out of range", e.Mode)
	}
	return nil
}

func (file) Content() ContentUse { return ContentStaged }

func (file) Render(_ journal.Entry, src []byte, _ map[string]string) ([]byte, error) { return src, nil }

func (file) Needs(e journal.Entry) Needs { return Needs{Paths: []string{e.Path}} }

func (file) Fetch(e journal.Entry, want []byte, cur remote.PathInfo) bool {
	return !e.Secret && fetchForFile(want, cur)
}

// fetchForFile: a regular file that will change, small enough to diff.
func fetchForFile(want []byte, cur remote.PathInfo) bool {
	return cur.Exists && cur.Type == "file" && cur.Hash != Sum(want) && cur.Size <= MaxDiff
}

func (file) Simulate(e journal.Entry, want []byte, h *Host) Change { return simulateFile(e, want, h) }

// simulateFile predicts installing want at e.Path: created, modified or
// unchanged, with the diff.
func simulateFile(e journal.Entry, want []byte, h *Host) Change {
	c := Change{Path: e.Path, AllowUserDir: e.AllowUserDir}
	cur := h.Path(e.Path)
	newHash := Sum(want)
	c.NewHash, c.NewMode, c.NewOwner = newHash, fmt.Sprintf("%04o", e.Mode), e.Owner+":"+e.Group
	if cur.Exists {
		c.OldHash, c.OldMode, c.OldOwner = cur.Hash, fmt.Sprintf("%04o", cur.Mode), cur.Owner+":"+cur.Group
	}
	switch {
	case cur.Exists && cur.Type == "dir":
		c.Effect, c.Err = EffectError, e.Path+" is a directory on this host"
		return c
	case !cur.Exists:
		c.Effect = EffectCreate
	case cur.Hash == newHash && cur.Mode == e.Mode && cur.Owner == e.Owner && cur.Group == e.Group:
		c.Effect = EffectUnchanged
	default:
		c.Effect = EffectModify
	}
	if cur.Hash != newHash || !cur.Exists {
		switch {
		case diff.IsBinary(want) || (cur.Known && diff.IsBinary(cur.Content)):
			c.Binary = true
		case !cur.Exists:
			c.Diff = diff.Unified("/dev/null", "b"+e.Path, "", string(want))
		case cur.Known:
			c.Diff = diff.Unified("a"+e.Path, "b"+e.Path, string(cur.Content), string(want))
		default:
			c.Binary = true // a symlink or special file, or too large to fetch: show hashes
		}
	}
	*cur = Path{Exists: true, Type: "file", Hash: newHash, Size: int64(len(want)), Mode: e.Mode, Owner: e.Owner, Group: e.Group, Content: want, Known: true}
	return c
}

func (file) Op(e journal.Entry, content []byte) remote.BundleEntry { return fileOp(e, content) }

func fileOp(e journal.Entry, content []byte) remote.BundleEntry {
	return remote.BundleEntry{Op: remote.OpFile, Path: e.Path, Content: content, Mode: e.Mode, Owner: e.Owner, Group: e.Group, AllowUserDir: e.AllowUserDir}
}

func (file) Summary(e journal.Entry) string { return e.Path }

func (file) Details(e journal.Entry) string { return fileDetails(e) }

func fileDetails(e journal.Entry) string {
	s := fmt.Sprintf("%04o %s:%s, %d bytes", e.Mode, e.Owner, e.Group, e.Size)
	if e.Secret {
		s += ", secret"
	}
	if e.AllowUserDir {
		s += ", user-writable directory allowed"
	}
	return s
}

package engine

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/discoterm/discoterm/engine/diff"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// simPath is what a path holds at some point of a simulated replay.
type simPath struct {
	exists  bool
	typ     string
	hash    string
	mode    uint32
	owner   string
	group   string
	content []byte // nil when not known (not fetched)
	known   bool
}

// simulate replays pending entries in memory against the probed host state
// and predicts each one's effect. staged entries are those with seq >
// committed.
func simulate(pending []journal.Entry, res *remote.ProbeResult, content map[uint64][]byte, renderErr map[uint64]string, old map[string][]byte, committed int) []Change {
	sim := map[string]*simPath{}
	get := func(p string) *simPath {
		if s, ok := sim[p]; ok {
			return s
		}
		info := res.Paths[p]
		s := &simPath{exists: info.Exists, typ: info.Type, hash: info.Hash, mode: info.Mode, owner: info.Owner, group: info.Group}
		if c, ok := old[p]; ok {
			s.content, s.known = c, true
		}
		sim[p] = s
		return s
	}
	changes := make([]Change, 0, len(pending))
	for _, en := range pending {
		c := Change{Seq: en.Seq, Staged: en.Seq > uint64(committed), Kind: en.Kind, Path: en.Path, Command: en.Command}
		switch en.Kind {
		case journal.KindFile, journal.KindTemplate:
			if msg, bad := renderErr[en.Seq]; bad {
				c.Effect, c.Err = EffectError, msg
				break
			}
			fileChange(&c, en, get(en.Path), content[en.Seq])
		case journal.KindExec:
			c.Effect = EffectRun
			var why []string
			if g := en.Guard.Creates; g != "" {
				if get(g).exists {
					c.Effect = EffectSkip
					why = append(why, "present now")
				} else {
					why = append(why, "absent now")
				}
			}
			if u := en.Guard.Unless; u != "" {
				if code, ok := res.Unless[u]; ok && code == 0 {
					c.Effect = EffectSkip
					why = append(why, "exits 0 now")
				} else {
					why = append(why, fmt.Sprintf("exits %d now", code))
				}
			}
			if !en.Guard.Empty() {
				c.Guard = en.Guard.String() + ": " + strings.Join(why, ", ")
			}
		case journal.KindReboot:
			c.Effect = EffectReboot
		}
		changes = append(changes, c)
	}
	return changes
}

func fileChange(c *Change, en journal.Entry, cur *simPath, want []byte) {
	newHash := sha(want)
	c.NewHash, c.NewMode, c.NewOwner = newHash, fmt.Sprintf("%o", en.Mode), en.Owner+":"+en.Group
	if cur.exists {
		c.OldHash, c.OldMode, c.OldOwner = cur.hash, fmt.Sprintf("%o", cur.mode), cur.owner+":"+cur.group
	}
	switch {
	case cur.exists && cur.typ == "dir":
		c.Effect, c.Err = EffectError, en.Path+" is a directory on this host"
		return
	case !cur.exists:
		c.Effect = EffectCreate
	case cur.hash == newHash && cur.mode == en.Mode && cur.owner == en.Owner && cur.group == en.Group:
		c.Effect = EffectUnchanged
	default:
		c.Effect = EffectModify
	}
	if cur.hash != newHash || !cur.exists {
		switch {
		case diff.IsBinary(want) || (cur.known && diff.IsBinary(cur.content)):
			c.Binary = true
		case !cur.exists:
			c.Diff = diff.Unified("/dev/null", "b"+en.Path, "", string(want))
		case cur.known:
			c.Diff = diff.Unified("a"+en.Path, "b"+en.Path, string(cur.content), string(want))
		case cur.typ != "file":
			c.Binary = true // replaces a symlink or special file: show hashes
		default:
			c.Binary = true // too large to fetch for a diff
		}
	}
	*cur = simPath{exists: true, typ: "file", hash: newHash, mode: en.Mode, owner: en.Owner, group: en.Group, content: want, known: true}
}

// templateVars is what a template sees: the host's classification
// variables, plus facts it cannot override by accident.
func templateVars(cls map[string]string, h store.Host, res *remote.ProbeResult, branch string) map[string]string {
	v := map[string]string{}
	for k, x := range cls {
		v[k] = x
	}
	set := func(k, x string) {
		if _, ok := v[k]; !ok {
			v[k] = x
		}
	}
	set("HOSTNAME", res.Facts.Hostname)
	set("MACHINE_ID", res.Facts.MachineID)
	set("ADDR", h.Addr)
	set("BRANCH", branch)
	set("OS", res.Facts.OS)
	return v
}

// render executes a template entry for one host. Errors carry the
// template's path and line.
func render(en journal.Entry, src []byte, vars map[string]string) ([]byte, error) {
	t, err := parseTemplate(en.Path, string(src))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, vars); err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	return b.Bytes(), nil
}

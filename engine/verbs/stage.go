package verbs

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/kinds"
)

// stagingVerbs are one verb per registered entry kind, then staged and
// drop.
func stagingVerbs() []*Verb {
	var vs []*Verb
	for _, k := range allKinds() {
		vs = append(vs, kindVerb(k))
	}
	return append(vs,
		&Verb{Name: "staged", Group: GroupStaging, Help: "list staged (uncommitted) entries by the seq approve will give them",
			Args: []Arg{{Name: "BRANCH", Optional: true}}, Flags: []Flag{branchFlag},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				branch := c.Arg(0)
				if branch == "" {
					var err error
					if branch, err = lockedBranch(b, c); err != nil {
						return nil, err
					}
				}
				es, l, err := b.Staged(branch)
				if err != nil {
					return nil, err
				}
				return StagedList{Branch: branch, Entries: es, Lock: l}, nil
			}},
		&Verb{Name: "drop", Group: GroupStaging, Help: "remove the staged entry approve would commit as SEQ",
			Args: []Arg{{Name: "SEQ"}}, Flags: []Flag{branchFlag},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				seq, err := strconv.ParseUint(strings.TrimPrefix(c.Arg(0), "#"), 10, 64)
				if err != nil || seq < 1 {
					return nil, usagef("drop needs the seq of a staged entry, not %q (staged lists them)", c.Arg(0))
				}
				branch, err := lockedBranch(b, c)
				if err != nil {
					return nil, err
				}
				if err := b.Drop(branch, seq); err != nil {
					return nil, err
				}
				return Done{"drop", fmt.Sprintf("dropped staged seq %d on %s", seq, branch)}, nil
			}},
	)
}

// allKinds is the kinds registry.
func allKinds() []kinds.Kind { return kinds.All() }

// kindVerb turns a kind's Spec into a verb: its arguments, its flags plus
// --branch, and a Run that hands the parsed input to the kind.
func kindVerb(k kinds.Kind) *Verb {
	s := k.Spec()
	v := &Verb{Name: s.Verb, Group: GroupStaging, Help: s.Help}
	names := strings.Fields(s.Args)
	for i, n := range names {
		n = strings.Trim(n, "[]…")
		many := strings.Contains(names[i], "…") || (i == len(names)-1 && s.MaxArgs < 0 && !s.Rest)
		v.Args = append(v.Args, Arg{Name: n, Optional: i >= s.MinArgs, Many: many})
	}
	for _, f := range s.Flags {
		t := String
		if f.Bool {
			t = Bool
		}
		v.Flags = append(v.Flags, Flag{Name: f.Name, Type: t, Value: f.Value, Help: f.Help, Required: f.Required})
	}
	v.Flags = append(v.Flags, branchFlag)
	if s.Rest {
		v.Command = "COMMAND"
	}
	v.Run = func(_ context.Context, b Backend, c *Call) (Result, error) {
		in := kinds.Input{Args: append([]string(nil), c.Args...), Flags: map[string]string{}, ReadFile: c.ReadFile}
		if v.Command != "" {
			// The command as one argument, exactly as the face got it.
			in.Args = append(in.Args, c.Command)
		}
		for name, val := range c.Flags {
			if name != "branch" {
				in.Flags[name] = val
			}
		}
		if in.ReadFile == nil {
			in.ReadFile = ReadLocal
		}
		req, err := k.Request(in)
		if err != nil {
			return nil, asUsage(err) // the kind refused what was typed
		}
		branch, err := lockedBranch(b, c)
		if err != nil {
			return nil, err
		}
		e, err := b.Stage(branch, req)
		if err != nil {
			return nil, err
		}
		staged, _, err := b.Staged(branch)
		if err != nil {
			return nil, err
		}
		return Staged{Branch: branch, Count: len(staged), Entry: e}, nil
	}
	return v
}

// ReadLocal reads a local file to stage with the engine's checks (exists,
// regular, size limit) and returns its permission bits.
func ReadLocal(path string) ([]byte, uint32, error) { return engine.ReadSourceMode(path) }

package verbs

import (
	"context"
	"fmt"
	"strconv"

	"github.com/discoterm/discoterm/engine"
)

// RevertBackend is the part of the engine revert needs beyond Backend; a
// backend without it refuses the verb with a clear error.
type RevertBackend interface {
	Revert(ctx context.Context, req engine.RevertRequest) (*engine.RevertResult, error)
}

var _ RevertBackend = (*engine.Engine)(nil)

// Reverted is what revert staged and the plan that shows it.
type Reverted struct {
	Result *engine.RevertResult
}

// Summary implements Result.
func (r Reverted) Summary() string {
	s := fmt.Sprintf("staged %s on %s putting back what entries after seq %d changed", count(len(r.Result.Staged), "entry"), r.Result.Branch, r.Result.To)
	if p := r.Result.Plan; p != nil {
		s += fmt.Sprintf("; review plan %s, then approve and push it", p.ID)
	}
	return s
}

func revertVerbs() []*Verb {
	return []*Verb{
		{Name: "revert", Group: GroupFlow, Help: "stage entries putting back what hosts held at seq SEQ, and plan them (the journal stays append-only; needs your lock)",
			Args:  []Arg{{Name: "HOST", Many: true}},
			Flags: []Flag{{Name: "to", Type: String, Value: "SEQ", Required: true, Help: "the journal position whose files to put back"}, branchFlag},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				rb, ok := b.(RevertBackend)
				if !ok {
					return nil, usagef("this console cannot revert")
				}
				to, err := strconv.ParseUint(c.Str("to"), 10, 63)
				if err != nil {
					return nil, usagef("--to %q: give the sequence number of a journal entry (see: log)", c.Str("to"))
				}
				res, err := rb.Revert(ctx, engine.RevertRequest{Branch: c.Branch(), Hosts: c.Args, To: to})
				if res == nil || len(res.Staged) == 0 {
					if err == nil {
						err = fmt.Errorf("revert staged nothing")
					}
					return nil, err
				}
				return Reverted{Result: res}, err
			}},
	}
}

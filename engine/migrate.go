package engine

import (
	"context"
	"fmt"

	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// Migrate moves a host to another branch with ISconf's rule: the new
// branch's journal must be a contiguous superset of what the host applied.
// Since every entry's hash covers its predecessor, that is: the new branch
// has an entry at the host's position with the hash the host recorded.
// The host's own state file is rewritten (atomically) to name the new
// branch, then the assignment is recorded.
func (e *Engine) Migrate(ctx context.Context, host, branch string) error {
	var h store.Host
	var head uint64
	var entriesHash func(uint64) string
	err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		if h, err = findHost(tx, host); err != nil {
			return err
		}
		b, entries, err := e.loadJournal(tx, branch)
		if err != nil {
			return err
		}
		head = b.Head
		entriesHash = func(pos uint64) string {
			if pos == 0 || pos > uint64(len(entries)) {
				return ""
			}
			return entries[pos-1].Hash
		}
		return nil
	})
	if err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout)
	defer cancel()
	t := target(h)
	res, err := e.opts.Remote.Probe(hctx, t, remote.ProbeRequest{StateDir: e.opts.StateDir})
	if err != nil {
		return err
	}
	if res.StateErr != "" {
		return fmt.Errorf("%s: state file is corrupt: %s", displayName(h), res.StateErr)
	}
	st := res.State
	if st.Branch == branch {
		return fmt.Errorf("%w: %s is already on branch %s", ErrUsage, displayName(h), branch)
	}
	if st.Position > head || (st.Position > 0 && entriesHash(st.Position) != st.Hash) {
		return fmt.Errorf("%w: cannot migrate %s to %s: the host applied %d entries of %s, and %s's journal does not contain them in the same order (it must be a contiguous superset; fork from the host's branch instead)",
			ErrUsage, displayName(h), branch, st.Position, orDefault(st.Branch, "no branch"), branch)
	}
	b := &remote.Bundle{StateDir: e.opts.StateDir, Branch: branch, ExpectBranch: st.Branch, ExpectPosition: st.Position, ExpectHash: st.Hash}
	ar, err := e.opts.Remote.Apply(hctx, t, b, nil)
	if err != nil {
		return err
	}
	if ar.Stale != "" {
		return fmt.Errorf("%w: %s changed while migrating (%s); try again", ErrStale, displayName(h), ar.Stale)
	}
	now := e.now()
	err = e.opts.Store.Update(func(tx store.Tx) error {
		cur, err := tx.Host(h.ID)
		if err != nil {
			return err
		}
		cur.Branch, cur.StateBranch, cur.Position, cur.PositionHash, cur.StateSeen = branch, branch, st.Position, st.Hash, now
		if err := tx.PutHost(cur); err != nil {
			return err
		}
		msg := fmt.Sprintf("%s migrated from %s at position %d", displayName(h), orDefault(st.Branch, "no branch"), st.Position)
		return tx.AddAudit(store.AuditRecord{Branch: branch, Time: now, Actor: e.opts.Operator, Action: "migrate", Message: msg})
	})
	if err != nil {
		return err
	}
	h.Branch, h.StateBranch, h.Position, h.PositionHash, h.StateSeen = branch, branch, st.Position, st.Hash, now
	e.emitHost(h, HostAssigned, LevelInfo, displayName(h)+" migrated to "+branch)
	return nil
}

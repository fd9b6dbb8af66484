package engine

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// GetPlan loads a saved plan.
func (e *Engine) GetPlan(id string) (*Plan, error) {
	var p *Plan
	err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		p, err = getPlan(tx, id)
		return err
	})
	return p, err
}

func getPlan(tx store.Tx, id string) (*Plan, error) {
	rec, err := tx.Plan(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no plan %q; make one with: plan", ErrNotFound, id)
	} else if err != nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(rec.Data, &p); err != nil {
		return nil, fmt.Errorf("plan %s: %w: %v", id, store.ErrCorruptRecord, err)
	}
	p.Approved, p.Pushed = rec.Approved, rec.Pushed
	return &p, nil
}

// sameChange reports whether a staged entry is the one a plan reviewed.
func sameChange(a, b journal.Entry) bool {
	return a.Kind == b.Kind && a.Path == b.Path && a.Blob == b.Blob && a.Mode == b.Mode && a.Owner == b.Owner &&
		a.Group == b.Group && a.Command == b.Command && a.Guard == b.Guard
}

// Approve commits the plan's staged entries to the journal (ISconf's ci)
// and releases the lock unless keepLock; a plan with no staged entries is
// just marked approved. The staged list and journal head must be exactly
// what the plan reviewed.
func (e *Engine) Approve(planID string, keepLock bool) (*Plan, error) {
	now, me := e.now(), e.opts.Operator
	var p *Plan
	var sealed []journal.Entry
	err := e.opts.Store.Update(func(tx store.Tx) error {
		var err error
		if p, err = getPlan(tx, planID); err != nil {
			return err
		}
		if p.Approved {
			return fmt.Errorf("%w: plan %s is already approved; push it with: push %s", ErrUsage, p.ID, p.ID)
		}
		b, err := tx.Branch(p.Branch)
		if err != nil {
			return err
		}
		if len(p.Staged) > 0 {
			// The head first: an approval that lost a race to another must
			// hear that the branch moved (re-plan), not that the winner
			// has since released the lock.
			if b.Head != p.Head || b.HeadHash != p.HeadHash {
				return fmt.Errorf("%w: branch moved: the journal of %s moved from seq %d to %d since plan %s; re-plan", ErrStale, p.Branch, p.Head, b.Head, p.ID)
			}
			l, err := e.requireLock(tx, p.Branch)
			if err != nil {
				return err
			}
			staged, err := tx.Staged(p.Branch)
			if err != nil {
				return err
			}
			if len(staged) != len(p.Staged) {
				verb := "are"
				if len(staged) == 1 {
					verb = "is"
				}
				return fmt.Errorf("%w: %s %s staged now, plan %s reviewed %d; re-plan", ErrStale, Plural(len(staged), "entry"), verb, p.ID, len(p.Staged))
			}
			entries, err := tx.Journal(p.Branch)
			if err != nil {
				return err
			}
			var prev *journal.Entry
			if len(entries) > 0 {
				prev = &entries[len(entries)-1]
			}
			for i, s := range staged {
				if !sameChange(s, p.Staged[i]) {
					return fmt.Errorf("%w: staged entry #%d changed since plan %s; re-plan", ErrStale, i+1, p.ID)
				}
				s.Time = now
				s.Changeset = b.Head + 1
				s.Message = l.Message
				en := journal.Seal(prev, s)
				sealed = append(sealed, en)
				prev = &sealed[len(sealed)-1]
			}
			if err := e.signChangeset(sealed); err != nil {
				return err
			}
			if err := tx.Append(p.Branch, sealed); err != nil {
				return err
			}
			if err := tx.PutStaged(p.Branch, nil); err != nil {
				return err
			}
			if !keepLock {
				if err := tx.DeleteLock(p.Branch); err != nil {
					return err
				}
			}
		}
		rec, err := tx.Plan(p.ID)
		if err != nil {
			return err
		}
		rec.Approved, rec.Approver = true, me
		p.Approved = true
		if err := tx.PutPlan(rec); err != nil {
			return err
		}
		msg := fmt.Sprintf("approved plan %s (%s)", p.ID, Plural(len(p.Hosts), "host"))
		if len(sealed) > 0 {
			msg += fmt.Sprintf("; committed seq %d–%d", sealed[0].Seq, sealed[len(sealed)-1].Seq)
		}
		return tx.AddAudit(store.AuditRecord{Branch: p.Branch, Time: now, Actor: me, Action: "approve", Message: msg})
	})
	if err != nil {
		return nil, err
	}
	if len(sealed) > 0 {
		first, last := sealed[0].Seq, sealed[len(sealed)-1].Seq
		e.emit(&JournalEvent{Header: Header{Message: fmt.Sprintf("committed %s to %s (seq %d–%d)", plural(len(sealed), "entry", "entries"), p.Branch, first, last)},
			Branch: p.Branch, Head: last, First: first, Last: last})
		e.emit(&StagedEvent{Header: Header{Message: "staged entries of " + p.Branch + " committed"}, Branch: p.Branch})
		if !keepLock {
			e.emit(&LockEvent{Header: Header{Message: fmt.Sprintf("%s released the lock on %s", me, p.Branch)}, Branch: p.Branch, State: "unlocked", Actor: me})
		}
	}
	e.emit(&LogEvent{Header: Header{Message: fmt.Sprintf("plan %s approved by %s", p.ID, me)}, PlanID: p.ID, Branch: p.Branch})
	return p, nil
}

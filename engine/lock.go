package engine

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/store"
)

// MaxContent is the largest file or template that can be staged
// (engine/kinds).
const MaxContent = kinds.MaxContent

var branchName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func validBranch(name string) error {
	if !branchName.MatchString(name) {
		return fmt.Errorf("%w: branch name %q: use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit", ErrUsage, name)
	}
	return nil
}

// takeExpired records that an expired lock of someone else is being
// taken over. Staged entries under it are not silently inherited or
// dropped: the new holder must discard them knowingly.
func (e *Engine) takeExpired(tx store.Tx, l store.Lock, now time.Time) error {
	staged, err := tx.Staged(l.Branch)
	if err != nil {
		return err
	}
	if len(staged) > 0 {
		return fmt.Errorf("%w: the lock of %s on %s expired at %s, but %d staged entries of theirs are still there; discard them with: unlock %s --force (recorded), or ask them",
			ErrLockHeld, l.Holder, l.Branch, l.Expires.Local().Format("2006-01-02 15:04"), len(staged), l.Branch)
	}
	return tx.AddAudit(store.AuditRecord{Branch: l.Branch, Time: now, Actor: e.opts.Operator, Action: "lock-expired",
		Message: fmt.Sprintf("lock of %s (%q) expired at %s", l.Holder, l.Message, l.Expires.Format(time.RFC3339))})
}

func lockHeldError(l store.Lock, me string) error {
	return fmt.Errorf("%w: branch %s is locked by %s since %s (%q); you are %s. Ask them to finish, or break the lock with: unlock %s --force (recorded in the audit trail)",
		ErrLockHeld, l.Branch, l.Holder, l.Time.Local().Format("2006-01-02 15:04"), l.Message, me, l.Branch)
}

// Branches lists every branch.
func (e *Engine) Branches() ([]store.Branch, error) {
	var bs []store.Branch
	err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		bs, err = tx.Branches()
		return err
	})
	return bs, err
}

// Lock takes the branch lock for the operator, creating the branch (with an
// empty journal) if it does not exist yet. Locking a branch you already hold
// updates the message.
func (e *Engine) Lock(branch, message string) error {
	if err := validBranch(branch); err != nil {
		return err
	}
	message = strings.TrimSpace(message)
	if message == "" {
		return fmt.Errorf("%w: a lock needs a message saying what you are about to change", ErrUsage)
	}
	me, now := e.opts.Operator, e.now()
	created := false
	err := e.opts.Store.Update(func(tx store.Tx) error {
		if _, err := tx.Branch(branch); errors.Is(err, store.ErrNotFound) {
			if err := tx.PutBranch(store.Branch{Name: branch, Created: now}); err != nil {
				return err
			}
			created = true
		} else if err != nil {
			return err
		}
		l, err := tx.Lock(branch)
		if err == nil && l.Holder != me {
			if !l.Expired(now) {
				return lockHeldError(l, me)
			}
			if err := e.takeExpired(tx, l, now); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutLock(store.Lock{Branch: branch, Holder: me, Message: message, Time: now, Expires: now.Add(e.opts.LockTTL)}); err != nil {
			return err
		}
		return tx.AddAudit(store.AuditRecord{Branch: branch, Time: now, Actor: me, Action: "lock", Message: message})
	})
	if err != nil {
		return err
	}
	if created {
		e.emit(&JournalEvent{Header: Header{Message: "branch " + branch + " created"}, Branch: branch})
	}
	l := store.Lock{Branch: branch, Holder: me, Message: message, Time: now}
	e.emit(&LockEvent{Header: Header{Message: fmt.Sprintf("%s locked %s: %s", me, branch, message)}, Branch: branch, State: "locked", Lock: &l, Actor: me})
	return nil
}

// Unlock releases the branch lock. Staged entries would be lost, so unlocking
// with staged entries needs force, as does breaking someone else's lock;
// both are recorded in the audit trail with what was discarded.
func (e *Engine) Unlock(branch string, force bool) error {
	me, now := e.opts.Operator, e.now()
	var dropped []journal.Entry
	var prev store.Lock
	err := e.opts.Store.Update(func(tx store.Tx) error {
		var err error
		prev, err = tx.Lock(branch)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: branch %s is not locked", ErrUsage, branch)
		} else if err != nil {
			return err
		}
		if prev.Holder != me && !force {
			return lockHeldError(prev, me)
		}
		if dropped, err = tx.Staged(branch); err != nil {
			return err
		}
		if len(dropped) > 0 && !force {
			return fmt.Errorf("%w: %d staged entries on %s would be discarded; approve a plan of them, drop them, or unlock --force to discard them", ErrUsage, len(dropped), branch)
		}
		action, msg := "unlock", prev.Message
		switch {
		case force && prev.Holder == me:
			msg = fmt.Sprintf("released own lock (%q)", prev.Message)
		case force:
			action = "force-unlock"
			msg = fmt.Sprintf("broke lock of %s (%q)", prev.Holder, prev.Message)
		}
		if len(dropped) > 0 {
			var s []string
			for _, d := range dropped {
				s = append(s, string(d.Kind)+" "+d.Summary())
			}
			msg += fmt.Sprintf("; discarded %d staged: %s", len(dropped), strings.Join(s, ", "))
		}
		if err := tx.PutStaged(branch, nil); err != nil {
			return err
		}
		if err := tx.DeleteLock(branch); err != nil {
			return err
		}
		return tx.AddAudit(store.AuditRecord{Branch: branch, Time: now, Actor: me, Action: action, Message: msg})
	})
	if err != nil {
		return err
	}
	if len(dropped) > 0 {
		e.emit(&StagedEvent{Header: Header{Message: fmt.Sprintf("%s discarded on %s", plural(len(dropped), "staged entry", "staged entries"), branch)}, Branch: branch})
	}
	state, lvl, msg := "unlocked", LevelInfo, fmt.Sprintf("%s unlocked %s", me, branch)
	if force && prev.Holder != me {
		state, lvl, msg = "broken", LevelWarn, fmt.Sprintf("%s broke the lock of %s on %s", me, prev.Holder, branch)
	}
	e.emit(&LockEvent{Header: Header{Level: lvl, Message: msg}, Branch: branch, State: state, Actor: me})
	return nil
}

// requireLock checks that the operator holds the branch lock.
func (e *Engine) requireLock(tx store.Tx, branch string) (store.Lock, error) {
	l, err := tx.Lock(branch)
	if errors.Is(err, store.ErrNotFound) {
		return l, fmt.Errorf("%w: staging on %s needs your lock; take it with: lock %s MESSAGE", ErrNotLocked, branch, branch)
	} else if err != nil {
		return l, err
	}
	if l.Holder != e.opts.Operator {
		if l.Expired(e.now()) {
			return l, fmt.Errorf("%w: the lock of %s on %s expired at %s; take it with: lock %s MESSAGE", ErrNotLocked, l.Holder, branch, l.Expires.Local().Format("15:04"), branch)
		}
		return l, lockHeldError(l, e.opts.Operator)
	}
	// Working under the lock (always in an Update) is the holder's sign
	// of life.
	l.Expires = e.now().Add(e.opts.LockTTL)
	return l, tx.PutLock(l)
}

// ReadSource reads a local file to stage, refusing what cannot be a
// snapshot: missing, a directory or other non-regular file, or larger than
// MaxContent.
func ReadSource(path string) ([]byte, error) {
	b, _, err := ReadSourceMode(path)
	return b, err
}

// ReadSourceMode is ReadSource that also returns the file's permission
// bits (snap keeps them unless --mode is given); it is kinds.Input's
// ReadFile.
func ReadSourceMode(path string) ([]byte, uint32, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, 0, fmt.Errorf("%w: local file %s does not exist", ErrUsage, path)
		}
		return nil, 0, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fi.IsDir() {
		return nil, 0, fmt.Errorf("%w: %s is a directory; snap one file at a time", ErrUsage, path)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%w: %s is not a regular file (%s)", ErrUsage, path, fi.Mode().Type())
	}
	if fi.Size() > MaxContent {
		return nil, 0, fmt.Errorf("%w: %s is %d bytes; the limit is %d MiB per file", ErrUsage, path, fi.Size(), MaxContent>>20)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return b, unixMode(fi.Mode()), nil
}

// unixMode is the 12 permission bits of a Go file mode.
func unixMode(m os.FileMode) uint32 {
	p := uint32(m.Perm())
	for bit, u := range map[os.FileMode]uint32{os.ModeSetuid: 0o4000, os.ModeSetgid: 0o2000, os.ModeSticky: 0o1000} {
		if m&bit != 0 {
			p |= u
		}
	}
	return p
}

// Stage adds an entry to the branch's staged list under the operator's
// lock, after its kind checked it.
func (e *Engine) Stage(branch string, req StageRequest) (journal.Entry, error) {
	k, ok := kinds.Lookup(req.Kind)
	if !ok {
		return journal.Entry{Kind: req.Kind}, fmt.Errorf("%w: unknown entry kind %q; the kinds are %s", ErrUsage, req.Kind, kinds.Names())
	}
	ent, err := k.Stage(req)
	if err != nil {
		return ent, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	ent.Kind, ent.Author, ent.Time = req.Kind, e.opts.Operator, e.now()
	var n int
	err = e.opts.Store.Update(func(tx store.Tx) error {
		l, err := e.requireLock(tx, branch)
		if err != nil {
			return err
		}
		ent.Message = l.Message
		if k.Content() != kinds.ContentNone {
			if ent.Blob, err = tx.PutBlob(req.Content); err != nil {
				return err
			}
		}
		staged, err := tx.Staged(branch)
		if err != nil {
			return err
		}
		head, err := branchHead(tx, branch)
		if err != nil {
			return err
		}
		staged = append(staged, ent)
		n = len(staged)
		ent.Seq = head + uint64(n) // the seq approve will give it
		return tx.PutStaged(branch, staged)
	})
	if err != nil {
		return ent, err
	}
	e.emit(&StagedEvent{Header: Header{Message: fmt.Sprintf("staged seq %d on %s: %s %s", ent.Seq, branch, ent.Kind, ent.Summary())}, Branch: branch, Count: n})
	return ent, nil
}

// plural says "1 entry" or "3 entries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func orDefault(s, d string) string {
	if s != "" {
		return s
	}
	return d
}

// Staged returns the staged entries of a branch, each numbered with the
// seq approve will give it (the number the journal and the plan review
// show), and its lock (nil when unlocked).
func (e *Engine) Staged(branch string) ([]journal.Entry, *store.Lock, error) {
	var staged []journal.Entry
	var lock *store.Lock
	err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		if staged, err = stagedSeqs(tx, branch); err != nil {
			return err
		}
		if l, err := tx.Lock(branch); err == nil {
			lock = &l
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	return staged, lock, err
}

// branchHead is the branch's head, 0 for a branch not created yet.
func branchHead(tx store.Tx, branch string) (uint64, error) {
	b, err := tx.Branch(branch)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	return b.Head, err
}

// stagedSeqs reads the staged entries with their provisional seqs: the
// i-th (from 0) is head+i+1, as approve will commit them. Dropping one
// moves the ones after it up by one, as approving would.
func stagedSeqs(tx store.Tx, branch string) ([]journal.Entry, error) {
	staged, err := tx.Staged(branch)
	if err != nil {
		return nil, err
	}
	head, err := branchHead(tx, branch)
	if err != nil {
		return nil, err
	}
	for i := range staged {
		staged[i].Seq = head + uint64(i) + 1
	}
	return staged, nil
}

// SeqRange is "seq 4" or "seq 4–6": the seqs of n staged entries after head.
func SeqRange(head uint64, n int) string {
	if n == 1 {
		return fmt.Sprintf("seq %d", head+1)
	}
	return fmt.Sprintf("seq %d–%d", head+1, head+uint64(n))
}

// Drop removes the staged entry that approve would commit as seq, under
// the operator's lock.
func (e *Engine) Drop(branch string, seq uint64) error {
	var gone journal.Entry
	var left int
	var head uint64
	err := e.opts.Store.Update(func(tx store.Tx) error {
		if _, err := e.requireLock(tx, branch); err != nil {
			return err
		}
		staged, err := tx.Staged(branch)
		if err != nil {
			return err
		}
		if head, err = branchHead(tx, branch); err != nil {
			return err
		}
		if len(staged) == 0 {
			return fmt.Errorf("%w: nothing is staged on %s, so there is no seq %d to drop", ErrUsage, branch, seq)
		}
		if seq <= head || seq > head+uint64(len(staged)) {
			return fmt.Errorf("%w: seq %d is not a staged entry of %s: the staged entries are %s (staged lists them)", ErrUsage, seq, branch, SeqRange(head, len(staged)))
		}
		i := int(seq - head - 1)
		gone = staged[i]
		staged = append(staged[:i:i], staged[i+1:]...)
		left = len(staged)
		return tx.PutStaged(branch, staged)
	})
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("dropped staged seq %d on %s: %s %s", seq, branch, gone.Kind, gone.Summary())
	if after := head + uint64(left) + 1 - seq; left > 0 && seq <= head+uint64(left) {
		msg += fmt.Sprintf("; the %s after it moved up (staged now: %s)", plural(int(after), "entry", "entries"), SeqRange(head, left))
	}
	e.emit(&StagedEvent{Header: Header{Message: msg}, Branch: branch, Count: left})
	return nil
}

// Fork creates newBranch whose journal is a copy of from's, as ISconf's
// fork. Entry hashes do not depend on the branch name, so hosts of from can
// later migrate to newBranch.
func (e *Engine) Fork(from, newBranch string) error {
	if err := validBranch(newBranch); err != nil {
		return err
	}
	now := e.now()
	var head uint64
	err := e.opts.Store.Update(func(tx store.Tx) error {
		if _, err := tx.Branch(newBranch); err == nil {
			return fmt.Errorf("%w: branch %s already exists", ErrUsage, newBranch)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		b, entries, err := e.loadJournal(tx, from)
		if err != nil {
			return err
		}
		head = b.Head
		if err := tx.PutBranch(store.Branch{Name: newBranch, Parent: from, ForkSeq: b.Head, Created: now}); err != nil {
			return err
		}
		if len(entries) > 0 {
			if err := tx.Append(newBranch, entries); err != nil {
				return err
			}
		}
		msg := fmt.Sprintf("forked from %s at seq %d", from, b.Head)
		if err := tx.AddAudit(store.AuditRecord{Branch: newBranch, Time: now, Actor: e.opts.Operator, Action: "fork", Message: msg}); err != nil {
			return err
		}
		return tx.AddAudit(store.AuditRecord{Branch: from, Time: now, Actor: e.opts.Operator, Action: "fork", Message: "forked to " + newBranch})
	})
	if err != nil {
		return err
	}
	e.emit(&JournalEvent{Header: Header{Message: fmt.Sprintf("branch %s forked from %s at seq %d", newBranch, from, head)}, Branch: newBranch, Head: head})
	return nil
}

// Log returns a branch's verified journal, its staged entries and lock, and
// where each host of the branch stands.
func (e *Engine) Log(branch string) (*JournalView, error) {
	cls, err := e.classification()
	if err != nil {
		return nil, err
	}
	v := &JournalView{Positions: map[string]uint64{}}
	err = e.opts.Store.View(func(tx store.Tx) error {
		b, entries, err := e.loadJournal(tx, branch)
		if err != nil {
			return err
		}
		v.Branch, v.Entries = b, entries
		if nw, err := branchWindow(b, e.now()); err != nil {
			v.WindowErr = err.Error()
		} else {
			v.NextWindow = nw
		}
		if v.Staged, err = stagedSeqs(tx, branch); err != nil {
			return err
		}
		if l, err := tx.Lock(branch); err == nil {
			v.Lock = &l
		}
		hosts, err := tx.Hosts()
		if err != nil {
			return err
		}
		heads := map[string]uint64{branch: b.Head}
		for _, h := range hosts {
			if e.view(h, cls, heads).Branch == branch {
				v.Positions[displayName(h)] = h.Position
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Audit returns a branch's audit trail ("" for all branches).
func (e *Engine) Audit(branch string) ([]store.AuditRecord, error) {
	var out []store.AuditRecord
	err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		out, err = tx.Audit(branch)
		return err
	})
	return out, err
}

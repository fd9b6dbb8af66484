package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/discoterm/discoterm/engine/journal"
)

// The records of a NATS transaction: each Tx method reads through the
// transaction (its cache and revisions) and writes into its write set.

// Hosts returns every host, ordered by ID.
func (t *natsTx) Hosts() ([]Host, error) {
	hs, err := listJSON[Host](t, kHost+"*", kHost, nil)
	sort.Slice(hs, func(i, j int) bool { return hs[i].ID < hs[j].ID })
	return hs, err
}

// Host returns one host or ErrNotFound.
func (t *natsTx) Host(id string) (Host, error) {
	var h Host
	key := kHost + encKey(id)
	if _, written := t.puts[key]; !written && id != "" {
		if t.hostReads++; t.hostReads > hostPrefetch && t.hostCache == nil {
			if err := t.listHostsOnce(); err != nil {
				return h, err
			}
		}
		if t.hostCache != nil {
			v := t.hostCache[key]
			if v == nil {
				return h, fmt.Errorf("host %q: %w", id, ErrNotFound)
			}
			if err := json.Unmarshal(v, &h); err != nil {
				return h, &CorruptRecordError{Bucket: t.s.name("state"), Key: key, Err: err}
			}
			return h, nil
		}
	}
	err := t.get(key, "host", id, &h)
	return h, err
}

// listHostsOnce reads every host record into the transaction's cache.
func (t *natsTx) listHostsOnce() error {
	w, err := t.s.kv.Watch(t.ctx, kHost+"*", jetstream.IgnoreDeletes())
	if err != nil {
		return t.s.unavailable("listing hosts", err)
	}
	defer w.Stop()
	cache := map[string][]byte{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return t.s.unavailable("listing hosts", errors.New("watcher closed"))
			}
			if e == nil {
				t.hostCache = cache
				return nil
			}
			cache[e.Key()] = e.Value()
		case <-t.ctx.Done():
			return t.s.unavailable("listing hosts", t.ctx.Err())
		}
	}
}

// PutHost creates or replaces a host.
func (t *natsTx) PutHost(h Host) error {
	if h.ID == "" {
		return errors.New("store: PutHost: empty key")
	}
	return t.putJSON("PutHost", kHost+encKey(h.ID), h)
}

// DeleteHost removes a host; removing an unknown host is not an error.
func (t *natsTx) DeleteHost(id string) error { return t.del("DeleteHost", kHost+encKey(id)) }

func (t *natsTx) branchRec(name string) (branchRec, error) {
	var b branchRec
	err := t.get(kBranch+encKey(name), "branch", name, &b)
	return b, err
}

// Branches returns every branch, ordered by name.
func (t *natsTx) Branches() ([]Branch, error) {
	recs, err := listJSON[branchRec](t, kBranch+"*", kBranch, nil)
	out := make([]Branch, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Branch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Branch returns one branch or ErrNotFound.
func (t *natsTx) Branch(name string) (Branch, error) {
	b, err := t.branchRec(name)
	return b.Branch, err
}

// PutBranch creates a branch or updates its metadata; as in the file store,
// Head and HeadHash belong to Append.
func (t *natsTx) PutBranch(b Branch) error {
	if err := t.writable("PutBranch"); err != nil {
		return err
	}
	if b.Name == "" {
		return errors.New("store: PutBranch: empty key")
	}
	old, err := t.branchRec(b.Name)
	if err := keepHead(&b, old.Head, old.HeadHash, err); err != nil {
		return err
	}
	return t.putJSON("PutBranch", kBranch+encKey(b.Name), branchRec{Branch: b, StreamSeq: old.StreamSeq})
}

// Journal returns the branch's entries in order, unverified.
func (t *natsTx) Journal(branch string) ([]journal.Entry, error) {
	b, err := t.branchRec(branch)
	if err != nil {
		return nil, err
	}
	pend := t.appends[branch]
	committed := b.Head
	if pend != nil {
		committed = b.Head - uint64(len(pend.Entries))
	}
	out, err := t.s.readJournal(t.ctx, branch, committed)
	if err != nil {
		return nil, err
	}
	if pend != nil {
		out = append(out, pend.Entries...)
	}
	return out, nil
}

// Append checks and buffers sealed entries; the server checks again at
// commit that nobody appended in between.
func (t *natsTx) Append(branch string, entries []journal.Entry) error {
	if err := t.writable("Append"); err != nil {
		return err
	}
	b, err := t.branchRec(branch)
	if err != nil {
		return fmt.Errorf("store: append to branch %q: %w", branch, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if err := checkAppend(branch, b.Branch, entries); err != nil {
		return err
	}
	p := t.appends[branch]
	if p == nil {
		p = &pendingAppend{After: b.StreamSeq}
		t.appends[branch] = p
	}
	p.Entries = append(p.Entries, entries...)
	last := entries[len(entries)-1]
	b.Head, b.HeadHash = last.Seq, last.Hash
	return t.putJSON("Append", kBranch+encKey(branch), b)
}

// PutBlob buffers data under its hex sha256; it is stored at commit.
func (t *natsTx) PutBlob(data []byte) (string, error) {
	if err := t.writable("PutBlob"); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	key := hex.EncodeToString(sum[:])
	t.blobs[key] = append([]byte(nil), data...)
	return key, nil
}

// Blob returns the content with hex sha256 sum, or ErrNotFound.
func (t *natsTx) Blob(sum string) ([]byte, error) {
	if b, ok := t.blobs[sum]; ok {
		return append([]byte(nil), b...), nil
	}
	if len(sum) != 64 {
		return nil, fmt.Errorf("blob %q: %w", sum, ErrNotFound)
	}
	b, err := t.raw(kBlob + sum)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b, err = t.s.obs.GetBytes(t.ctx, sum)
	}
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("blob %q: %w", sum, ErrNotFound)
	}
	if err != nil {
		return nil, t.s.unavailable("reading blob "+sum, err)
	}
	// A blob is named by its content: one that does not match was damaged.
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
		return nil, &CorruptRecordError{Bucket: t.s.name("blobs"), Key: sum, Err: errors.New("content does not match its sha256")}
	}
	return b, nil
}

// Blobs lists every blob's sum in order (this transaction's own included).
func (t *natsTx) Blobs() ([]string, error) {
	seen := map[string]bool{}
	for sum := range t.blobs {
		if len(sum) == 64 { // not a plan's data
			seen[sum] = true
		}
	}
	infos, err := t.s.obs.List(t.ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, t.s.unavailable("listing blobs", err)
	}
	for _, i := range infos {
		if len(i.Name) == 64 { // not a commit record
			seen[i.Name] = true
		}
	}
	keys, err := t.s.kv.ListKeysFiltered(t.ctx, kBlob+"*")
	if err != nil {
		return nil, t.s.unavailable("listing blobs", err)
	}
	for k := range keys.Keys() {
		seen[strings.TrimPrefix(k, kBlob)] = true
	}
	return sortedKeys(seen), nil
}

// Lock returns the branch's lock, or ErrNotFound when it is unlocked.
func (t *natsTx) Lock(branch string) (Lock, error) {
	var l Lock
	err := t.get(kLock+encKey(branch), "lock of branch", branch, &l)
	return l, err
}

// PutLock sets the branch's lock, replacing any.
func (t *natsTx) PutLock(l Lock) error {
	if l.Branch == "" {
		return errors.New("store: PutLock: empty key")
	}
	return t.putJSON("PutLock", kLock+encKey(l.Branch), l)
}

// DeleteLock unlocks a branch; unlocking an unlocked branch is not an error.
func (t *natsTx) DeleteLock(branch string) error { return t.del("DeleteLock", kLock+encKey(branch)) }

// Staged returns the branch's staged entries; none is an empty list.
func (t *natsTx) Staged(branch string) ([]journal.Entry, error) {
	var es []journal.Entry
	err := t.get(kStaged+encKey(branch), "staged entries of branch", branch, &es)
	if errors.Is(err, ErrNotFound) {
		return []journal.Entry{}, nil
	}
	return es, err
}

// PutStaged replaces the branch's staged entries; an empty list clears them.
func (t *natsTx) PutStaged(branch string, entries []journal.Entry) error {
	if len(entries) == 0 {
		return t.del("PutStaged", kStaged+encKey(branch))
	}
	return t.putJSON("PutStaged", kStaged+encKey(branch), entries)
}

// PutPlan creates or replaces a plan.
func (t *natsTx) PutPlan(p PlanRecord) error {
	if err := t.writable("PutPlan"); err != nil {
		return err
	}
	if p.ID == "" {
		return errors.New("store: PutPlan: empty key")
	}
	rec := planRec{PlanRecord: p}
	if len(p.Data) > inlinePlanData {
		// Kept apart from content blobs (its own name prefix), so that
		// Blobs lists only what entries point at.
		sum := sha256.Sum256(p.Data)
		rec.DataBlob, rec.Data = "plan-"+hex.EncodeToString(sum[:]), nil
		t.blobs[rec.DataBlob] = append([]byte(nil), p.Data...)
	}
	return t.putJSON("PutPlan", kPlan+encKey(p.ID), rec)
}

func (t *natsTx) loadPlan(r planRec) (PlanRecord, error) {
	if r.DataBlob != "" {
		d, ok := t.blobs[r.DataBlob]
		if !ok {
			var err error
			if d, err = t.s.obs.GetBytes(t.ctx, r.DataBlob); err != nil {
				return r.PlanRecord, t.s.unavailable(fmt.Sprintf("reading the data of plan %q", r.ID), err)
			}
		}
		if sum := sha256.Sum256(d); "plan-"+hex.EncodeToString(sum[:]) != r.DataBlob {
			return r.PlanRecord, &CorruptRecordError{Bucket: t.s.name("blobs"), Key: r.DataBlob, Err: errors.New("content does not match its sha256")}
		}
		r.Data = append([]byte(nil), d...)
	}
	return r.PlanRecord, nil
}

// Plan returns one plan or ErrNotFound.
func (t *natsTx) Plan(id string) (PlanRecord, error) {
	var r planRec
	if err := t.get(kPlan+encKey(id), "plan", id, &r); err != nil {
		return PlanRecord{}, err
	}
	return t.loadPlan(r)
}

// Plans returns every plan, oldest first.
func (t *natsTx) Plans() ([]PlanRecord, error) {
	recs, err := listJSON[planRec](t, kPlan+"*", kPlan, nil)
	if err != nil {
		return nil, err
	}
	out := make([]PlanRecord, 0, len(recs))
	for _, r := range recs {
		p, err := t.loadPlan(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// AddResults appends run results; each is its own key, ordered by the
// bucket's revision (commit order).
func (t *natsTx) AddResults(rs []RunResult) error {
	if err := t.writable("AddResults"); err != nil {
		return err
	}
	for _, r := range rs {
		if err := t.putJSON("AddResults", t.recordKey(kResult+encKey(r.HostID)+".", r), r); err != nil {
			return err
		}
	}
	return nil
}

// recordKey names a result or audit record by its content and its place
// in the transaction, not by a random id: an update retried after an
// ambiguous failure (the server stored it but the reply was lost) then
// rewrites the same keys instead of adding the records twice.
func (t *natsTx) recordKey(prefix string, rec any) string {
	t.records++
	h := sha256.Sum256(fmt.Appendf(mustJSON(rec), "#%d", t.records))
	return prefix + hex.EncodeToString(h[:16])
}

// Results returns a host's results ("" for all), oldest first.
func (t *natsTx) Results(hostID string) ([]RunResult, error) {
	if hostID == "" {
		return listJSON[RunResult](t, kResult+">", kResult, nil)
	}
	p := kResult + encKey(hostID) + "."
	return listJSON[RunResult](t, p+"*", p, nil)
}

// AddAudit appends an audit record.
func (t *natsTx) AddAudit(a AuditRecord) error {
	if err := t.writable("AddAudit"); err != nil {
		return err
	}
	return t.putJSON("AddAudit", t.recordKey(kAudit+encKey(a.Branch)+".", a), a)
}

// Audit returns a branch's audit trail ("" for all), oldest first.
func (t *natsTx) Audit(branch string) ([]AuditRecord, error) {
	if branch == "" {
		return listJSON[AuditRecord](t, kAudit+">", kAudit, nil)
	}
	p := kAudit + encKey(branch) + "."
	return listJSON[AuditRecord](t, p+"*", p, nil)
}

package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/discoterm/discoterm/engine/journal"
)

// Bucket layout. Records are JSON; sequence keys are 8-byte big-endian so
// that bbolt's byte order is numeric order.
var (
	bucketMeta     = []byte("meta")     // schema → decimal version
	bucketHosts    = []byte("hosts")    // host ID → Host
	bucketBranches = []byte("branches") // name → Branch
	bucketJournals = []byte("journals") // name → bucket of seq → journal.Entry
	bucketBlobs    = []byte("blobs")    // hex sha256 → raw bytes
	bucketLocks    = []byte("locks")    // branch → Lock
	bucketStaged   = []byte("staged")   // branch → []journal.Entry
	bucketPlans    = []byte("plans")    // plan ID → PlanRecord
	bucketResults  = []byte("results")  // sequence → RunResult
	bucketAudit    = []byte("audit")    // sequence → AuditRecord

	keySchema = []byte("schema")

	allBuckets = [][]byte{bucketMeta, bucketHosts, bucketBranches, bucketJournals, bucketBlobs,
		bucketLocks, bucketStaged, bucketPlans, bucketResults, bucketAudit}
)

// boltTx implements Tx over one bbolt transaction.
type boltTx struct {
	tx    *bolt.Tx
	areas Area // what this transaction wrote, for the change generation
}

var bucketAreas = map[string]Area{
	string(bucketHosts): AreaHosts, string(bucketBranches): AreaBranches, string(bucketJournals): AreaJournal,
	string(bucketBlobs): AreaBlobs, string(bucketLocks): AreaLocks, string(bucketStaged): AreaStaged,
	string(bucketPlans): AreaPlans, string(bucketResults): AreaResults, string(bucketAudit): AreaAudit,
}

func (t *boltTx) touch(bucket []byte) { t.areas |= bucketAreas[string(bucket)] }

func seqKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

// keyString renders a key for error messages: sequence keys as numbers.
func keyString(bucket string, k []byte) string {
	switch bucket {
	case string(bucketResults), string(bucketAudit):
		if len(k) == 8 {
			return strconv.FormatUint(binary.BigEndian.Uint64(k), 10)
		}
	}
	if strings.HasPrefix(bucket, string(bucketJournals)+"/") && len(k) == 8 {
		return strconv.FormatUint(binary.BigEndian.Uint64(k), 10)
	}
	return string(k)
}

func decode(bucket string, k, v []byte, into any) error {
	if err := json.Unmarshal(v, into); err != nil {
		return &CorruptRecordError{Bucket: bucket, Key: keyString(bucket, k), Err: err}
	}
	return nil
}

// writable refuses writes in a View; bbolt would too, but only after our own
// bookkeeping and with a less helpful message.
func (t *boltTx) writable(op string) error {
	if !t.tx.Writable() {
		return fmt.Errorf("store: %s in a read-only transaction: %w; use Update", op, ErrReadOnly)
	}
	return nil
}

// bucket returns a top-level bucket; nil only for a read-only open of a
// fresh file, which reads as empty.
func (t *boltTx) bucket(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

// get decodes one record; noun names it in the ErrNotFound message.
func (t *boltTx) get(bucket []byte, noun, key string, into any) error {
	var v []byte
	if b := t.bucket(bucket); b != nil && key != "" {
		v = b.Get([]byte(key))
	}
	if v == nil {
		return fmt.Errorf("%s %q: %w", noun, key, ErrNotFound)
	}
	return decode(string(bucket), []byte(key), v, into)
}

func (t *boltTx) put(bucket []byte, op, key string, rec any) error {
	if err := t.writable(op); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("store: %s: empty key", op)
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store: %s %q: %w", op, key, err)
	}
	t.touch(bucket)
	return t.bucket(bucket).Put([]byte(key), v)
}

func (t *boltTx) del(bucket []byte, op, key string) error {
	if err := t.writable(op); err != nil {
		return err
	}
	t.touch(bucket)
	return t.bucket(bucket).Delete([]byte(key))
}

// each decodes every record of a bucket in key order. size is a capacity
// hint.
func each[T any](b *bolt.Bucket, name string, size int, keep func(T) bool) ([]T, error) {
	out := make([]T, 0, size) // never nil, so JSON views print [] rather than null
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		if v == nil { // a nested bucket
			return nil
		}
		var rec T
		if err := decode(name, k, v, &rec); err != nil {
			return err
		}
		if keep == nil || keep(rec) {
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// Hosts returns every host, ordered by ID.
func (t *boltTx) Hosts() ([]Host, error) {
	return each[Host](t.bucket(bucketHosts), string(bucketHosts), 0, nil)
}

// Host returns one host or ErrNotFound.
func (t *boltTx) Host(id string) (Host, error) {
	var h Host
	err := t.get(bucketHosts, "host", id, &h)
	return h, err
}

// PutHost creates or replaces a host.
func (t *boltTx) PutHost(h Host) error { return t.put(bucketHosts, "PutHost", h.ID, h) }

// DeleteHost removes a host; removing an unknown host is not an error.
func (t *boltTx) DeleteHost(id string) error { return t.del(bucketHosts, "DeleteHost", id) }

// Branches returns every branch, ordered by name.
func (t *boltTx) Branches() ([]Branch, error) {
	return each[Branch](t.bucket(bucketBranches), string(bucketBranches), 0, nil)
}

// Branch returns one branch or ErrNotFound.
func (t *boltTx) Branch(name string) (Branch, error) {
	var b Branch
	err := t.get(bucketBranches, "branch", name, &b)
	return b, err
}

// PutBranch creates a branch or updates its metadata. Head and HeadHash
// belong to Append: for an existing branch the stored values are kept, so a
// metadata edit made from a stale read cannot move the head; a new branch
// must start empty.
func (t *boltTx) PutBranch(b Branch) error {
	if err := t.writable("PutBranch"); err != nil {
		return err
	}
	old, err := t.Branch(b.Name)
	if err := keepHead(&b, old.Head, old.HeadHash, err); err != nil {
		return err
	}
	if b.Name != "" {
		if _, err := t.bucket(bucketJournals).CreateBucketIfNotExists([]byte(b.Name)); err != nil {
			return fmt.Errorf("store: PutBranch %q: %w", b.Name, err)
		}
	}
	return t.put(bucketBranches, "PutBranch", b.Name, b)
}

func (t *boltTx) journalBucket(branch string) *bolt.Bucket {
	j := t.bucket(bucketJournals)
	if j == nil || branch == "" {
		return nil
	}
	return j.Bucket([]byte(branch))
}

// Journal returns the branch's entries in sequence order, unverified.
func (t *boltTx) Journal(branch string) ([]journal.Entry, error) {
	b, err := t.Branch(branch)
	if err != nil {
		return nil, err
	}
	// Sizing from the head saves repeated growth of a slice of large structs
	// on long journals; the cap keeps a damaged head from costing memory.
	return each[journal.Entry](t.journalBucket(branch), string(bucketJournals)+"/"+branch, int(min(b.Head, 1<<20)), nil)
}

// Append adds sealed entries after the branch's head (compare-and-set). It
// also refuses entries that journal.Verify would reject: the journal is
// append-only, so a bad entry written once could never be repaired.
func (t *boltTx) Append(branch string, entries []journal.Entry) error {
	if err := t.writable("Append"); err != nil {
		return err
	}
	b, err := t.Branch(branch)
	if err != nil {
		return fmt.Errorf("store: append to branch %q: %w", branch, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if err := checkAppend(branch, b, entries); err != nil {
		return err
	}
	t.touch(bucketJournals)
	jb, err := t.bucket(bucketJournals).CreateBucketIfNotExists([]byte(branch))
	if err != nil {
		return fmt.Errorf("store: append to branch %q: %w", branch, err)
	}
	for _, e := range entries {
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("store: append to branch %q: seq %d: %w", branch, e.Seq, err)
		}
		if err := jb.Put(seqKey(e.Seq), v); err != nil {
			return err
		}
	}
	last := entries[len(entries)-1]
	b.Head, b.HeadHash = last.Seq, last.Hash
	return t.put(bucketBranches, "Append", b.Name, b)
}

// PutBlob stores data under its hex sha256 once; storing it again is a no-op.
func (t *boltTx) PutBlob(data []byte) (string, error) {
	if err := t.writable("PutBlob"); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	key := hex.EncodeToString(sum[:])
	b := t.bucket(bucketBlobs)
	if b.Get([]byte(key)) != nil {
		return key, nil
	}
	t.touch(bucketBlobs)
	// bbolt keeps a reference to the value until commit; copy so a caller
	// reusing its buffer cannot change what is stored under this hash.
	return key, b.Put([]byte(key), bytes.Clone(data))
}

// Blob returns a copy of the content with hex sha256 sum, or ErrNotFound.
func (t *boltTx) Blob(sum string) ([]byte, error) {
	b := t.bucket(bucketBlobs)
	if b == nil {
		return nil, fmt.Errorf("blob %q: %w", sum, ErrNotFound)
	}
	v := b.Get([]byte(sum))
	if v == nil {
		return nil, fmt.Errorf("blob %q: %w", sum, ErrNotFound)
	}
	// bbolt's slice is only valid inside the transaction.
	out := make([]byte, len(v))
	copy(out, v)
	return out, nil
}

// Blobs lists every blob's sum in order.
func (t *boltTx) Blobs() ([]string, error) {
	out := []string{}
	b := t.bucket(bucketBlobs)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, _ []byte) error { out = append(out, string(k)); return nil })
	return out, err
}

// Lock returns the branch's lock, or ErrNotFound when it is unlocked.
func (t *boltTx) Lock(branch string) (Lock, error) {
	var l Lock
	err := t.get(bucketLocks, "lock of branch", branch, &l)
	return l, err
}

// PutLock sets the branch's lock, replacing any.
func (t *boltTx) PutLock(l Lock) error { return t.put(bucketLocks, "PutLock", l.Branch, l) }

// DeleteLock unlocks a branch; unlocking an unlocked branch is not an error.
func (t *boltTx) DeleteLock(branch string) error { return t.del(bucketLocks, "DeleteLock", branch) }

// Staged returns the branch's staged entries; none is an empty list.
func (t *boltTx) Staged(branch string) ([]journal.Entry, error) {
	var es []journal.Entry
	err := t.get(bucketStaged, "staged entries of branch", branch, &es)
	if errors.Is(err, ErrNotFound) {
		return []journal.Entry{}, nil
	}
	return es, err
}

// PutStaged replaces the branch's staged entries; an empty list clears them.
func (t *boltTx) PutStaged(branch string, entries []journal.Entry) error {
	if len(entries) == 0 {
		return t.del(bucketStaged, "PutStaged", branch)
	}
	return t.put(bucketStaged, "PutStaged", branch, entries)
}

// PutPlan creates or replaces a plan.
func (t *boltTx) PutPlan(p PlanRecord) error { return t.put(bucketPlans, "PutPlan", p.ID, p) }

// Plan returns one plan or ErrNotFound.
func (t *boltTx) Plan(id string) (PlanRecord, error) {
	var p PlanRecord
	err := t.get(bucketPlans, "plan", id, &p)
	return p, err
}

// Plans returns every plan, oldest first.
func (t *boltTx) Plans() ([]PlanRecord, error) {
	ps, err := each[PlanRecord](t.bucket(bucketPlans), string(bucketPlans), 0, nil)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Created.Before(ps[j].Created) })
	return ps, err
}

// addSeq appends records under the bucket's next sequence number.
func addSeq[T any](t *boltTx, bucket []byte, op string, recs []T) error {
	if err := t.writable(op); err != nil {
		return err
	}
	b := t.bucket(bucket)
	t.touch(bucket)
	for _, r := range recs {
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("store: %s: %w", op, err)
		}
		if err := b.Put(seqKey(n), v); err != nil {
			return err
		}
	}
	return nil
}

// AddResults appends run results.
func (t *boltTx) AddResults(rs []RunResult) error {
	return addSeq(t, bucketResults, "AddResults", rs)
}

// Results returns a host's results ("" for all), oldest first.
func (t *boltTx) Results(hostID string) ([]RunResult, error) {
	var keep func(RunResult) bool
	if hostID != "" {
		keep = func(r RunResult) bool { return r.HostID == hostID }
	}
	return each(t.bucket(bucketResults), string(bucketResults), 0, keep)
}

// AddAudit appends an audit record.
func (t *boltTx) AddAudit(a AuditRecord) error {
	return addSeq(t, bucketAudit, "AddAudit", []AuditRecord{a})
}

// Audit returns a branch's audit trail ("" for all), oldest first.
func (t *boltTx) Audit(branch string) ([]AuditRecord, error) {
	var keep func(AuditRecord) bool
	if branch != "" {
		keep = func(a AuditRecord) bool { return a.Branch == branch }
	}
	return each(t.bucket(bucketAudit), string(bucketAudit), 0, keep)
}

// checkAppend is Append's compare-and-set and sealing check, shared by
// every backend. It also refuses entries that journal.Verify would reject:
// the journal is append-only, so a bad entry written once could never be
// repaired.
func checkAppend(branch string, b Branch, entries []journal.Entry) error {
	if first := entries[0]; first.Seq != b.Head+1 || first.Prev != b.HeadHash {
		return fmt.Errorf("store: append to branch %q at seq %d: %w (head is now seq %d); re-read the branch and stage again", branch, first.Seq, ErrHeadMoved, b.Head)
	}
	for i, e := range entries {
		if i > 0 && e.Seq != entries[i-1].Seq+1 {
			return fmt.Errorf("store: append to branch %q: seq %d follows seq %d: %w; entries must be consecutive", branch, e.Seq, entries[i-1].Seq, ErrHeadMoved)
		}
		if i > 0 && e.Prev != entries[i-1].Hash {
			return fmt.Errorf("store: append to branch %q: seq %d does not link to seq %d; seal entries with journal.Seal", branch, e.Seq, entries[i-1].Seq)
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("store: append to branch %q: seq %d: %w", branch, e.Seq, err)
		}
		if e.ComputeHash() != e.Hash {
			return fmt.Errorf("store: append to branch %q: seq %d is not sealed (its hash does not match its content); seal entries with journal.Seal", branch, e.Seq)
		}
	}
	return nil
}

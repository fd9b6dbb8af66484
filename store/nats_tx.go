package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/discoterm/discoterm/engine/journal"
)

// Keys of the state bucket: KIND.ENCODED-ID, and for records kept in
// order, KIND.ENCODED-OWNER.UNIQUE.
const (
	kHost   = "host."
	kBranch = "branch."
	kLock   = "lock."
	kStaged = "staged."
	kPlan   = "plan."
	kResult = "result."
	kAudit  = "audit."
	kIntent = "txn.intent"
	kBlob   = "blob."
)

// inlineBlob is the largest blob kept as a KV value (key blob.SHA256)
// rather than an object: an object costs several round trips to write and
// to read (its chunks, its metadata), a KV value one, and most blobs are
// configuration files and rendered templates of a few kilobytes.
const inlineBlob = 64 << 10

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// encKey makes an ID or name one KV key token and one subject token: kept
// as is when it is plain, else "=" and its hex (IDs hold ':' and names may
// hold '.', which NATS reads as a token separator). "=" never starts a
// plain token, so the two forms cannot collide.
func encKey(s string) string {
	if plainKey.MatchString(s) {
		return s
	}
	return "=" + hex.EncodeToString([]byte(s))
}

// branchRec is a branch's KV record: its metadata and where its head is in
// the journal stream, for the next append's expected-sequence check.
type branchRec struct {
	Branch
	StreamSeq uint64 `json:"stream_seq"`
}

// planRec is a plan's KV record; a large plan's Data lives in the blob
// bucket, since a KV value is one NATS message (1 MiB by default).
type planRec struct {
	PlanRecord
	DataBlob string `json:"data_blob,omitempty"`
}

// inlinePlanData is the largest plan Data kept inside the KV record.
const inlinePlanData = 256 << 10

// natsTx is one transaction: reads go to the server (through the write
// overlay), writes are buffered until commit.
type natsTx struct {
	s     *natsStore
	ctx   context.Context
	write bool

	puts    map[string][]byte // key → value; nil means delete
	order   []string          // keys in first-write order
	appends map[string]*pendingAppend
	blobs   map[string][]byte
	records int // results and audit records added, for their keys

	// Reads of single hosts are one round trip each; a transaction that
	// reads many (a plan saving every host's mirrored state) reads the
	// whole list once instead.
	hostReads int
	hostCache map[string][]byte // key → value (nil: absent); set once listed
}

// hostPrefetch is how many single host reads a transaction makes before
// it lists every host once.
const hostPrefetch = 4

type pendingAppend struct {
	After   uint64 // stream sequence of the head the entries follow (0: none)
	Entries []journal.Entry
}

func newNATSTx(s *natsStore, ctx context.Context, write bool) *natsTx {
	return &natsTx{s: s, ctx: ctx, write: write, puts: map[string][]byte{}, appends: map[string]*pendingAppend{}, blobs: map[string][]byte{}}
}

func (t *natsTx) empty() bool { return len(t.order) == 0 && len(t.appends) == 0 && len(t.blobs) == 0 }

func (t *natsTx) writable(op string) error {
	if !t.write {
		return fmt.Errorf("store: %s in a read-only transaction: %w; use Update", op, ErrReadOnly)
	}
	return nil
}

func (t *natsTx) set(key string, v []byte) {
	if _, ok := t.puts[key]; !ok {
		t.order = append(t.order, key)
	}
	t.puts[key] = v
}

func (t *natsTx) putJSON(op, key string, rec any) error {
	if err := t.writable(op); err != nil {
		return err
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	t.set(key, v)
	return nil
}

func (t *natsTx) del(op, key string) error {
	if err := t.writable(op); err != nil {
		return err
	}
	t.set(key, nil)
	return nil
}

// raw returns a key's value through the overlay; nil, nil when absent.
func (t *natsTx) raw(key string) ([]byte, error) {
	if v, ok := t.puts[key]; ok {
		return v, nil
	}
	e, err := t.s.kv.Get(t.ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, t.s.unavailable("reading "+key, err)
	}
	return e.Value(), nil
}

func (t *natsTx) get(key, noun, id string, into any) error {
	var v []byte
	var err error
	if id != "" {
		if v, err = t.raw(key); err != nil {
			return err
		}
	}
	if v == nil {
		return fmt.Errorf("%s %q: %w", noun, id, ErrNotFound)
	}
	if err := json.Unmarshal(v, into); err != nil {
		return &CorruptRecordError{Bucket: t.s.name("state"), Key: key, Err: err}
	}
	return nil
}

// list returns the values of keys matching pattern, in the order they were
// last written (the bucket's revision order), with this transaction's own
// writes applied.
func (t *natsTx) list(pattern, prefix string) ([][]byte, error) {
	w, err := t.s.kv.Watch(t.ctx, pattern, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, t.s.unavailable("listing "+pattern, err)
	}
	defer w.Stop()
	var keys []string
	vals := map[string][]byte{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, t.s.unavailable("listing "+pattern, errors.New("watcher closed"))
			}
			if e == nil {
				goto done
			}
			if _, seen := vals[e.Key()]; !seen {
				keys = append(keys, e.Key())
			}
			vals[e.Key()] = e.Value()
		case <-t.ctx.Done():
			return nil, t.s.unavailable("listing "+pattern, t.ctx.Err())
		}
	}
done:
	for _, k := range t.order {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if _, seen := vals[k]; !seen {
			keys = append(keys, k)
		}
		vals[k] = t.puts[k]
	}
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if v := vals[k]; v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

func listJSON[T any](t *natsTx, pattern, prefix string, keep func(T) bool) ([]T, error) {
	vals, err := t.list(pattern, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(vals))
	for _, v := range vals {
		var rec T
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, &CorruptRecordError{Bucket: t.s.name("state"), Key: pattern, Err: err}
		}
		if keep == nil || keep(rec) {
			out = append(out, rec)
		}
	}
	return out, nil
}

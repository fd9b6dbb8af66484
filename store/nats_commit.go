package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/discoterm/discoterm/engine/journal"
)

// intent is a committed transaction's whole write set, stored before any of
// it is applied so that whoever takes the mutex next can finish it.
type intent struct {
	ID      string         `json:"id"`
	Appends []intentAppend `json:"appends,omitempty"`
	Puts    []intentPut    `json:"puts,omitempty"`
	Object  string         `json:"object,omitempty"` // set: the intent itself is in the blob bucket under this name
}

type intentAppend struct {
	Branch  string          `json:"branch"`
	After   uint64          `json:"after"` // stream sequence the first entry must follow
	Entries []journal.Entry `json:"entries"`
}

type intentPut struct {
	Key   string `json:"key"`
	Value []byte `json:"value,omitempty"` // nil: delete
}

// inlineIntent is the largest intent kept in the state bucket itself; a
// KV value is one NATS message (1 MiB by default).
const inlineIntent = 768 << 10

// View runs fn on reads from the server. fn must not keep tx.
func (s *natsStore) View(fn func(Tx) error) error {
	if err := s.connected(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*s.timeout)
	defer cancel()
	return fn(newNATSTx(s, ctx, false))
}

// Update runs fn and commits its writes all together, or none; see
// natsStore.
func (s *natsStore) Update(fn func(Tx) error) error {
	if err := s.connected(); err != nil {
		return err
	}
	s.local.Lock()
	defer s.local.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*s.timeout)
	defer cancel()
	rev, err := s.lockMutex(ctx)
	if err != nil {
		return err
	}
	defer func() { s.unlockMutex(rev) }()
	if err := s.replay(ctx); err != nil {
		return err
	}
	tx := newNATSTx(s, ctx, true)
	if err := fn(tx); err != nil {
		return err
	}
	if tx.empty() {
		return nil
	}
	// Large blobs first, as objects: they are named by content, so one
	// stored by an update that then fails is harmless. Small ones are keys
	// of the intent, written before the records that point at them.
	objects := map[string][]byte{}
	in := intent{ID: nuid.Next()}
	for sum, data := range tx.blobs {
		if len(sum) == 64 && len(data) <= inlineBlob {
			in.Puts = append(in.Puts, intentPut{Key: kBlob + sum, Value: data})
		} else {
			objects[sum] = data
		}
	}
	if err := s.putBlobs(ctx, objects); err != nil {
		return err
	}
	for _, k := range tx.order {
		in.Puts = append(in.Puts, intentPut{Key: k, Value: tx.puts[k]})
	}
	for b, p := range tx.appends {
		in.Appends = append(in.Appends, intentAppend{Branch: b, After: p.After, Entries: p.Entries})
	}
	// Renewing the lease proves the mutex is still ours; past this point
	// the commit is on record and will be finished by someone.
	if rev, err = s.mutex.Update(ctx, mutexKey, s.holder, rev); err != nil {
		return fmt.Errorf("store %s: the update took longer than the %v lease on the store mutex and was not committed; try again (%w)", s.url, MutexLease, ErrInUse)
	}
	if err := s.writeIntent(ctx, in); err != nil {
		return err
	}
	// The commit is on record: finish it, retrying through a server
	// failover, rather than report a failure the caller would retry
	// (whoever takes the mutex next would finish it anyway).
	for pause := 50 * time.Millisecond; ; pause = min(pause*2, time.Second) {
		s.applying.Lock()
		err = s.apply(ctx, in, false)
		s.applying.Unlock()
		if err == nil {
			err = s.clearIntent(ctx, in)
		}
		if err == nil || errors.Is(err, ErrHeadMoved) || ctx.Err() != nil {
			return err
		}
		time.Sleep(pause)
	}
}

// connected fails fast while the client is reconnecting: requests would
// only wait out their timeout.
func (s *natsStore) connected() error {
	if s.nc.IsConnected() {
		return nil
	}
	since := s.Unreachable()
	if since.IsZero() {
		since = time.Now()
	}
	return fmt.Errorf("store %s: not connected (since %s) (%w)", s.url, time.Since(since).Round(time.Second), ErrUnavailable)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on types that always encode
	}
	return b
}

// putBlobs stores blobs a few at a time: each is several round trips
// (a plan renders one per host).
func (s *natsStore) putBlobs(ctx context.Context, blobs map[string][]byte) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(blobs))
	sem := make(chan struct{}, 8)
	for sum, data := range blobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- s.putBlob(ctx, sum, data)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *natsStore) putBlob(ctx context.Context, sum string, data []byte) error {
	if _, err := s.obs.GetInfo(ctx, sum); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrObjectNotFound) {
		return s.unavailable("checking blob "+sum, err)
	}
	if _, err := s.obs.PutBytes(ctx, sum, data); err != nil {
		return s.unavailable("storing blob "+sum, err)
	}
	return nil
}

func (s *natsStore) writeIntent(ctx context.Context, in intent) error {
	b := mustJSON(in)
	if len(b) > inlineIntent {
		name := "intent-" + in.ID
		if _, err := s.obs.PutBytes(ctx, name, b); err != nil {
			return s.unavailable("storing the commit record", err)
		}
		b = mustJSON(intent{ID: in.ID, Object: name})
	}
	if _, err := s.kv.Put(ctx, kIntent, b); err != nil {
		return s.unavailable("storing the commit record", err)
	}
	return nil
}

func (s *natsStore) clearIntent(ctx context.Context, in intent) error {
	if err := s.kv.Delete(ctx, kIntent); err != nil {
		return s.unavailable("clearing the commit record", err)
	}
	if in.Object != "" {
		_ = s.obs.Delete(ctx, in.Object)
	}
	return nil
}

// replay finishes a commit that a process left half-applied.
func (s *natsStore) replay(ctx context.Context) error {
	e, err := s.kv.Get(ctx, kIntent)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil
	}
	if err != nil {
		return s.unavailable("reading the commit record", err)
	}
	var in intent
	if err := json.Unmarshal(e.Value(), &in); err != nil {
		return &CorruptRecordError{Bucket: s.name("state"), Key: kIntent, Err: err}
	}
	if in.Object != "" {
		b, err := s.obs.GetBytes(ctx, in.Object)
		if err != nil {
			return s.unavailable("reading the commit record", err)
		}
		obj := in.Object
		if err := json.Unmarshal(b, &in); err != nil {
			return &CorruptRecordError{Bucket: s.name("blobs"), Key: obj, Err: err}
		}
		in.Object = obj
	}
	err = s.apply(ctx, in, true)
	if errors.Is(err, ErrHeadMoved) {
		// Its journal append can no longer land, and nothing else of it
		// was applied (appends go first): the commit never happened.
		err = nil
	}
	if err != nil {
		return err
	}
	return s.clearIntent(ctx, in)
}

// apply writes an intent: journal appends first (the server refuses an
// entry whose subject moved on), then every key. Each step is idempotent,
// so a replay after a crash anywhere in here converges.
func (s *natsStore) apply(ctx context.Context, in intent, replay bool) error {
	streamSeq := map[string]uint64{}
	for _, a := range in.Appends {
		seq, err := s.appendEntries(ctx, a)
		if err != nil {
			if !replay && errors.Is(err, ErrHeadMoved) {
				_ = s.clearIntent(ctx, in)
			}
			return err
		}
		streamSeq[kBranch+encKey(a.Branch)] = seq
	}
	var acks []jetstream.PubAckFuture
	for _, p := range in.Puts {
		v := p.Value
		if seq, ok := streamSeq[p.Key]; ok {
			var rec branchRec
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("store: commit record: %w", err)
			}
			rec.StreamSeq = seq
			v = mustJSON(rec)
		}
		m := nats.NewMsg("$KV." + s.name("state") + "." + p.Key)
		if v == nil {
			m.Header.Set("KV-Operation", "DEL")
		} else {
			m.Data = v
		}
		f, err := s.js.PublishMsgAsync(m)
		if err != nil {
			return s.unavailable("writing "+p.Key, err)
		}
		acks = append(acks, f)
	}
	for i, f := range acks {
		select {
		case ack := <-f.Ok():
			s.own.add(ack.Sequence)
		case err := <-f.Err():
			return s.unavailable("writing "+in.Puts[i].Key, err)
		case <-ctx.Done():
			return s.unavailable("writing "+in.Puts[i].Key, ctx.Err())
		}
	}
	return nil
}

// appendEntries publishes entries on the branch's subject, each expecting
// the previous one as the subject's last message. It returns the stream
// sequence of the last entry. Entries already there (a replay) are skipped.
func (s *natsStore) appendEntries(ctx context.Context, a intentAppend) (uint64, error) {
	subj := s.journalSubject(a.Branch)
	prev := a.After
	for i := 0; i < len(a.Entries); i++ {
		e := a.Entries[i]
		ack, err := s.js.Publish(ctx, subj, mustJSON(e), jetstream.WithExpectLastSequencePerSubject(prev))
		if err == nil {
			prev = ack.Sequence
			continue
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			return 0, s.unavailable("appending to branch "+a.Branch, err)
		}
		// The subject moved: either this append already landed (in part)
		// before a crash, or someone else appended.
		last, lseq, err := s.lastEntry(ctx, a.Branch)
		if err != nil {
			return 0, err
		}
		j := -1
		for k := i; k < len(a.Entries); k++ {
			if a.Entries[k].Seq == last.Seq && a.Entries[k].Hash == last.Hash {
				j = k
			}
		}
		if j < 0 {
			return 0, fmt.Errorf("store: append to branch %q at seq %d: %w (head is now seq %d); re-read the branch and stage again", a.Branch, e.Seq, ErrHeadMoved, last.Seq)
		}
		prev, i = lseq, j
	}
	return prev, nil
}

// lastEntry is the branch's last journal message and its stream sequence.
func (s *natsStore) lastEntry(ctx context.Context, branch string) (journal.Entry, uint64, error) {
	var e journal.Entry
	m, err := s.jrnl.GetLastMsgForSubject(ctx, s.journalSubject(branch))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return e, 0, nil
	}
	if err != nil {
		return e, 0, s.unavailable("reading the head of branch "+branch, err)
	}
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return e, 0, &CorruptRecordError{Bucket: s.name("journal"), Key: fmt.Sprint(m.Sequence), Err: err}
	}
	return e, m.Sequence, nil
}

// readJournal reads the first n entries of a branch's subject in order.
func (s *natsStore) readJournal(ctx context.Context, branch string, n uint64) ([]journal.Entry, error) {
	out := make([]journal.Entry, 0, min(n, 1<<20))
	if n == 0 {
		return out, nil
	}
	cons, err := s.jrnl.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{s.journalSubject(branch)}})
	if err != nil {
		return nil, s.unavailable("reading branch "+branch, err)
	}
	for uint64(len(out)) < n {
		batch, err := cons.Fetch(int(min(n-uint64(len(out)), 1000)), jetstream.FetchMaxWait(s.timeout))
		if err != nil {
			return nil, s.unavailable("reading branch "+branch, err)
		}
		got := 0
		for m := range batch.Messages() {
			var e journal.Entry
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				md, _ := m.Metadata()
				seq := uint64(0)
				if md != nil {
					seq = md.Sequence.Stream
				}
				return nil, &CorruptRecordError{Bucket: s.name("journal"), Key: fmt.Sprint(seq), Err: err}
			}
			out = append(out, e)
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, s.unavailable("reading branch "+branch, err)
		}
		if got == 0 {
			return nil, fmt.Errorf("store %s: branch %s: the journal stream holds %d entries but the branch's head is %d: %w; restore the store from a backup", s.url, branch, len(out), n, ErrCorruptRecord)
		}
	}
	return out, nil
}

// revTracker remembers revisions this process wrote, so that its watcher
// can tell its own changes from others'.
type revTracker struct {
	mu   sync.Mutex
	revs map[uint64]bool
}

func (r *revTracker) add(rev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revs == nil {
		r.revs = map[uint64]bool{}
	}
	if len(r.revs) > 1<<16 { // nobody is watching: do not grow forever
		clear(r.revs)
	}
	r.revs[rev] = true
}

// take reports whether rev was ours, forgetting it.
func (r *revTracker) take(rev uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := r.revs[rev]
	delete(r.revs, rev)
	return ok
}

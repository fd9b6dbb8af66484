package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

// Change tells a watcher that the store changed: which areas, and whether
// anyone but this Store value (another process, another operator) made
// any of the changes.
type Change struct {
	Areas   Area
	Foreign bool
}

// Watcher is implemented by stores that report changes as they happen.
// The channel coalesces: a slow reader gets one Change covering everything
// since its last read, never a backlog. It closes when ctx ends.
type Watcher interface {
	Watch(ctx context.Context) (<-chan Change, error)
}

// Health is implemented by stores that can become unreachable (a server):
// since when it has been unreachable, zero while it is reachable.
type Health interface {
	Unreachable() time.Time
}

// coalescer merges changes until the reader takes them.
type coalescer struct {
	mu      sync.Mutex
	pending Change
	has     bool
	notify  chan struct{}
	out     chan Change
}

func newCoalescer(ctx context.Context) *coalescer {
	c := &coalescer{notify: make(chan struct{}, 1), out: make(chan Change)}
	go func() {
		defer close(c.out)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.notify:
			}
			c.mu.Lock()
			ch, has := c.pending, c.has
			c.pending, c.has = Change{}, false
			c.mu.Unlock()
			if !has {
				continue
			}
			select {
			case c.out <- ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return c
}

func (c *coalescer) add(ch Change) {
	c.mu.Lock()
	c.pending.Areas |= ch.Areas
	c.pending.Foreign = c.pending.Foreign || ch.Foreign
	c.has = true
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// WatchInterval is how often the file store looks for other processes'
// commits: a read of a few counters under the shared lock.
const WatchInterval = 50 * time.Millisecond

// Watch polls the change counters every WatchInterval.
func (s *boltStore) Watch(ctx context.Context) (<-chan Change, error) {
	last, _, err := s.readGens()
	if err != nil {
		return nil, err
	}
	c := newCoalescer(ctx)
	go func() {
		t := time.NewTicker(WatchInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			gen, areas, err := s.readGens()
			if err != nil || gen == last {
				continue // a busy store is retried on the next tick
			}
			var changed Area
			for i, g := range areas {
				if g > last {
					changed |= 1 << i
				}
			}
			foreign := true
			if gen-last < 1<<16 {
				foreign = s.gen.foreign(last, gen)
			}
			last = gen
			c.add(Change{Areas: changed, Foreign: foreign})
		}
	}()
	return c.out, nil
}

func (s *boltStore) readGens() (uint64, []uint64, error) {
	var gen uint64
	areas := make([]uint64, len(areaNames))
	err := s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		gen = readU64(meta.Get(keyGen))
		for i := range areaNames {
			areas[i] = readU64(meta.Get(areaKey(i)))
		}
		return nil
	})
	return gen, areas, err
}

var keyAreas = map[string]Area{
	kHost: AreaHosts, kBranch: AreaBranches | AreaJournal, kLock: AreaLocks, kStaged: AreaStaged,
	kPlan: AreaPlans, kResult: AreaResults, kAudit: AreaAudit,
}

// Watch follows the state bucket: every record change is one KV update.
func (s *natsStore) Watch(ctx context.Context) (<-chan Change, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return nil, s.unavailable("watching", err)
	}
	c := newCoalescer(ctx)
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				kind, _, _ := strings.Cut(e.Key(), ".")
				area := keyAreas[kind+"."]
				if area == 0 {
					continue // the intent record, the schema
				}
				s.applying.RLock()
				mine := s.own.take(e.Revision())
				s.applying.RUnlock()
				c.add(Change{Areas: area, Foreign: !mine})
			}
		}
	}()
	return c.out, nil
}

package store

import (
	"encoding/binary"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Area is a part of the store a change touched; Watch reports them so a
// watcher re-reads only what changed.
type Area uint16

// The areas.
const (
	AreaHosts Area = 1 << iota
	AreaBranches
	AreaJournal
	AreaLocks
	AreaStaged
	AreaPlans
	AreaResults
	AreaAudit
	AreaBlobs
	AreaAll Area = 1<<iota - 1
)

var areaNames = []string{"hosts", "branches", "journal", "locks", "staged", "plans", "results", "audit", "blobs"}

// String lists the areas, e.g. "locks,staged".
func (a Area) String() string {
	s := ""
	for i, n := range areaNames {
		if a&(1<<i) != 0 {
			if s != "" {
				s += ","
			}
			s += n
		}
	}
	return s
}

// keyGen is the store-wide change counter; keyGen+"."+area is the counter
// value of the last commit that touched that area.
var keyGen = []byte("gen")

func areaKey(i int) []byte { return []byte("gen." + areaNames[i]) }

// bumpGen advances the change counter in the committing transaction and
// stamps the areas it touched; it returns the new generation.
func bumpGen(tx *bolt.Tx, areas Area) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	gen := readU64(meta.Get(keyGen)) + 1
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, gen)
	if err := meta.Put(keyGen, v); err != nil {
		return 0, err
	}
	for i := range areaNames {
		if areas&(1<<i) != 0 {
			if err := meta.Put(areaKey(i), v); err != nil {
				return 0, err
			}
		}
	}
	return gen, nil
}

func readU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// genTracker remembers which generations this process committed, so a
// watcher can tell its own changes from other processes'.
type genTracker struct {
	mu   sync.Mutex
	mine map[uint64]bool
}

func (g *genTracker) own(gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mine == nil {
		g.mine = map[uint64]bool{}
	}
	g.mine[gen] = true
}

// foreign reports whether any generation in (from, to] was not ours, and
// forgets ours up to to.
func (g *genTracker) foreign(from, to uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	other := false
	for n := from + 1; n <= to; n++ {
		if !g.mine[n] {
			other = true
		}
	}
	for n := range g.mine {
		if n <= to {
			delete(g.mine, n)
		}
	}
	return other
}

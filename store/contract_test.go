package store_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/discoterm/discoterm/store"
	"github.com/discoterm/discoterm/store/storetest"
)

// boltOpener gives each test its own file and opens it again on every
// later call, as another process would.
func boltOpener() storetest.Opener {
	var mu sync.Mutex
	paths := map[*testing.T]string{}
	return func(t *testing.T) store.Store {
		mu.Lock()
		p, ok := paths[t]
		if !ok {
			p = filepath.Join(t.TempDir(), "discoterm.db")
			paths[t] = p
		}
		mu.Unlock()
		s, err := store.Open(p, store.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

func TestContractBolt(t *testing.T) { storetest.Run(t, boltOpener()) }

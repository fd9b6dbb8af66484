package store_test

import (
	"fmt"
	"github.com/discoterm/discoterm/store/natstest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

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

// natsOpener gives each test its own prefix (its own streams and buckets)
// on one in-process server, and a new connection on every call.
func natsOpener(url string) storetest.Opener {
	var mu sync.Mutex
	prefixes := map[*testing.T]string{}
	n, run := 0, strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
	return func(t *testing.T) store.Store {
		mu.Lock()
		p, ok := prefixes[t]
		if !ok {
			n++
			p = fmt.Sprintf("t%d-%s", n, run) // unique on a server kept between runs
			prefixes[t] = p
		}
		mu.Unlock()
		s, err := store.OpenNATS(store.NATSOptions{URL: url + "/" + p, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("OpenNATS: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

func TestContractNATS(t *testing.T) { storetest.Run(t, natsOpener(natstest.Start(t))) }

// TestContractNATSExternal runs the contract against a server you started
// (another version, a cluster): DISCOTERM_TEST_NATS=nats://HOST:PORT.
func TestContractNATSExternal(t *testing.T) {
	url := os.Getenv("DISCOTERM_TEST_NATS")
	if url == "" {
		t.Skip("set DISCOTERM_TEST_NATS=nats://HOST:PORT to run the contract against that server")
	}
	storetest.Run(t, natsOpener(url))
}

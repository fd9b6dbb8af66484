package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/scanner"
	"github.com/discoterm/discoterm/store"
)

// slowRemote answers probes slowly, recording how many run at once.
type slowRemote struct {
	failingRemote
	mu           sync.Mutex
	now, most, n int
}

func (s *slowRemote) Probe(ctx context.Context, t remote.Target, req remote.ProbeRequest) (*remote.ProbeResult, error) {
	s.mu.Lock()
	s.now++
	s.n++
	s.most = max(s.most, s.now)
	s.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	s.mu.Lock()
	s.now--
	s.mu.Unlock()
	return nil, &remote.UnreachableError{Host: t.Addr, Err: errors.New("refused")}
}

// TestLearningIsBounded: a round that sights many new hosts (a LAN full of
// devices, or one attacker answering from many MACs) learns them with at
// most Parallel SSH probes at once, not one goroutine and connection each.
func TestLearningIsBounded(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sr := &slowRemote{}
	e, err := New(Options{Store: st, Remote: sr, Operator: "scan", Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	d := &discovery{e: e, learned: map[string]bool{}, retry: map[string]time.Time{}, running: map[string]bool{},
		backoff: map[string]time.Time{}, fails: map[string]int{}, slots: make(chan struct{}, 4),
		tracker: scanner.NewTracker(scanner.TrackerOptions{})}
	var sights []scanner.Sighting
	now := time.Now()
	for i := 0; i < 64; i++ {
		a := netip.MustParseAddr(fmt.Sprintf("fe80::%x", i+1)).WithZone("br0")
		sights = append(sights, scanner.Sighting{Iface: "br0", Addr: a, MAC: fmt.Sprintf("02:00:00:00:00:%02x", i), Time: now, Round: 1})
	}
	d.round(context.Background(), scanner.RoundResult{Round: 1, Start: now, Sightings: sights})
	if sr.n != 64 {
		t.Fatalf("%d hosts probed, want 64", sr.n)
	}
	if sr.most > 4 {
		t.Fatalf("%d probes ran at once; Parallel is 4", sr.most)
	}
}

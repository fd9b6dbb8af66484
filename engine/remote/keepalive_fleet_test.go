package remote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

func TestKeepaliveDefaults(t *testing.T) {
	c, err := New(Options{KnownHostsFiles: []string{}, ConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.opts.KeepaliveInterval != 15*time.Second || c.opts.KeepaliveCountMax != 3 {
		t.Fatalf("keepalive defaults %v × %d, want 15s × 3 (OpenSSH's ServerAliveInterval style)", c.opts.KeepaliveInterval, c.opts.KeepaliveCountMax)
	}
}

// TestFleetDeadHostFreesItsSession: a host whose link goes down while a
// long command runs (a push's apply step) stops answering keepalives; the
// connection is given up after KeepaliveCountMax intervals and the Run
// returns, instead of waiting for TCP to time out (many minutes).
func TestFleetDeadHostFreesItsSession(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	h := f.Hosts[0]
	c := fleetClient(t, f, func(o *Options) {
		o.KeepaliveInterval, o.KeepaliveCountMax = 200*time.Millisecond, 3
	})
	tg := Target{Addr: h.ULA, Name: h.Name}
	if _, err := c.Run(context.Background(), tg, "true", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A healthy idle connection survives many intervals.
	time.Sleep(time.Second)
	if _, err := c.Run(context.Background(), tg, "true", nil, nil, nil); err != nil || c.Stats(tg).Dials != 1 {
		t.Fatalf("an idle, healthy connection was dropped: %v, %+v", err, c.Stats(tg))
	}
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		_, err := c.Run(context.Background(), tg, "echo started; sleep 120", nil, signalWriter(started), nil)
		done <- err
	}()
	<-started
	if err := h.Down(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Up() })
	downAt := time.Now()
	select {
	case err := <-done:
		took := time.Since(downAt)
		if err == nil || !strings.Contains(err.Error(), "connection lost") {
			t.Fatalf("Run on a dead host: %v", err)
		}
		if took > 3*time.Second {
			t.Fatalf("a dead host held its session for %v; the keepalive window is 600ms", took)
		}
		t.Logf("dead host given up %v after its link went down", took.Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("Run on a dead host did not return within 20s")
	}
}

// signalWriter closes ch at the first write.
type signalWriter chan struct{}

func (w signalWriter) Write(p []byte) (int, error) {
	select {
	case <-w:
	default:
		close(w)
	}
	return len(p), nil
}

// TestFleetPoolIsBounded: past MaxConns pooled connections the least
// recently used idle one is closed; the next Run to its host dials again.
func TestFleetPoolIsBounded(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 3})
	c := fleetClient(t, f, func(o *Options) { o.MaxConns = 2 })
	ctx := context.Background()
	for _, h := range f.Hosts {
		if _, err := c.Run(ctx, Target{Addr: h.ULA, Name: h.Name}, "true", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	n := len(c.pool)
	c.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d pooled connections, MaxConns is 2", n)
	}
	first := Target{Addr: f.Hosts[0].ULA, Name: f.Hosts[0].Name}
	if _, ok := c.HostKey(first); ok {
		t.Fatal("the least recently used connection is still pooled")
	}
	if _, err := c.Run(ctx, first, "true", nil, nil, nil); err != nil || c.Stats(first).Dials != 2 {
		t.Fatalf("re-running on an evicted host: %v, %+v", err, c.Stats(first))
	}
}

package verbs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/metrics"
)

// GroupServe holds the verbs that run until interrupted.
const GroupServe = "serving"

func serveVerbs() []*Verb {
	return []*Verb{
		{Name: "serve-metrics", Group: GroupServe, Help: "serve Prometheus metrics of the fleet at http://ADDR/metrics until interrupted",
			Flags: []Flag{{Name: "listen", Type: String, Value: "ADDR", Help: "address to listen on (default 127.0.0.1:9469)"},
				{Name: "scan", Type: Bool, Help: "also scan (and catch up hosts by policy), so scan rounds and catch-up pushes are measured"},
				{Name: "iface", Type: List, Value: "IF", Help: "interface to scan with --scan (repeatable; default: every usable one)"},
				{Name: "interval", Type: Duration, Value: "D", Help: "time between probe rounds with --scan (default 5s)"},
				{Name: "for", Type: Duration, Value: "DURATION", Help: "stop after DURATION (default: until interrupted)"}},
			Run: runServeMetrics},
	}
}

// DefaultMetricsAddr is where serve-metrics listens without --listen: the
// loopback, since the metrics name every host and its state.
const DefaultMetricsAddr = "127.0.0.1:9469"

func runServeMetrics(ctx context.Context, b Backend, c *Call) (Result, error) {
	src, ok := b.(metrics.Source)
	if !ok {
		return nil, errors.New("this face cannot serve metrics (its backend has no event stream)")
	}
	addr := c.Str("listen")
	if addr == "" {
		addr = DefaultMetricsAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot listen on %s: %v; give another --listen ADDR", engine.ErrUsage, addr, err)
	}
	x := metrics.New(src, metrics.Options{})
	defer x.Close()
	var cancel context.CancelFunc
	if d := c.Dur("for"); d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	var wg sync.WaitGroup
	var scanErr error
	if c.Bool("scan") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scanErr = b.Discover(ctx, engine.DiscoverOptions{Interfaces: c.List("iface"), Interval: c.Dur("interval")})
			if scanErr != nil {
				cancel() // a scan asked for and not running is not a metrics server to keep
			}
		}()
	}
	if c.Notify != nil {
		c.Notify(Done{"serve-metrics", fmt.Sprintf("serving metrics on http://%s/metrics until interrupted", ln.Addr())})
	}
	err = metrics.Serve(ctx, ln, x)
	cancel()
	wg.Wait()
	if scanErr != nil && !errors.Is(scanErr, context.Canceled) && !errors.Is(scanErr, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: scan: %v", engine.ErrUsage, scanErr)
	}
	if err != nil {
		return nil, fmt.Errorf("serving metrics on %s: %v", ln.Addr(), err)
	}
	return Done{"serve-metrics", "stopped serving metrics on " + ln.Addr().String()}, nil
}

package main

import (
	"context"
	"fmt"
	"net"

	"github.com/discoterm/discoterm/engine/metrics"
	"github.com/discoterm/discoterm/ui"
)

// runTUI starts the interactive console on the same engine.
func runTUI(ctx context.Context, inv *invocation) int {
	a, err := inv.open()
	if err != nil {
		fmt.Fprintln(stderr, "discoterm:", err)
		return exitError
	}
	defer a.Close()
	stopMetrics, err := startMetrics(ctx, inv, a)
	if err != nil {
		fmt.Fprintln(stderr, "discoterm:", err)
		return exitUsage
	}
	defer stopMetrics()
	stopScan := startScanner(ctx, inv, a)
	defer stopScan()
	// Other processes' and operators' changes, lock renewal, store health.
	go func() { _ = a.eng.Watch(ctx) }()
	err = ui.Run(ctx, a.eng, ui.Options{Theme: inv.theme, Branch: inv.branch, Store: a.store.Path()})
	if err != nil {
		fmt.Fprintln(stderr, "discoterm:", err)
		return exitCode(err)
	}
	return exitOK
}

// startMetrics serves the console's metrics with --metrics-listen. The
// address is taken before the console starts, so a port in use is an
// error on the command line, not a message lost behind the screen.
func startMetrics(ctx context.Context, inv *invocation, a *app) (stop func(), err error) {
	if inv.metrics == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", inv.metrics)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %v; give another address", inv.metrics, err)
	}
	x := metrics.New(a.eng, metrics.Options{})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = metrics.Serve(ctx, ln, x)
	}()
	return func() { cancel(); <-done; x.Close() }, nil
}

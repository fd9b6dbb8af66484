package main

import (
	"context"

	"github.com/discoterm/discoterm/engine"
)

// startScanner runs live discovery beside the TUI unless --no-scan; a
// failure (no permission, no interface) reaches the UI as a scan event.
// The returned function stops it and waits.
func startScanner(ctx context.Context, inv *invocation, a *app) func() {
	if inv.noScan {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.eng.Discover(ctx, engine.DiscoverOptions{Interfaces: inv.ifaces})
	}()
	return func() { cancel(); <-done }
}

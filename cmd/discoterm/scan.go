package main

import "context"

// startScanner runs live discovery for the TUI unless --no-scan; it
// returns a function that stops it.
func startScanner(ctx context.Context, inv *invocation, a *app) func() {
	return func() {}
}

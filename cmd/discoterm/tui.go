package main

import (
	"context"
	"fmt"

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

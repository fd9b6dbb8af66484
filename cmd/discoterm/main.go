// Command discoterm is an operator console that keeps a Linux fleet in a
// known state. Without --batch it starts the terminal UI; with
// --batch VERB it runs one verb of the same engine for scripts.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/discoterm/discoterm/engine/verbs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

// run parses arguments, builds the engine and hands over to the batch
// runner or the TUI; its result is the process exit code.
func run(ctx context.Context, args []string) int {
	inv, err := parseArgs(args)
	if err != nil {
		if slices.Contains(args, "--json") { // scripts read errors from stdout too
			(&jsonPrinter{w: os.Stdout}).fail(err, exitUsage)
		} else {
			fmt.Fprintln(os.Stderr, "discoterm:", err)
		}
		return exitUsage
	}
	switch {
	case inv.version:
		fmt.Print(versionText())
		return exitOK
	case inv.help && !inv.batch:
		fmt.Print(usageText(verbs.Default()))
		return exitOK
	}
	if inv.batch {
		return runBatch(ctx, inv)
	}
	return runTUI(ctx, inv)
}

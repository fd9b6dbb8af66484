package main

import (
	"fmt"
	"os"
	"sync"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/verbs"
	"github.com/discoterm/discoterm/store"
)

// storeVerb is batch-only: it opens the stores it names, not the engine's,
// so it is the batch face's own verb (no Run), added to its table.
var storeVerb = &verbs.Verb{Name: "store", Group: "store", Help: "copy a whole store into an empty one (file ↔ nats://), verifying every journal on both sides",
	Args: []verbs.Arg{{Name: "migrate"}},
	Flags: []verbs.Flag{{Name: "from", Type: verbs.String, Value: "FILE|URL", Help: "the store to copy"},
		{Name: "to", Type: verbs.String, Value: "URL|FILE", Help: "the empty store to copy into"}}}

var (
	batchTableOnce sync.Once
	batchTableV    *verbs.Table
)

// batchTable is the verb table with the batch face's own verbs.
func batchTable() *verbs.Table {
	batchTableOnce.Do(func() {
		t, err := verbs.Default().With(storeVerb)
		if err != nil {
			panic(err) // a declaration error; the batch tests catch it first
		}
		batchTableV = t
	})
	return batchTableV
}

// runStoreVerb is `store migrate --from A --to B`.
func runStoreVerb(inv *invocation, c *verbs.Call, out printer) int {
	if err := storeMigrate(inv, c, out); err != nil {
		code := exitCode(err)
		out.fail(err, code)
		return code
	}
	return exitOK
}

func storeMigrate(inv *invocation, c *verbs.Call, out printer) error {
	if c.Arg(0) != "migrate" {
		return fmt.Errorf("%w: unknown store command %q; the one there is: store migrate --from FILE --to nats://HOST:4222", engine.ErrUsage, c.Arg(0))
	}
	from, to := c.Str("from"), c.Str("to")
	if from == "" || to == "" {
		return fmt.Errorf("%w: store migrate needs --from and --to (a file path or nats://HOST:4222[/PREFIX])", engine.ErrUsage)
	}
	if from == to {
		return fmt.Errorf("%w: --from and --to are the same store", engine.ErrUsage)
	}
	if !store.IsNATSURL(from) {
		// Opening a missing file would create an empty store to copy.
		if _, err := os.Stat(from); err != nil {
			return fmt.Errorf("%w: --from %s: %v", engine.ErrUsage, from, err)
		}
	}
	src, _, err := inv.openStoreAt(from)
	if err != nil {
		return fmt.Errorf("opening --from: %w", err)
	}
	defer src.Close()
	dst, _, err := inv.openStoreAt(to)
	if err != nil {
		return fmt.Errorf("opening --to: %w", err)
	}
	defer dst.Close()
	st, err := store.Copy(dst, src)
	if err != nil {
		return err
	}
	out.ok("store", fmt.Sprintf("copied %s to %s: %v; every journal verified on both sides", src.Path(), dst.Path(), st))
	return nil
}

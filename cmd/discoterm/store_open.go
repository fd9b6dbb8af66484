package main

import (
	"fmt"
	"github.com/discoterm/discoterm/engine"
	"os"
	"path/filepath"

	"github.com/discoterm/discoterm/store"
)

// storeFlags are the flags that choose and authenticate the store.
type storeFlags struct {
	natsCreds string
	natsCA    string
}

// storeLocation is --store, else $DISCOTERM_STORE, else the default file.
func (g *globals) storeLocation() (string, error) {
	switch {
	case g.store != "":
		return g.store, nil
	case os.Getenv("DISCOTERM_STORE") != "":
		return os.Getenv("DISCOTERM_STORE"), nil
	}
	return store.DefaultPath()
}

// openStore opens the local file or the NATS store the flags name, and
// says who the operator is: a NATS store's credential names them, and
// --operator cannot override what the server authenticated.
func (g *globals) openStore() (store.Store, string, error) {
	loc, err := g.storeLocation()
	if err != nil {
		return nil, "", err
	}
	return g.openStoreAt(loc)
}

// openStoreAt opens the store at a file path or nats:// URL.
func (g *globals) openStoreAt(loc string) (store.Store, string, error) {
	if !store.IsNATSURL(loc) {
		if g.natsCreds != "" || g.natsCA != "" {
			return nil, "", fmt.Errorf("--nats-creds and --nats-ca need a NATS store (--store nats://HOST:4222); the store is the file %s", loc)
		}
		st, err := store.Open(loc, store.Options{})
		return st, engine.LocalOperator(g.operator), err
	}
	st, err := store.OpenNATS(store.NATSOptions{URL: loc, CredsFile: g.natsCreds, CAFile: g.natsCA, Operator: engine.LocalOperator(g.operator)})
	if err != nil {
		return nil, "", err
	}
	op := g.operator
	if id, ok := st.(store.Identity); ok && id.Operator() != "" {
		if op != "" && op != id.Operator() {
			fmt.Fprintf(os.Stderr, "discoterm: --operator %s ignored: the NATS credential says you are %s\n", op, id.Operator())
		}
		op = id.Operator()
	}
	return st, op, nil
}

// machinesDir is --machines, else machines/ beside the store file (beside
// where the default store file would be, for a NATS store: machine files
// are the operator's, kept in git, not shared through the store). It
// creates nothing: only the machine verbs write there.
func (g *globals) machinesDir() string {
	if g.machines != "" {
		return g.machines
	}
	loc := g.store
	if loc == "" {
		loc = os.Getenv("DISCOTERM_STORE")
	}
	if loc != "" && !store.IsNATSURL(loc) {
		return filepath.Join(filepath.Dir(loc), "machines")
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "machines"
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "discoterm", "machines")
}

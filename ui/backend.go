package ui

import (
	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/verbs"
)

// Backend is the part of the engine the UI drives: exactly the operations a
// key, dialog or command line verb can start, plus the reads that fill the
// panes. *engine.Engine satisfies it; tests use an in-process fake.
type Backend interface {
	// The operations of the verb table: every verb of --batch runs on the
	// console's ":" line too.
	verbs.Backend

	// Subscribe returns every event from now on and a function that ends
	// the subscription.
	Subscribe() (<-chan engine.Event, func())
	StorePath() string
	// TrustHost accepts the key a host offers, if it is still the
	// fingerprint the operator was shown.
	TrustHost(host, fingerprint string) error
	// Content reads what a file or template entry installs, with its diff
	// against the branch's previous entry for the path.
	Content(branch string, e journal.Entry) (*engine.EntryContent, error)
}

var _ Backend = (*engine.Engine)(nil)

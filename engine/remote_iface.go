package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"

	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// Remote is how the engine reaches hosts. *remote.Client implements it over
// SSH; unit tests may use an in-process fake.
type Remote interface {
	// Probe is one round trip: facts, state file, stat+hash of paths, guards.
	Probe(ctx context.Context, t remote.Target, req remote.ProbeRequest) (*remote.ProbeResult, error)
	// Fetch is one round trip: the contents of the given regular files.
	Fetch(ctx context.Context, t remote.Target, paths []string) (map[string][]byte, error)
	// Apply uploads a bundle and applies it in one remote step, reporting each
	// entry's result as it finishes.
	Apply(ctx context.Context, t remote.Target, b *remote.Bundle, report func(remote.EntryReport)) (*remote.ApplyResult, error)
}

// DefaultOperator names the person acting: $DISCOTERM_OPERATOR, else
// user@hostname.
func DefaultOperator() string {
	if op := os.Getenv("DISCOTERM_OPERATOR"); op != "" {
		return op
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	h, _ := os.Hostname()
	if h == "" {
		return name
	}
	return name + "@" + h
}

// KeyTrust lets an operator decide about a host key that is not yet known.
// *remote.Client implements it.
type KeyTrust interface {
	// ScanHostKey connects without trusting and returns the key offered.
	ScanHostKey(ctx context.Context, t remote.Target) (fingerprint, authorizedKeyLine string, err error)
	// TrustHostKey records the key in known_hosts.
	TrustHostKey(t remote.Target, authorizedKeyLine string) error
}

// ScanHostKey shows the key an address offers, for the operator to check
// before trusting it.
func (e *Engine) ScanHostKey(ctx context.Context, addr string, port int, user string) (fingerprint, keyLine string, err error) {
	if e.opts.KeyTrust == nil {
		return "", "", errors.New("no SSH transport to scan host keys with")
	}
	return e.opts.KeyTrust.ScanHostKey(ctx, remote.Target{Addr: addr, Port: port, User: user, Name: addr})
}

// TrustHostKey records an operator's decision to trust a key, in
// known_hosts, and notes it in the audit trail.
func (e *Engine) TrustHostKey(addr string, port int, keyLine, fingerprint string) error {
	if e.opts.KeyTrust == nil {
		return errors.New("no SSH transport to record host keys with")
	}
	if err := e.opts.KeyTrust.TrustHostKey(remote.Target{Addr: addr, Port: port, Name: addr}, keyLine); err != nil {
		return err
	}
	_ = e.opts.Store.Update(func(tx store.Tx) error {
		return tx.AddAudit(store.AuditRecord{Time: e.now(), Actor: e.opts.Operator, Action: "trust-key", Message: addr + " " + fingerprint})
	})
	e.emit(Event{Type: EventLog, Message: fmt.Sprintf("trusted host key %s for %s", fingerprint, addr)})
	return nil
}

package engine

import (
	"context"
	"os"
	"os/user"

	"github.com/discoterm/discoterm/engine/remote"
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

package ui

import (
	"context"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// Backend is the part of the engine the UI drives: exactly the operations a
// key, dialog or command line verb can start, plus the reads that fill the
// panes. *engine.Engine satisfies it; tests use an in-process fake.
type Backend interface {
	// Subscribe returns every event from now on and a function that ends
	// the subscription.
	Subscribe() (<-chan engine.Event, func())
	Operator() string
	StorePath() string

	Hosts(ctx context.Context) ([]engine.HostView, error)
	AddHost(ctx context.Context, req engine.AddHostRequest) (engine.HostView, error)
	Assign(host, branch string) error
	Report(host string) ([]store.RunResult, error)
	// TrustHost accepts the key a host offers, if it is still the
	// fingerprint the operator was shown.
	TrustHost(host, fingerprint string) error

	Branches() ([]store.Branch, error)
	Log(branch string) (*engine.JournalView, error)
	Fork(from, newBranch string) error
	Migrate(ctx context.Context, host, branch string) error

	Lock(branch, message string) error
	Unlock(branch string, force bool) error
	Stage(branch string, req engine.StageRequest) (journal.Entry, error)
	Drop(branch string, n int) error

	Plan(ctx context.Context, req engine.PlanRequest) (*engine.Plan, error)
	GetPlan(id string) (*engine.Plan, error)
	Approve(planID string, keepLock bool) (*engine.Plan, error)
	Push(ctx context.Context, planID string, opts engine.PushOptions) (*engine.PushResult, error)
	Up(ctx context.Context, req engine.PlanRequest, opts engine.PushOptions) (*engine.Plan, *engine.PushResult, error)
}

var _ Backend = (*engine.Engine)(nil)

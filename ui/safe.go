package ui

import (
	"context"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/textsafe"
	"github.com/discoterm/discoterm/store"
)

// safeBackend escapes every string the panes get from the engine (host
// names and OS names, diffs, command output, errors quoting either) with
// textsafe, so no terminal escape sequence from a managed host reaches the
// operator's terminal. It sits between the engine and every pane, so a new
// pane cannot forget it; the panes' own styling is added after. Events are
// escaped the same way as they arrive (applyEvents).
type safeBackend struct{ Backend }

func scrubbed[T any](v T, err error) (T, error) {
	textsafe.Scrub(&v)
	return v, textsafe.Error(err)
}

func (b safeBackend) Hosts(ctx context.Context) ([]engine.HostView, error) {
	return scrubbed(b.Backend.Hosts(ctx))
}

func (b safeBackend) AddHost(ctx context.Context, req engine.AddHostRequest) (engine.HostView, error) {
	return scrubbed(b.Backend.AddHost(ctx, req))
}

func (b safeBackend) Report(host string) ([]store.RunResult, error) {
	return scrubbed(b.Backend.Report(host))
}

func (b safeBackend) Log(branch string) (*engine.JournalView, error) {
	return scrubbed(b.Backend.Log(branch))
}

func (b safeBackend) Plan(ctx context.Context, req engine.PlanRequest) (*engine.Plan, error) {
	return scrubbed(b.Backend.Plan(ctx, req))
}

func (b safeBackend) GetPlan(id string) (*engine.Plan, error) {
	return scrubbed(b.Backend.GetPlan(id))
}

func (b safeBackend) Approve(planID string, keepLock bool) (*engine.Plan, error) {
	return scrubbed(b.Backend.Approve(planID, keepLock))
}

func (b safeBackend) Push(ctx context.Context, planID string, opts engine.PushOptions) (*engine.PushResult, error) {
	return scrubbed(b.Backend.Push(ctx, planID, opts))
}

func (b safeBackend) Up(ctx context.Context, req engine.PlanRequest, opts engine.PushOptions) (*engine.Plan, *engine.PushResult, error) {
	p, r, err := b.Backend.Up(ctx, req, opts)
	textsafe.Scrub(&p)
	textsafe.Scrub(&r)
	return p, r, textsafe.Error(err)
}

func (b safeBackend) TrustHost(host, fingerprint string) error {
	return textsafe.Error(b.Backend.TrustHost(host, fingerprint))
}

func (b safeBackend) Migrate(ctx context.Context, host, branch string) error {
	return textsafe.Error(b.Backend.Migrate(ctx, host, branch))
}

func (b safeBackend) PreparePush(ctx context.Context, planID string, opts engine.PushOptions) (*engine.PushResult, error) {
	return scrubbed(b.Backend.PreparePush(ctx, planID, opts))
}

func (b safeBackend) Collect(ctx context.Context, hosts []string, branch string, cancel bool) ([]engine.CollectedPlan, error) {
	return scrubbed(b.Backend.Collect(ctx, hosts, branch, cancel))
}

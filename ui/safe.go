package ui

import (
	"context"
	"fmt"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/machines"
	"github.com/discoterm/discoterm/engine/textsafe"
	"github.com/discoterm/discoterm/engine/verbs"
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

// The drift and rollout verbs reach the engine through these, escaped the
// same way (verbs.DriftBackend, verbs.RolloutBackend); a backend without
// them says so.

func (b safeBackend) Drift(ctx context.Context, req engine.DriftRequest) (*engine.DriftReport, error) {
	d, ok := b.Backend.(verbs.DriftBackend)
	if !ok {
		return nil, errNoDrift
	}
	return scrubbed(d.Drift(ctx, req))
}

func (b safeBackend) Repair(ctx context.Context, req engine.FixRequest) (*engine.Plan, error) {
	d, ok := b.Backend.(verbs.DriftBackend)
	if !ok {
		return nil, errNoDrift
	}
	return scrubbed(d.Repair(ctx, req))
}

func (b safeBackend) Adopt(ctx context.Context, host string, req engine.FixRequest) (string, []journal.Entry, error) {
	d, ok := b.Backend.(verbs.DriftBackend)
	if !ok {
		return "", nil, errNoDrift
	}
	br, es, err := d.Adopt(ctx, host, req)
	textsafe.Scrub(&es)
	return textsafe.Line(br), es, textsafe.Error(err)
}

func (b safeBackend) SetRollout(branch string, r store.Rollout) error {
	d, ok := b.Backend.(verbs.RolloutBackend)
	if !ok {
		return errNoDrift
	}
	return textsafe.Error(d.SetRollout(branch, r))
}

// Revert reaches the engine's undo (verbs.RevertBackend), escaped the same way.
func (b safeBackend) Revert(ctx context.Context, req engine.RevertRequest) (*engine.RevertResult, error) {
	d, ok := b.Backend.(verbs.RevertBackend)
	if !ok {
		return nil, fmt.Errorf("%w: this console's engine cannot revert", engine.ErrUsage)
	}
	return scrubbed(d.Revert(ctx, req))
}

var errNoDrift = fmt.Errorf("%w: this console's engine has no drift checks or rollout policies", engine.ErrUsage)

func (b safeBackend) PreparePush(ctx context.Context, planID string, opts engine.PushOptions) (*engine.PushResult, error) {
	return scrubbed(b.Backend.PreparePush(ctx, planID, opts))
}

func (b safeBackend) Collect(ctx context.Context, hosts []string, branch string, cancel bool) ([]engine.CollectedPlan, error) {
	return scrubbed(b.Backend.Collect(ctx, hosts, branch, cancel))
}

// Machines passes the machines directory through (verbs.MachineSource);
// a backend without one gives none, which the machine verb refuses.
func (b safeBackend) Machines() machines.Dir {
	if src, ok := b.Backend.(verbs.MachineSource); ok {
		return src.Machines()
	}
	return machines.Dir{}
}

// Provision passes the netboot services through (verbs.Provisioner).
func (b safeBackend) Provision(ctx context.Context, o engine.ProvisionOptions) error {
	if p, ok := b.Backend.(verbs.Provisioner); ok {
		return p.Provision(ctx, o)
	}
	return fmt.Errorf("%w: this console cannot run the netboot services", engine.ErrUsage)
}

// MachineViews passes the machines' stages through (verbs.MachineViewer),
// escaped: a machine's detail quotes what its host said.
func (b safeBackend) MachineViews(ctx context.Context) ([]engine.MachineView, error) {
	if mv, ok := b.Backend.(verbs.MachineViewer); ok {
		return scrubbed(mv.MachineViews(ctx))
	}
	return nil, fmt.Errorf("%w: this console has no netboot machines", engine.ErrUsage)
}

// BootHistory passes a machine's boot history through, escaped (a
// discovery report is an unknown machine's text).
func (b safeBackend) BootHistory(machine string) ([]engine.BootEvent, error) {
	if h, ok := b.Backend.(verbs.BootHistorySource); ok {
		return scrubbed(h.BootHistory(machine))
	}
	return nil, nil
}

// MachineHostKey passes the machines' host keys through (machine key).
func (b safeBackend) MachineHostKey(name string) (engine.MachineKey, error) {
	if k, ok := b.Backend.(verbs.MachineKeySource); ok {
		return scrubbed(k.MachineHostKey(name))
	}
	return engine.MachineKey{}, fmt.Errorf("%w: this console makes no host keys", engine.ErrUsage)
}

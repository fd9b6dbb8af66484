package uitest

import (
	"context"
	"fmt"
	"strings"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/window"
	"github.com/discoterm/discoterm/store"
)

// PreparePush records the call and arms every host of the plan that has
// something to apply for the branch's next window (at Epoch).
func (f *Fake) PreparePush(_ context.Context, planID string, opts engine.PushOptions) (*engine.PushResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("PreparePush", "%s, reboot=%v", planID, opts.AllowReboot); err != nil {
		return nil, err
	}
	p := f.plans[planID]
	if p == nil || !p.Approved {
		return nil, fmt.Errorf("plan %q is not approved: %w", planID, engine.ErrUsage)
	}
	w := f.windows[p.Branch]
	if w == nil {
		return nil, fmt.Errorf("%w: branch %s has no maintenance window to prepare for", engine.ErrUsage, p.Branch)
	}
	p.Pushed = true
	res := &engine.PushResult{PlanID: planID}
	for _, hp := range p.Hosts {
		hr := engine.HostPush{HostID: hp.HostID, Name: hp.Name, Status: engine.PushNothing, From: hp.Position, To: hp.Position}
		if hp.Pending() > 0 && hp.Err == "" {
			hr.Status, hr.Err = engine.PushPrepared, "prepared for "+w.Start.Format("Mon 2006-01-02 15:04 MST")
			for i := range f.hosts {
				if f.hosts[i].ID == hp.HostID {
					f.hosts[i].LastResult, f.hosts[i].LastError = string(hr.Status), hr.Err
					f.hosts[i].Prepared = &store.Prepared{Plan: planID, For: w.Start, State: "armed"}
				}
			}
		}
		res.Hosts = append(res.Hosts, hr)
	}
	return res, nil
}

// SetPrepared gives a host a prepared push's state, as a collect would
// leave it, for tests.
func (f *Fake) SetPrepared(name string, ps *store.Prepared, result, errText string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.hosts {
		if f.hosts[i].Name == name {
			f.hosts[i].Prepared, f.hosts[i].LastResult, f.hosts[i].LastError = ps, result, errText
		}
	}
}

// Collect records the call and finds nothing prepared.
func (f *Fake) Collect(_ context.Context, hosts []string, branch string, cancel bool) ([]engine.CollectedPlan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return nil, f.record("Collect", "%s, %s, %v", strings.Join(hosts, " "), branch, cancel)
}

// SetWindows records the call and keeps the branch's next window (at
// Epoch) for its hosts and journal.
func (f *Fake) SetWindows(branch string, windows []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("SetWindows", "%s, %s", branch, strings.Join(windows, "; ")); err != nil {
		return err
	}
	ws, err := window.ParseAll(windows, Epoch)
	if err != nil {
		return fmt.Errorf("%w: %v", engine.ErrUsage, err)
	}
	delete(f.windows, branch)
	if o, ok := window.Next(ws, Epoch); ok {
		f.windows[branch] = &engine.WindowView{Opening: o, Open: o.Open(Epoch)}
	}
	return nil
}

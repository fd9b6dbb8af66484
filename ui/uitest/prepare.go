package uitest

import (
	"context"
	"strings"

	"github.com/discoterm/discoterm/engine"
)

// PreparePush records the call; the fake's hosts hold nothing prepared.
func (f *Fake) PreparePush(_ context.Context, planID string, _ engine.PushOptions) (*engine.PushResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("PreparePush", "%s", planID); err != nil {
		return nil, err
	}
	return &engine.PushResult{PlanID: planID}, nil
}

// Collect records the call and finds nothing prepared.
func (f *Fake) Collect(_ context.Context, hosts []string, branch string, cancel bool) ([]engine.CollectedPlan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return nil, f.record("Collect", "%s, %s, %v", strings.Join(hosts, " "), branch, cancel)
}

// SetWindows records the call.
func (f *Fake) SetWindows(branch string, windows []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.record("SetWindows", "%s, %s", branch, strings.Join(windows, "; "))
}

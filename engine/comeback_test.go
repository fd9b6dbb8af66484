package engine_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

func storeRollout(d time.Duration) store.Rollout { return store.Rollout{MustComeBack: d} }

// confirmingRemote is the fake fleet with the confirm step of a push that
// must come back: the host side (keeping copies, the reverter) is tested
// in engine/remote and on the fleet; here, what the engine makes of it.
type confirmingRemote struct {
	*fakeRemote
	mu     sync.Mutex
	answer string
	err    error
	calls  int
	saves  map[string][]string // host address → SavePaths of its exec entry
}

func (c *confirmingRemote) Apply(ctx context.Context, t remote.Target, b *remote.Bundle, report func(remote.EntryReport)) (*remote.ApplyResult, error) {
	c.mu.Lock()
	for _, e := range b.Entries {
		if b.ComeBack > 0 && e.Op == remote.OpExec {
			c.saves[t.Addr] = e.SavePaths
		}
	}
	c.mu.Unlock()
	res, err := c.fakeRemote.Apply(ctx, t, b, report)
	if res != nil && b.ComeBack > 0 {
		res.Token, res.Armed = "t0k", true
	}
	return res, err
}

func (c *confirmingRemote) Confirm(ctx context.Context, t remote.Target, stateDir, token string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.answer, c.err
}

func comebackEnv(t *testing.T, answer string, err error) (*testEnv, *confirmingRemote, *engine.Plan) {
	v := newEnv(t)
	cr := &confirmingRemote{fakeRemote: v.fr, answer: answer, err: err, saves: map[string][]string{}}
	v.eng = v.engine("alice", func(o *engine.Options) { o.Remote = cr })
	v.addHosts("web", 2)
	v.fr.with("10.0.0.2", func(h *fakeHost) { h.noSandbox = "no overlayfs here" })
	p := v.commit("main",
		engine.StageRequest{Kind: journal.KindFile, Path: "/etc/motd", Content: []byte("hello\n"), Mode: 0o644},
		execReq("touch /var/run/marker", journal.Guard{}))
	return v, cr, p
}

func TestMustComeBackRolledBack(t *testing.T) {
	v, cr, p := comebackEnv(t, "", errors.New("ssh: unable to authenticate"))
	start := time.Now()
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{MustComeBack: time.Second})
	if !errors.Is(err, engine.ErrHostsFail) {
		t.Fatalf("push: %v, want hosts failed", err)
	}
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Errorf("push took %s: want about the --must-come-back wait", d)
	}
	for _, h := range r.Hosts {
		if h.Status != engine.PushRolledBack || h.To != 0 || !strings.HasPrefix(h.Err, "rolled back: did not come back within 1s (") {
			t.Errorf("%s: %s at %d: %s", h.Name, h.Status, h.To, h.Err)
		}
		// Only the host whose exec the sandbox did not see is said to be
		// left as the command left it.
		unrecorded := strings.Contains(h.Err, "seq 2 (exec) not reverted")
		if unrecorded != (h.Name == "web02") {
			t.Errorf("%s: %s", h.Name, h.Err)
		}
		if hv := v.hostView(h.Name); hv.Position != 0 || hv.LastResult != string(engine.PushRolledBack) {
			t.Errorf("%s mirror: at %d, %s", h.Name, hv.Position, hv.LastResult)
		}
	}
	if cr.calls < 2 {
		t.Errorf("confirm tried %d times in 1s, want retries", cr.calls)
	}
	// The sandbox's record of the exec's files travels with the bundle.
	if got := cr.saves["10.0.0.1"]; !reflect.DeepEqual(got, []string{"/var/run/marker"}) {
		t.Errorf("save paths of the sandboxed exec = %v", got)
	}
	if got := cr.saves["10.0.0.2"]; got != nil {
		t.Errorf("save paths of the exec never sandboxed = %v", got)
	}
}

func TestMustComeBackConfirmed(t *testing.T) {
	v, cr, p := comebackEnv(t, remote.Confirmed, nil)
	r := v.push(p, engine.PushOptions{MustComeBack: 30 * time.Second})
	for _, h := range r.Hosts {
		if h.Status != engine.PushDone || h.To != 2 || !strings.Contains(h.CameBack, "confirmed over a fresh SSH connection") {
			t.Errorf("%s: %+v", h.Name, h)
		}
	}
	if cr.calls != 2 {
		t.Errorf("confirm calls = %d, want one per host", cr.calls)
	}
}

// A host with an armed revert says so in its plan.
func TestPlanShowsArmedRevert(t *testing.T) {
	v := newEnv(t)
	v.addHosts("web", 2)
	v.fr.with("10.0.0.2", func(h *fakeHost) { h.facts.RevertArmed = true })
	v.lock("main")
	v.stage("main", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/motd", Content: []byte("x\n"), Mode: 0o644})
	p := v.plan(engine.PlanRequest{Branch: "main"})
	for _, hp := range p.Hosts {
		if armed := strings.Contains(hp.Revert, "armed on this host"); armed != (hp.Name == "web02") {
			t.Errorf("%s: revert note %q", hp.Name, hp.Revert)
		}
	}
}

func TestMustComeBackRefusals(t *testing.T) {
	// A transport that cannot confirm, a reboot it would not survive, a
	// branch default below a second.
	v := newEnv(t)
	v.addHosts("web", 1)
	p := v.commit("main", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/motd", Content: []byte("x\n"), Mode: 0o644})
	if _, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{MustComeBack: time.Minute}); !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), "fresh connection") {
		t.Errorf("no confirmer: %v", err)
	}
	v2, _, _ := comebackEnv(t, remote.Confirmed, nil)
	p2 := v2.commit("main", rebootReq())
	_, err := v2.eng.Push(context.Background(), p2.ID, engine.PushOptions{MustComeBack: time.Minute, AllowReboot: true})
	if !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), "reboot") {
		t.Errorf("reboot: %v", err)
	}
	p3 := v2.commit("main", engine.StageRequest{Kind: journal.KindFile, Path: "/srv/shared/x", Content: []byte("x\n"), Mode: 0o644, AllowUserDir: true})
	_, err = v2.eng.Push(context.Background(), p3.ID, engine.PushOptions{MustComeBack: time.Minute})
	if !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), "--allow-user-dir") {
		t.Errorf("user dir: %v", err)
	}
	if err := v2.eng.SetRollout("main", storeRollout(500*time.Millisecond)); err == nil || !strings.Contains(err.Error(), "at least 1s") {
		t.Errorf("policy 500ms: %v", err)
	}
}

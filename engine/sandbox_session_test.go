package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
)

// oneSession is the fake fleet with the probe and the sandbox in one
// session, as *remote.Steps has them; Sandbox calls are a second round
// trip, counted.
type oneSession struct {
	*fakeRemote
	mu        sync.Mutex
	sessions  int
	sandboxes []remote.SandboxRequest
}

func (o *oneSession) ProbeSandbox(ctx context.Context, t remote.Target, preq remote.ProbeRequest, req remote.SandboxRequest) (*remote.ProbeResult, *remote.SandboxResult, error, error) {
	o.mu.Lock()
	o.sessions++
	o.mu.Unlock()
	res, err := o.fakeRemote.Probe(ctx, t, preq)
	if err != nil {
		return nil, nil, nil, err
	}
	sb, sbErr := o.fakeRemote.Sandbox(ctx, t, req)
	return res, sb, sbErr, nil
}

func (o *oneSession) Sandbox(ctx context.Context, t remote.Target, req remote.SandboxRequest) (*remote.SandboxResult, error) {
	o.mu.Lock()
	o.sandboxes = append(o.sandboxes, req)
	o.mu.Unlock()
	return o.fakeRemote.Sandbox(ctx, t, req)
}

// The sandbox runs in the probe's session for the entries pending where
// the store last saw the host; when the host turns out otherwise (it
// renamed itself: a template renders differently), the plan does not use
// that sandbox's report but asks again with what the probe said.
func TestPlanSandboxInProbeSession(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("h", 2)
	os := &oneSession{fakeRemote: v.fr}
	v.eng = v.engine("alice", func(o *engine.Options) { o.Remote = os })
	tmpl := engine.StageRequest{Kind: journal.KindTemplate, Content: []byte("name {{.HOSTNAME}}\n"), Path: "/etc/name"}
	v.lock("main")
	v.stage("main", tmpl, execReq("touch /etc/new", journal.Guard{}))
	p := v.plan(engine.PlanRequest{Branch: "main"})
	if os.sessions != 2 || len(os.sandboxes) != 0 {
		t.Fatalf("want one session per host and no second round trip: %d sessions, %d sandboxes", os.sessions, len(os.sandboxes))
	}
	if c := hostPlan(t, p, "h01").Changes[1]; !c.Sandboxed || len(c.Files) != 1 || c.Files[0].Path != "/etc/new" {
		t.Fatalf("%+v", c)
	}
	// h02 now calls itself h02-renamed: the store's view made the wrong
	// template content, so its sandbox is asked again, rightly.
	v.fr.with(addrs[1], func(h *fakeHost) { h.facts.Hostname = "h02-renamed" })
	p = v.plan(engine.PlanRequest{Branch: "main"})
	if os.sessions != 4 || len(os.sandboxes) != 1 {
		t.Fatalf("want a second round trip for the renamed host only: %d sessions, %d sandboxes", os.sessions, len(os.sandboxes))
	}
	if got := string(os.sandboxes[0].Entries[0].Content); got != "name h02-renamed\n" {
		t.Fatalf("the sandbox was asked with %q", got)
	}
	if c := hostPlan(t, p, "h02").Changes[1]; !c.Sandboxed || len(c.Files) != 1 {
		t.Fatalf("%+v", c)
	}
	// With nothing to simulate there is no sandbox at all.
	os.sessions = 0
	v.eng = v.engine("alice", func(o *engine.Options) { o.Remote = os; o.NoSandbox = true })
	v.plan(engine.PlanRequest{Branch: "main"})
	if os.sessions != 0 || len(os.sandboxes) != 1 {
		t.Fatalf("a plan without the sandbox ran one: %d sessions, %d sandboxes", os.sessions, len(os.sandboxes))
	}
}

// A template that does not render stops the push before the command
// after it: the plan says the command was not reached, and sends no
// sandbox for it.
func TestPlanSandboxNotReachedAfterRenderError(t *testing.T) {
	v := newEnv(t)
	v.addHosts("h", 1)
	os := &oneSession{fakeRemote: v.fr}
	v.eng = v.engine("alice", func(o *engine.Options) { o.Remote = os })
	v.lock("main")
	v.stage("main", engine.StageRequest{Kind: journal.KindTemplate, Content: []byte("{{.NO_SUCH_VARIABLE}}\n"), Path: "/etc/t"},
		execReq("touch /etc/new", journal.Guard{}))
	p := v.plan(engine.PlanRequest{Branch: "main"})
	c := hostPlan(t, p, "h01").Changes
	if c[0].Effect != engine.EffectError || c[1].Sandboxed || !strings.Contains(c[1].NotSimulated, "not reached") {
		t.Fatalf("%+v", c)
	}
	if os.sessions != 0 || len(os.sandboxes) != 0 {
		t.Errorf("a sandbox ran for nothing: %d sessions, %d sandboxes", os.sessions, len(os.sandboxes))
	}
}

package engine_test

import (
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

func removeReq(path string) engine.StageRequest {
	return engine.StageRequest{Kind: journal.KindRemove, Path: path}
}

// remove plans as deleted with the old content's diff, deletes on push,
// and replays as done where the path is gone already.
func TestRemoveEntry(t *testing.T) {
	v := newEnv(t)
	v.addHosts("web", 2)
	v.fr.setFile("10.0.0.1", "/etc/old.conf", "keep=no\n", 0o644, "root", "root")
	v.lock("main")
	v.stage("main", removeReq("/etc/old.conf"))
	p := v.plan(engine.PlanRequest{Branch: "main"})
	c := hostPlan(t, p, "web01").Changes[0]
	if c.Effect != engine.EffectDelete || !strings.Contains(c.Diff, "-keep=no") || !strings.Contains(c.Diff, "+++ /dev/null") {
		t.Errorf("web01 plans %+v", c)
	}
	if c := hostPlan(t, p, "web02").Changes[0]; c.Effect != engine.EffectUnchanged || c.Note != "absent already" {
		t.Errorf("web02 plans %+v", c)
	}
	if v.fr.counts("10.0.0.1").fetches != 1 {
		t.Errorf("the old content was not fetched for the diff: %+v", v.fr.counts("10.0.0.1"))
	}
	r := v.push(v.approve(p), engine.PushOptions{})
	for _, name := range []string{"web01", "web02"} {
		if hp := hostPush(t, r, name); hp.Status != engine.PushDone || hp.To != 1 {
			t.Errorf("%s: %+v", name, hp)
		}
	}
	if _, ok := v.fr.file("10.0.0.1", "/etc/old.conf"); ok {
		t.Error("file not removed")
	}
	if got := v.journal("main")[0]; got.Kind != journal.KindRemove || got.Summary() != "/etc/old.conf" {
		t.Errorf("journal entry %+v", got)
	}
	if _, err := v.eng.Stage("main", removeReq("etc/x")); err == nil {
		t.Error("relative remove path accepted")
	}
}

// exec entries and their guards see the host's classification variables
// as environment variables; the push exports what the plan saw.
func TestExecSeesHostVariables(t *testing.T) {
	v := newEnv(t)
	v.writeClass("DEFAULT:\n    BRANCH = main\n    NTP = ntp.example\nweb01:\n    NTP = ntp1.example\n")
	v.addHosts("web", 2)
	p := v.commit("main", execReq("echo $NTP", journal.Guard{Unless: "test -n \"$SKIP\""}))
	if env := hostPlan(t, p, "web01").Env; env["NTP"] != "ntp1.example" || env["BRANCH"] != "main" {
		t.Errorf("web01 plan env = %v", env)
	}
	v.push(p, engine.PushOptions{})
	if env := v.fr.host("10.0.0.1").env; env["NTP"] != "ntp1.example" {
		t.Errorf("web01 exec env = %v", env)
	}
	if env := v.fr.host("10.0.0.2").env; env["NTP"] != "ntp.example" {
		t.Errorf("web02 exec env = %v", env)
	}
}

func TestStageUnknownKindNamesTheKinds(t *testing.T) {
	v := newEnv(t)
	v.lock("main")
	_, err := v.eng.Stage("main", engine.StageRequest{Kind: "symlink"})
	wantContains(t, "error", errString(err), `unknown entry kind "symlink"`, "exec", "remove")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

package verbs

import (
	"context"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
)

// rolloutFake is a backend with one branch whose rollout policy it keeps.
type rolloutFake struct {
	Backend
	branch store.Branch
	sets   int
}

func (f *rolloutFake) Branches() ([]store.Branch, error) { return []store.Branch{f.branch}, nil }
func (f *rolloutFake) SetRollout(name string, r store.Rollout) error {
	if err := engine.CheckRollout(r); err != nil {
		return err
	}
	f.branch.Rollout = r
	f.sets++
	return nil
}

func TestPolicyRolloutFlags(t *testing.T) {
	f := &rolloutFake{branch: store.Branch{Name: "main"}}
	run := func(line string) (Result, error) {
		c, err := Default().Parse(words(t, line), nil)
		if err != nil {
			return nil, err
		}
		return c.Verb.Run(context.Background(), f, c)
	}
	r, err := run("policy main --canary 1 --wave 20% --max-fail 5%")
	if err != nil || !strings.Contains(r.Summary(), "--canary 1 --wave 20% --max-fail 5%") {
		t.Fatalf("policy: %v %v", r, err)
	}
	want := store.Rollout{Canary: 1, Wave: &store.Amount{N: 20, Percent: true}, MaxFail: &store.Amount{N: 5, Percent: true}}
	if got := f.branch.Rollout; got.Canary != 1 || *got.Wave != *want.Wave || *got.MaxFail != *want.MaxFail {
		t.Errorf("stored %+v", got)
	}
	// A later flag changes only itself.
	if _, err := run("policy main --drift-every 1h --repair on"); err != nil {
		t.Fatal(err)
	}
	if got := f.branch.Rollout; got.Canary != 1 || got.DriftEvery.String() != "1h0m0s" || !got.Repair {
		t.Errorf("after --drift-every: %+v", got)
	}
	for line, want := range map[string]string{
		"policy main --max-fail 0%":              "say --max-fail 0",
		"policy main --max-fail 100%":            "never stops",
		"policy main --wave 0":                   "a wave of no hosts",
		"policy main --wave x":                   "not a number of hosts",
		"policy main --canary -2":                "negative",
		"policy main --repair maybe":             "on or off",
		"push p1 --pause 1m --confirm":           "not both",
		"push p1 --confirm":                      "nobody can answer",
		"policy main --must-come-back -5s":       "not a duration",
		"push p1 --must-come-back 300ms":         "at least 1s",
		"push p1 --prepare --must-come-back 30s": "cannot take --must-come-back",
	} {
		_, err := run(line)
		if err == nil || !strings.Contains(err.Error(), want) || !IsUsage(err) && !strings.Contains(err.Error(), "usage") {
			t.Errorf("%s: %v, want a usage error with %q", line, err, want)
		}
	}
	// A branch default for --must-come-back, kept by --no-waves, cleared by 0.
	if r, err := run("policy main --must-come-back 30s"); err != nil || !strings.Contains(r.Summary(), "--must-come-back 30s") || f.branch.Rollout.MustComeBack.String() != "30s" {
		t.Errorf("--must-come-back: %v %v %+v", r, err, f.branch.Rollout)
	}
	if r, _ := run("policy main --no-waves"); !strings.Contains(r.Summary(), "--must-come-back 30s") {
		t.Errorf("--no-waves dropped --must-come-back: %v", r)
	}
	if _, err := run("policy main --must-come-back 0"); err != nil || f.branch.Rollout.MustComeBack != 0 {
		t.Errorf("--must-come-back 0: %v %+v", err, f.branch.Rollout)
	}
	if r, _ := run("policy main --no-waves"); !strings.Contains(r.Summary(), "--drift-every 1h0m0s --repair on") || f.branch.Rollout.Wave != nil {
		t.Errorf("--no-waves: %v %+v", r, f.branch.Rollout)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine/verbs"
	"github.com/discoterm/discoterm/ui/uitest"
)

// batchCalls is the engine operation each verb's example must reach from
// --batch ("" for reads, which the fake does not record). A verb missing
// here (a new kind) must reach Stage.
var batchCalls = map[string]string{
	"add-host": "AddHost", "assign": "Assign", "report": "Report", "scan": "Discover", "lock": "Lock",
	"unlock": "Unlock", "fork": "Fork", "migrate": "Migrate", "audit": "Audit", "policy": "SetCatchUp",
	"drop": "Drop", "plan": "Plan", "approve": "Approve", "push": "Push", "up": "Push",
	"drift": "Drift", "repair": "Repair", "adopt": "Adopt", "revert": "Revert",
	"trust": "TrustHost", "hosts": "", "branches": "", "log": "", "staged": "", "help": "", "serve-metrics": "", "machine": "Machines", "provision": "Provision",
	"collect": "Collect", "cancel-prepared": "Collect",
}

// exampleWords turns a verb's example into the argv a shell would give.
func exampleWords(t *testing.T, v *verbs.Verb, file, unapproved, approved string) []string {
	t.Helper()
	plan := unapproved
	if v.Name == "push" {
		plan = approved
	}
	line := strings.NewReplacer(verbs.ExampleFile, file, verbs.ExamplePlan, plan).Replace(v.Example())
	ws, err := verbs.SplitLine(line)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, w := range ws {
		out = append(out, w.Text)
	}
	return out
}

// TestVerbsBatchFace: every verb of the table parses from a batch command
// line and dispatches to its engine call (on the in-process fake), in
// text and in JSON. The console's half is ui's TestVerbsConsoleFace.
func TestVerbsBatchFace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "motd")
	if err := os.WriteFile(file, []byte("hello {{.HOSTNAME}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range verbs.Default().Verbs() {
		for _, json := range []bool{false, true} {
			f := uitest.New(uitest.Options{})
			unapproved, approved, err := f.PrepareExamples()
			if err != nil {
				t.Fatal(err)
			}
			before := len(f.Calls())
			args := append([]string{"--batch"}, exampleWords(t, v, file, unapproved, approved)...)
			inv, err := parseArgs(args)
			if err != nil {
				t.Fatalf("%s: %q does not parse: %v", v.Name, args, err)
			}
			var buf bytes.Buffer
			var out printer = &textPrinter{w: &buf}
			if json {
				out = &jsonPrinter{w: &buf}
			}
			ctx, cancel := context.WithCancel(context.Background())
			if v.Group == verbs.GroupServe {
				// It serves until interrupted: interrupt it once it has started.
				time.AfterFunc(300*time.Millisecond, cancel)
			}
			code := dispatch(ctx, inv.call, f, out, json, func() {})
			cancel()
			// The fake fleet has unreachable hosts: plan, push and up report them (exit 3).
			if code != exitOK && !(slices.Contains([]string{"plan", "push", "up"}, v.Name) && code == exitHostsFail) {
				t.Errorf("%s (json %v): exit %d: %s", v.Name, json, code, buf.String())
			}
			want, ok := batchCalls[v.Name]
			if !ok {
				want = "Stage"
			}
			calls := f.Calls()[before:]
			if want != "" && !slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, want+"(") }) {
				t.Errorf("%s: %q reached %q, want a %s call", v.Name, args, calls, want)
			}
			if v.Name == "help" && json && !strings.Contains(buf.String(), `{"type":"verb","v":1,"aliases":[],"args":[],"command":"COMMAND"`) {
				t.Errorf("help --json exec: %s", buf.String())
			}
			if buf.Len() == 0 && !(v.Name == "help" && !json) { // text help goes to stdout
				t.Errorf("%s (json %v) printed nothing", v.Name, json)
			}
		}
	}
}

// TestVerbsBatchUsageErrors: --batch refuses the table's bad lines with
// exactly the table's errors, which the console shows too.
func TestVerbsBatchUsageErrors(t *testing.T) {
	cases, err := verbs.ReadUsageErrors("../../engine/verbs/testdata/usage-errors.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		ws, err := verbs.SplitLine(c.Line)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"--batch"}
		for _, w := range ws {
			args = append(args, w.Text)
		}
		_, err = parseArgs(args)
		if err == nil || message(err) != c.Err || exitCode(err) != exitUsage {
			t.Errorf("%q: got %v (exit %d), want %q", c.Line, err, exitCode(err), c.Err)
		}
	}
}

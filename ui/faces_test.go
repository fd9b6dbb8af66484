package ui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/verbs"
	"github.com/discoterm/discoterm/ui/uitest"
)

// consoleCalls is the engine operation each verb's example must reach from
// the ":" line ("" where the console shows something instead: a view, the
// scanner's state, help). A verb missing here (a new kind) must stage.
var consoleCalls = map[string]string{
	"add-host": "AddHost", "assign": "Assign", "report": "Report", "lock": "Lock", "unlock": "Unlock",
	"fork": "Fork", "migrate": "Migrate", "audit": "Audit", "policy": "SetCatchUp", "drop": "Drop",
	"plan": "Plan", "approve": "Approve", "push": "Push", "up": "Push",
	"drift": "Drift", "repair": "Repair", "adopt": "Adopt", "revert": "Revert",
	"trust": "TrustHost", "scan": "", "hosts": "", "branches": "", "log": "", "staged": "", "help": "", "serve-metrics": "", "machine": "Machines", "provision": "Provision",
	"collect": "Collect", "cancel-prepared": "Collect",
}

// TestVerbsConsoleFace: every verb of the table runs from the ":" line —
// parsed by the table, dispatched to the engine (after the confirmation
// the console asks first) — and ends in a result, not an error. Its batch
// half is cmd/discoterm's TestVerbsBatchFace.
func TestVerbsConsoleFace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "motd")
	if err := os.WriteFile(file, []byte("hello {{.HOSTNAME}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range verbs.Default().Verbs() {
		t.Run(v.Name, func(t *testing.T) {
			d := newDriver(t, uitest.Options{}, 120, 40)
			unapproved, approved, err := d.f.PrepareExamples()
			if err != nil {
				t.Fatal(err)
			}
			plan := unapproved
			if v.Name == "push" {
				plan = approved
			}
			line := strings.NewReplacer(verbs.ExampleFile, file, verbs.ExamplePlan, plan).Replace(v.Example())
			if v.Group == verbs.GroupServe {
				// It serves until the console quits, and this driver runs
				// commands to their end: parse it, do not run it. The
				// batch face runs it (TestVerbsBatchFace, with a deadline).
				words, err := verbs.SplitLine(line)
				if err == nil {
					_, err = commandTable().Parse(words, nil)
				}
				if err != nil {
					t.Fatalf(":%s does not parse: %v", line, err)
				}
				return
			}
			before := len(d.f.Calls())
			if v.Group == verbs.GroupServe {
				d.async = []string{"runVerb"} // it runs until its job is cancelled
			}
			d.key(":")
			d.typeText(line)
			d.key("enter")
			if v.Group == verbs.GroupServe {
				if len(d.m.jobs) != 1 {
					t.Fatalf(":%s runs %d jobs, want 1", line, len(d.m.jobs))
				}
				for _, j := range d.m.jobs {
					j.cancel()
				}
				d.await()
			}
			if d.m.dialog != nil {
				d.key("y") // approve, push, up and exec ask first
			}
			// The fake fleet has unreachable hosts: a push says so, as an error.
			pushed := strings.HasPrefix(d.flashText(), "push finished, 2 hosts did not")
			if d.m.flashNow != nil && d.m.flashNow.level == engine.LevelError && !pushed {
				t.Fatalf(":%s: %s", line, d.flashText())
			}
			want, ok := consoleCalls[v.Name]
			if !ok {
				want = "Stage"
			}
			calls := d.f.Calls()[before:]
			if want != "" && !slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, want+"(") }) {
				t.Errorf(":%s reached %q, want a %s call", line, calls, want)
			}
			switch views := map[string]view{"hosts": viewHosts, "log": viewJournal}; {
			case views[v.Name] != 0 || v.Name == "hosts":
				if d.m.focus != views[v.Name] {
					t.Errorf(":%s shows view %v, want %v", line, d.m.focus, views[v.Name])
				}
			case d.flashText() == "" && d.m.help == nil && d.m.dialog == nil:
				t.Errorf(":%s: no answer on screen", line)
			}
		})
	}
}

// TestVerbsConsoleUsageErrors: the ":" line refuses the table's bad lines
// with exactly the errors --batch prints.
func TestVerbsConsoleUsageErrors(t *testing.T) {
	cases, err := verbs.ReadUsageErrors("../engine/verbs/testdata/usage-errors.txt")
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, uitest.Options{}, 120, 40)
	for _, c := range cases {
		d.key(":")
		d.typeText(c.Line)
		d.key("enter")
		if d.flashText() != c.Err {
			t.Errorf(":%s: flash %q, want %q", c.Line, d.flashText(), c.Err)
		}
	}
	d.wantCalls() // nothing reached the engine
}

// TestLockCreatesBranch: `:lock NAME msg` locks (and so creates) branch
// NAME, as --batch lock does, not the current branch with "NAME msg".
func TestLockCreatesBranch(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	d.key(":")
	d.typeText("lock hotfix-7 disk full on db01")
	d.key("enter")
	d.wantCalls(`Lock(hotfix-7, "disk full on db01")`)
	d.key(":")
	d.typeText("lock staging")
	d.key("enter")
	if _, ok := d.m.dialog.(*lockDialog); !ok {
		t.Fatalf("`:lock staging` without a message opened %T, want the lock dialog", d.m.dialog)
	}
}

// TestExecConfirmShowsWholeCommand: at 80×24 a long command is wrapped in
// the confirmation, never cut, and only at its spaces; y stages exactly it.
func TestExecConfirmShowsWholeCommand(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 80, 24)
	if err := d.f.Lock("main", "t"); err != nil {
		t.Fatal(err)
	}
	cmd := `grep -q "Maintenance window" /etc/motd && printf "a = 0\n" >> /etc/a-rather-long-file-name-for-the-dialog.conf`
	d.key(":")
	d.typeText("exec " + cmd)
	d.key("enter")
	dlg, ok := d.m.dialog.(*confirmDialog)
	if !ok {
		t.Fatalf("no confirmation: %T", d.m.dialog)
	}
	var shown []string
	for _, l := range dlg.body[2:] {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		shown = append(shown, strings.TrimPrefix(l, "  "))
	}
	if len(shown) < 2 || strings.Join(shown, " ") != cmd {
		t.Fatalf("the confirmation shows %q, want %q wrapped at spaces", shown, cmd)
	}
	for _, l := range shown {
		d.wantScreen(l)
	}
	d.key("y")
	d.wantCalls(`Lock(main, "t")`, "Stage(main, exec "+cmd+")")
}

// TestHelpVerb: :help VERB shows that verb's arguments, flags and example
// from the table; an unknown verb is the table's error.
func TestHelpVerb(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 80, 24)
	d.key(":")
	d.typeText("help exec")
	d.key("enter")
	d.wantScreen("help :exec", ":exec [--creates PATH]", "--unless CMD", "Example:")
	d.key("esc")
	d.key(":")
	d.typeText("help frob")
	d.key("enter")
	if d.m.help != nil || d.flashText() != `unknown verb "frob"; help lists them` {
		t.Fatalf("help %v, flash %q", d.m.help != nil, d.flashText())
	}
}

// TestConsoleBranchIsTheDefault: the console's branch is --branch when
// none is given; --branch still picks another.
func TestConsoleBranchIsTheDefault(t *testing.T) {
	d := newDriver(t, uitest.Options{}, 120, 40)
	for _, line := range []string{"branch staging", "plan db01", "plan --branch main db01"} {
		d.key(":")
		d.typeText(line)
		d.key("enter")
	}
	d.wantCalls("Plan(staging, [db01])", "Plan(main, [db01])")
}

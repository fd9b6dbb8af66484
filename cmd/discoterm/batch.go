package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/verbs"
	"golang.org/x/term"
)

// runBatch runs one verb of the table on the engine, prints its result
// and maps its outcome to an exit code.
func runBatch(ctx context.Context, inv *invocation) int {
	// Text from hosts (names, file contents, output) is in everything
	// printed: both faces write through textsafe, so no escape sequence
	// from a host reaches the terminal (JSON keeps its own escapes valid).
	var out printer = &textPrinter{w: safeStdout}
	if inv.json {
		out = &jsonPrinter{w: safeStdout}
	}
	c := inv.call
	if c.Verb == storeVerb {
		return runStoreVerb(inv, c, out)
	}
	var backend verbs.Backend
	drain := func() {}
	if c.Verb.Name != "help" {
		a, err := inv.open()
		if err != nil {
			out.fail(err, exitError)
			return exitError
		}
		defer a.Close()
		backend = a.eng
		// Progress goes to stderr, and only when a person is watching.
		if term.IsTerminal(int(os.Stderr.Fd())) {
			events, cancel := a.eng.Subscribe()
			defer cancel()
			go progress(events)
		}
		switch c.Verb.Name {
		case "scan":
			drain = printScanEvents(a.eng, out)
		case "push", "up":
			drain = printWaveEvents(a.eng, out)
		case "provision":
			drain = printBootEvents(a.eng, out)
		}
	}
	return dispatch(ctx, c, backend, out, inv.json, drain)
}

// dispatch runs a parsed verb on a backend and prints what it returns;
// afterRun runs between the engine call and the printing (the scan's
// events come before its host list).
func dispatch(ctx context.Context, c *verbs.Call, backend verbs.Backend, out printer, json bool, afterRun func()) int {
	// Only a person at a terminal can answer; without one, verbs that
	// ask (up, push --confirm) say which flag to give instead.
	if term.IsTerminal(int(os.Stdin.Fd())) {
		c.Ask = func(shown verbs.Result, question string) (bool, error) {
			if shown != nil {
				render(out, shown, json)
			}
			return confirm(question)
		}
	}
	c.Notify = func(shown verbs.Result) { render(out, shown, json) }
	res, err := c.Verb.Run(ctx, backend, c)
	afterRun()
	if res != nil {
		render(out, res, json)
	}
	if err != nil {
		code := exitCode(err)
		out.fail(err, code)
		return code
	}
	return exitOK
}

// render prints a verb's result with the chosen printer.
func render(out printer, r verbs.Result, json bool) {
	switch r := r.(type) {
	case verbs.Help:
		if jp, ok := out.(*jsonPrinter); ok {
			vs := r.Table.Verbs()
			if r.Verb != nil {
				vs = []*verbs.Verb{r.Verb}
			}
			for _, v := range vs {
				jp.emit("verb", verbJSON(v))
			}
			return
		}
		if r.Verb != nil {
			fmt.Print(r.Verb.VerbText())
		} else {
			fmt.Print(usageText(r.Table))
		}
	case verbs.Done:
		out.ok(r.Verb, r.Text)
	case verbs.HostList:
		out.hosts(r.Hosts)
	case verbs.BranchList:
		if len(r.Branches) == 0 && !json {
			out.ok("branches", "no branches yet; start one with: discoterm --batch lock main MESSAGE")
		}
		for _, b := range r.Branches {
			out.branch(b.Branch, b.Lock)
		}
	case verbs.Staged:
		out.staged(r.Branch, r.Entry)
	case verbs.StagedList:
		out.stagedList(r.Branch, r.Entries, r.Lock)
	case verbs.Journal:
		out.log(r.View)
	case verbs.PlanDone:
		out.plan(r.Plan)
	case verbs.Approved:
		p := r.Plan
		out.ok("approve", fmt.Sprintf("plan %s approved: %s, %s; push it with: discoterm --batch push %s", p.ID, engine.Plural(len(p.Hosts), "host"), engine.Plural(p.Entries(), "entry"), p.ID))
	case verbs.Pushed:
		if r.Plan != nil && !json {
			out.plan(r.Plan)
		}
		if r.Result != nil {
			out.push(r.Result)
		}
	case verbs.UpAll:
		for _, run := range r.Runs {
			if errors.Is(run.Err, engine.ErrOutsideWindow) {
				out.ok("up", message(run.Err)) // skipped, not failed
				continue
			}
			render(out, verbs.Pushed{Plan: run.Plan, Result: run.Push}, json)
		}
	case verbs.DriftDone:
		out.drift(r.Report)
	case verbs.Reverted:
		for _, e := range r.Result.Staged {
			out.staged(r.Result.Branch, e)
		}
		for _, n := range r.Result.Notes {
			out.ok("revert", n)
		}
		if r.Result.Plan != nil {
			out.plan(r.Result.Plan)
		}
		out.ok("revert", r.Summary())
	case verbs.Adopted:
		for _, e := range r.Entries {
			out.staged(r.Branch, e)
		}
		out.ok("adopt", r.Summary())
	case verbs.Report:
		out.report(r.Results)
	case verbs.Audit:
		out.audit(r.Records)
	case verbs.MachineList:
		printMachines(out, r, json)
	case verbs.MachineKeyResult:
		if jp, ok := out.(*jsonPrinter); ok {
			jp.emit("machine_key", r.MachineKey)
		} else {
			out.ok("machine", r.Summary())
		}
	case verbs.BootHistory:
		if len(r.Events) == 0 {
			out.ok("machine", r.Summary())
		}
		for i := range r.Events {
			out.event(&r.Events[i])
		}
	default:
		out.ok("result", r.Summary())
	}
}

// verbJSON is one verb of the table as `help --json` prints it, for
// scripts and shell completion.
func verbJSON(v *verbs.Verb) map[string]any {
	type arg struct {
		Name     string `json:"name"`
		Optional bool   `json:"optional,omitempty"`
		Many     bool   `json:"many,omitempty"`
	}
	type flag struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Value string `json:"value,omitempty"`
		Help  string `json:"help"`
	}
	args := []arg{}
	for _, a := range v.Args {
		args = append(args, arg{a.Name, a.Optional, a.Many})
	}
	flags := []flag{}
	for _, f := range v.Flags {
		flags = append(flags, flag{f.Name, f.Type.String(), f.Value, f.Help})
	}
	aliases := append([]string{}, v.Aliases...)
	return map[string]any{"name": v.Name, "aliases": aliases, "group": v.Group, "usage": v.Usage(), "help": v.Help,
		"args": args, "flags": flags, "command": v.Command, "example": v.Example()}
}

// printScanEvents prints what the scanner finds as it happens; the
// returned function waits until every event published is printed.
func printScanEvents(eng *engine.Engine, out printer) func() {
	events, stop := eng.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			switch ev := ev.(type) {
			case *engine.ScanEvent:
				if ev.State != "error" { // a failed start is the verb's error
					out.event(ev)
				}
			case *engine.HostEvent:
				out.event(ev)
			case *engine.LogEvent:
				if ev.Level > engine.LevelInfo || ev.Branch != "" {
					out.event(ev)
				}
			}
		}
	}()
	return func() { stop(); <-done }
}

// printWaveEvents prints a push's wave lines on stdout as they happen
// (a push without a rollout policy has none).
func printWaveEvents(eng *engine.Engine, out printer) func() {
	events, stop := eng.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			if w, ok := ev.(*engine.WaveEvent); ok {
				out.event(w)
			}
		}
	}()
	return func() { stop(); <-done }
}

// printBootEvents prints every netboot request as it is answered (the
// boot history), and the line that says the services are up.
func printBootEvents(eng *engine.Engine, out printer) func() {
	events, stop := eng.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			switch ev.(type) {
			case *engine.BootEvent, *engine.LogEvent:
				out.event(ev)
			}
		}
	}()
	return func() { stop(); <-done }
}

// progress prints engine events as short lines on stderr.
func progress(events <-chan engine.Event) {
	for ev := range events {
		switch ev := ev.(type) {
		case *engine.PlanHostEvent, *engine.PushEntryEvent:
			fmt.Fprintln(stderr, ev.Type(), firstLine(ev.Meta().Message))
		case *engine.PushHostEvent:
			line := fmt.Sprintf("%s %s %s", ev.Type(), ev.Host, ev.Status)
			if ev.Steps > 0 {
				line += fmt.Sprintf(" %d/%d", ev.Step, ev.Steps)
			}
			if ev.Err != "" {
				line += ": " + firstLine(ev.Err)
			}
			fmt.Fprintln(stderr, line)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// confirm asks on the terminal; scripts must say --yes.
func confirm(question string) (bool, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return false, fmt.Errorf("%w: not a terminal; review with plan, then run again with --yes", engine.ErrUsage)
	}
	fmt.Fprintf(os.Stderr, "%s [y/N] ", question)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes", nil
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"golang.org/x/term"
)

// batch is one --batch run: the invocation, the engine and the printer.
type batch struct {
	ctx context.Context
	inv *invocation
	app *app
	out printer
}

func (b *batch) arg(i int) string { return b.inv.args[i] }

// runBatch runs one verb and maps its outcome to an exit code.
func runBatch(ctx context.Context, inv *invocation) int {
	var out printer = &textPrinter{w: os.Stdout}
	if inv.json {
		out = &jsonPrinter{w: os.Stdout}
	}
	v, ok := verbs[inv.verb]
	if !ok {
		out.fail(fmt.Errorf("unknown verb %q; list them with: discoterm --batch help", inv.verb), exitUsage)
		return exitUsage
	}
	if err := inv.checkFlags(v); err != nil {
		out.fail(err, exitUsage)
		return exitUsage
	}
	b := &batch{ctx: ctx, inv: inv, out: out}
	if v.name != "help" {
		a, err := inv.open()
		if err != nil {
			out.fail(err, exitError)
			return exitError
		}
		defer a.Close()
		b.app = a
		// Progress goes to stderr, and only when a person is watching.
		if term.IsTerminal(int(os.Stderr.Fd())) {
			events, cancel := a.eng.Subscribe()
			defer cancel()
			go progress(events)
		}
	}
	if err := v.run(b); err != nil {
		code := exitCode(err)
		out.fail(err, code)
		return code
	}
	return exitOK
}

// progress prints engine events as short lines on stderr.
func progress(events <-chan engine.Event) {
	for ev := range events {
		switch ev := ev.(type) {
		case *engine.PlanHostEvent, *engine.PushEntryEvent:
			fmt.Fprintln(os.Stderr, ev.Type(), firstLine(ev.Meta().Message))
		case *engine.PushHostEvent:
			line := fmt.Sprintf("%s %s %s", ev.Type(), ev.Host, ev.Status)
			if ev.Steps > 0 {
				line += fmt.Sprintf(" %d/%d", ev.Step, ev.Steps)
			}
			if ev.Err != "" {
				line += ": " + firstLine(ev.Err)
			}
			fmt.Fprintln(os.Stderr, line)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// stageBranch picks the branch to stage on: --branch, else the one branch
// the operator holds a lock on.
func (b *batch) stageBranch() (string, error) {
	if b.inv.branch != "" {
		return b.inv.branch, nil
	}
	bs, err := b.app.eng.Branches()
	if err != nil {
		return "", err
	}
	var mine []string
	for _, br := range bs {
		if _, l, err := b.app.eng.Staged(br.Name); err == nil && l != nil && l.Holder == b.app.eng.Operator() {
			mine = append(mine, br.Name)
		}
	}
	switch len(mine) {
	case 1:
		return mine[0], nil
	case 0:
		return "", fmt.Errorf("%w: you hold no lock; take one with: lock BRANCH MESSAGE", engine.ErrNotLocked)
	}
	return "", fmt.Errorf("%w: you hold locks on %s; choose one with --branch", engine.ErrUsage, strings.Join(mine, ", "))
}

func (b *batch) stageFile(kind journal.Kind) error {
	vf := b.inv.vf
	if vf.to == "" {
		return fmt.Errorf("%w: %s needs --to PATH, the absolute path on the hosts", engine.ErrUsage, kind)
	}
	var mode uint64
	if vf.mode != "" {
		m, err := strconv.ParseUint(vf.mode, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("%w: --mode %q is not an octal permission mode such as 0644", engine.ErrUsage, vf.mode)
		}
		mode = m
	}
	content, err := engine.ReadSource(b.arg(0))
	if err != nil {
		return err
	}
	branch, err := b.stageBranch()
	if err != nil {
		return err
	}
	e, err := b.app.eng.Stage(branch, engine.StageRequest{Kind: kind, Content: content, Source: b.arg(0), Path: vf.to,
		Mode: uint32(mode), Owner: vf.owner, Group: vf.group})
	if err != nil {
		return err
	}
	return b.printStaged(branch, e)
}

func (b *batch) printStaged(branch string, e journal.Entry) error {
	staged, _, err := b.app.eng.Staged(branch)
	if err != nil {
		return err
	}
	b.out.staged(branch, len(staged), e)
	return nil
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

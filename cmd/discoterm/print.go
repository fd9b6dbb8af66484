package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/store"
)

// printer renders batch results: human text or JSON lines, chosen once.
type printer interface {
	ok(kind, msg string)
	fail(err error, code int)
	hosts([]engine.HostView)
	branch(store.Branch, *store.Lock)
	staged(branch string, e journal.Entry) // e.Seq: the seq approve will give it
	stagedList(branch string, es []journal.Entry, l *store.Lock)
	plan(*engine.Plan)
	push(*engine.PushResult)
	drift(*engine.DriftReport)
	log(*engine.JournalView)
	report([]store.RunResult)
	audit([]store.AuditRecord)
	event(engine.Event)
}

// ---- JSON lines: one object per line, "type" first and fixed ----

type jsonPrinter struct{ w io.Writer }

func (p *jsonPrinter) emit(typ string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("{}")
	}
	// Splice "type" in as the first field of the object.
	if len(b) > 2 {
		fmt.Fprintf(p.w, "{\"type\":%q,\"v\":%d,%s\n", typ, engine.EventVersion, b[1:])
	} else {
		fmt.Fprintf(p.w, "{\"type\":%q,\"v\":%d}\n", typ, engine.EventVersion)
	}
}

func (p *jsonPrinter) ok(kind, msg string) {
	p.emit("ok", map[string]string{"verb": kind, "message": msg})
}
func (p *jsonPrinter) fail(err error, code int) {
	p.emit("error", map[string]any{"error": message(err), "exit": code})
}

// message is an error's text without the engine's category word in front
// ("usage: ", "lock held: " …): the exit code already carries the category.
func message(err error) string {
	s := err.Error()
	for _, sentinel := range []error{engine.ErrUsage, engine.ErrLockHeld, engine.ErrNotLocked, engine.ErrStale,
		engine.ErrHostsFail, engine.ErrNotFound, engine.ErrCancelled, engine.ErrOutsideWindow} {
		if errors.Is(err, sentinel) {
			s = strings.TrimPrefix(s, sentinel.Error()+": ")
		}
	}
	return s
}
func (p *jsonPrinter) hosts(hs []engine.HostView) {
	for _, h := range hs {
		p.emit("host", hostLine{HostView: h})
	}
}
func (p *jsonPrinter) branch(b store.Branch, l *store.Lock) {
	p.emit("branch", map[string]any{"branch": b, "lock": l})
}
func (p *jsonPrinter) staged(branch string, e journal.Entry) {
	p.emit("staged", map[string]any{"branch": branch, "seq": e.Seq, "entry": e})
}
func (p *jsonPrinter) stagedList(branch string, es []journal.Entry, l *store.Lock) {
	for _, e := range es {
		p.staged(branch, e)
	}
	if l != nil {
		p.emit("lock", l)
	}
}
func (p *jsonPrinter) plan(pl *engine.Plan) {
	for _, h := range pl.Hosts {
		p.emit("plan.host", map[string]any{"plan": pl.ID, "host": h.Name, "host_id": h.HostID, "position": h.Position,
			"pending": h.Pending(), "changes": h.Changes, "error": h.Err, "clock_skew_ns": h.ClockSkew, "revert": h.Revert})
	}
	// The review as both faces group it: per entry, each distinct effect
	// once with its hosts.
	r := engine.GroupPlan(pl)
	for _, g := range r.Entries {
		p.emit("plan.group", map[string]any{"plan": pl.ID, "seq": g.Seq, "kind": g.Kind, "summary": g.Summary,
			"staged": g.Staged, "hosts": g.HostCount(), "variants": g.Variants})
	}
	for _, g := range r.Failed {
		p.emit("plan.failed", map[string]any{"plan": pl.ID, "error": g.Err, "first": g.First, "hosts": g.Hosts})
	}
	p.emit("plan", map[string]any{"plan": pl.ID, "branch": pl.Branch, "head": pl.Head, "staged": len(pl.Staged),
		"hosts": len(pl.Hosts), "entries": pl.Entries(), "approved": pl.Approved, "skipped": pl.Skipped})
}
func (p *jsonPrinter) push(r *engine.PushResult) {
	for _, h := range r.Hosts {
		p.emit("push.host", h)
	}
	p.emit("push", map[string]any{"plan": r.PlanID, "hosts": len(r.Hosts), "failed": r.Failed(), "stale": r.Stale(), "duration_ms": r.Duration.Milliseconds(),
		"waves": len(r.Waves), "stopped": r.Stopped, "not_started": r.NotStarted()})
}
func (p *jsonPrinter) log(v *engine.JournalView) {
	for _, e := range v.Entries {
		p.emit("entry", e)
	}
	for _, e := range v.Staged {
		p.staged(v.Branch.Name, e)
	}
	p.emit("journal", map[string]any{"branch": v.Branch, "lock": v.Lock, "positions": v.Positions, "next_window": v.NextWindow, "window_error": v.WindowErr})
}
func (p *jsonPrinter) report(rs []store.RunResult) {
	for _, r := range rs {
		p.emit("result", r)
	}
}
func (p *jsonPrinter) audit(as []store.AuditRecord) {
	for _, a := range as {
		p.emit("audit", a)
	}
}

// ---- human text ----

type textPrinter struct{ w io.Writer }

func (p *textPrinter) ok(kind, msg string) { fmt.Fprintln(p.w, msg) }
func (p *textPrinter) fail(err error, code int) {
	fmt.Fprintf(stderr, "discoterm: %s\n", message(err))
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (p *textPrinter) hosts(hs []engine.HostView) {
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tADDRESS\tBRANCH\tPOSITION\tDRIFT\tLAST RESULT\tLAST SEEN\tNEXT WINDOW\tID")
	now := time.Now()
	for _, h := range hs {
		pos := fmt.Sprintf("%d/%d", h.Position, h.Head)
		if h.Behind > 0 {
			pos += fmt.Sprintf(" (behind %d)", h.Behind)
		}
		seen := h.LastSeen
		if h.StateSeen.After(seen) {
			seen = h.StateSeen
		}
		state := dash(h.Liveness)
		if !h.Trusted {
			state = "untrusted"
		}
		drift := "-" // never checked
		if h.Drift != nil {
			drift = plainCount(h.Drifted, "file")
			if h.Drift.Err != "" {
				drift = "unchecked"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(h.Name), state, h.Addr, dash(h.Branch), pos, drift, dash(h.LastResult), ago(seen),
			windowText(h.NextWindow, h.WindowErr, now), h.ID)
	}
	tw.Flush()
	for _, h := range hs {
		for _, w := range h.Warnings {
			fmt.Fprintf(p.w, "warning: %s: %s\n", dash(h.Name), w)
		}
	}
}

func (p *textPrinter) branch(b store.Branch, l *store.Lock) {
	lock := "unlocked"
	if l != nil {
		lock = fmt.Sprintf("locked by %s: %s", l.Holder, l.Message)
	}
	parent := ""
	if b.Parent != "" {
		parent = fmt.Sprintf(" (forked from %s at %d)", b.Parent, b.ForkSeq)
	}
	fmt.Fprintf(p.w, "%s\thead %d%s\t%s\n", b.Name, b.Head, parent, lock)
}

func entryLine(e journal.Entry) string {
	s := fmt.Sprintf("%-8s %s", e.Kind, e.Summary())
	if d := kinds.Details(e); d != "" {
		s += "  (" + d + ")"
	}
	return s
}

func (p *textPrinter) staged(branch string, e journal.Entry) {
	fmt.Fprintf(p.w, "staged seq %d on %s: %s\n", e.Seq, branch, entryLine(e))
}

func (p *textPrinter) stagedList(branch string, es []journal.Entry, l *store.Lock) {
	if l != nil {
		fmt.Fprintf(p.w, "%s locked by %s: %s\n", branch, l.Holder, l.Message)
	} else {
		fmt.Fprintf(p.w, "%s is not locked\n", branch)
	}
	if len(es) == 0 {
		fmt.Fprintln(p.w, "nothing staged")
	}
	if len(es) > 0 {
		fmt.Fprintf(p.w, "staged, not committed: approve commits them as %s (drop SEQ removes one)\n", engine.SeqRange(es[0].Seq-1, len(es)))
	}
	for _, e := range es {
		fmt.Fprintf(p.w, "%4d %s\n", e.Seq, entryLine(e))
	}
}

func (p *textPrinter) log(v *engine.JournalView) {
	fmt.Fprintf(p.w, "branch %s, head %d\n", v.Branch.Name, v.Branch.Head)
	if len(v.Branch.Windows) > 0 {
		fmt.Fprintf(p.w, "windows: %s; next: %s (every host of the branch)\n", strings.Join(v.Branch.Windows, "; "), windowText(v.NextWindow, v.WindowErr, time.Now()))
	}
	at := map[uint64][]string{}
	for h, pos := range v.Positions {
		at[pos] = append(at[pos], h)
	}
	if hs := at[0]; len(hs) > 0 {
		fmt.Fprintf(p.w, "     ◀ %s (nothing applied)\n", strings.Join(sorted(hs), ", "))
	}
	for _, e := range v.Entries {
		fmt.Fprintf(p.w, "%4d %s  %s  %s: %s\n", e.Seq, entryLine(e), e.Time.Local().Format("2006-01-02 15:04"), e.Author, e.Message)
		if hs := at[e.Seq]; len(hs) > 0 {
			fmt.Fprintf(p.w, "     ◀ %s\n", strings.Join(sorted(hs), ", "))
		}
	}
	if v.Lock != nil {
		fmt.Fprintf(p.w, "locked by %s: %s\n", v.Lock.Holder, v.Lock.Message)
	}
	for _, e := range v.Staged {
		fmt.Fprintf(p.w, "%4d %s  staged, not committed\n", e.Seq, entryLine(e))
	}
}

func (p *textPrinter) report(rs []store.RunResult) {
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tHOST\tPLAN\tSEQ\tKIND\tSUMMARY\tRESULT\tEXIT\tDURATION\tCPU USER+SYS\tREAD\tWRITTEN\tPEAK MEM")
	for _, r := range rs {
		cpu, rd, wr, pk := stepUsage(r.Usage)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format("2006-01-02 15:04:05"), r.HostName, r.PlanID, r.Seq,
			dash(string(r.Kind)), dash(firstLine(r.Summary)), r.Result, r.ExitCode, r.Duration, cpu, rd, wr, pk)
	}
	tw.Flush()
}

func (p *textPrinter) audit(as []store.AuditRecord) {
	for _, a := range as {
		fmt.Fprintf(p.w, "%s  %-8s %-13s %s  %s\n", a.Time.Local().Format("2006-01-02 15:04:05"), a.Branch, a.Action, a.Actor, a.Message)
	}
}

// event prints an event as its JSON shape: the payload's fields after
// "type" and "v".
func (p *jsonPrinter) event(ev engine.Event) {
	if h, ok := ev.(*engine.HostEvent); ok {
		// One host shape: the record as `hosts` prints it, plus what
		// happened to it.
		p.emit("host", hostLine{HostView: h.Host, Event: h.Change, Time: h.Time, Message: h.Message, Fingerprint: h.Fingerprint, Err: h.Err})
		return
	}
	p.emit(ev.Type().String(), ev)
}

// hostLine is the JSON shape of a host: `hosts` leaves the event fields out.
type hostLine struct {
	engine.HostView
	Event       engine.HostChange `json:"event,omitempty"`
	Time        time.Time         `json:"time,omitzero"`
	Message     string            `json:"message,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Err         string            `json:"event_error,omitempty"`
}

// event prints an event as one line: its time and message, and the error it
// carries.
func (p *textPrinter) event(ev engine.Event) {
	h := ev.Meta()
	line := h.Time.Local().Format("15:04:05") + " " + h.Message
	if err := engine.EventErr(ev); err != "" && !strings.Contains(h.Message, err) {
		line += ": " + err
	}
	fmt.Fprintln(p.w, line)
}

// plainCount is "none", "1 file", "3 files".
func plainCount(n int, what string) string {
	switch n {
	case 0:
		return "none"
	case 1:
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

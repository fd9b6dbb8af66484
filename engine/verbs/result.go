package verbs

import (
	"fmt"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// Result is what a verb returns; each face renders it (batch: text or JSON
// lines; console: a view, the flash and the Activity log). Summary is one
// line of plain text that says what happened.
type Result interface {
	Summary() string
}

// Done is an operation that changed something and has only a sentence to
// say: lock, unlock, assign, fork, migrate, drop, policy.
type Done struct {
	Verb string
	Text string
}

// Summary implements Result.
func (r Done) Summary() string { return r.Text }

// HostList is hosts (hosts, add-host, the end of a scan).
type HostList struct {
	Hosts []engine.HostView
	Added bool // add-host: the one host added
}

// Summary implements Result.
func (r HostList) Summary() string {
	if r.Added && len(r.Hosts) == 1 {
		h := r.Hosts[0]
		return fmt.Sprintf("added %s (%s)", h.Name, h.Addr)
	}
	return count(len(r.Hosts), "host")
}

// BranchList is the branches with their locks.
type BranchList struct {
	Branches []BranchLock
}

// BranchLock is a branch and its lock (nil when unlocked).
type BranchLock struct {
	Branch store.Branch
	Lock   *store.Lock
}

// Summary implements Result.
func (r BranchList) Summary() string {
	if len(r.Branches) == 0 {
		return "no branches yet; start one with: lock main MESSAGE"
	}
	return count(len(r.Branches), "branch")
}

// Staged is one entry just staged.
type Staged struct {
	Branch string
	Count  int // entries staged on the branch now
	Entry  journal.Entry
}

// Summary implements Result.
func (r Staged) Summary() string {
	return fmt.Sprintf("staged seq %d on %s: %s %s", r.Entry.Seq, r.Branch, r.Entry.Kind, r.Entry.Summary())
}

// StagedList is a branch's staged entries.
type StagedList struct {
	Branch  string
	Entries []journal.Entry
	Lock    *store.Lock
}

// Summary implements Result.
func (r StagedList) Summary() string {
	return fmt.Sprintf("%s staged on %s", count(len(r.Entries), "entry"), r.Branch)
}

// Journal is a branch's journal (log).
type Journal struct {
	View *engine.JournalView
}

// Summary implements Result.
func (r Journal) Summary() string {
	return fmt.Sprintf("%s: %s, %s staged", r.View.Branch.Name, count(len(r.View.Entries), "entry"), count(len(r.View.Staged), "entry"))
}

// PlanDone is a plan computed (plan).
type PlanDone struct {
	Plan *engine.Plan
}

// Summary implements Result.
func (r PlanDone) Summary() string {
	return fmt.Sprintf("plan %s: %s, %s", r.Plan.ID, count(len(r.Plan.Hosts), "host"), count(r.Plan.Entries(), "entry"))
}

// Approved is a plan approved.
type Approved struct {
	Plan *engine.Plan
}

// Summary implements Result.
func (r Approved) Summary() string {
	return fmt.Sprintf("plan %s approved: %s, %s; push it with: push %s", r.Plan.ID, count(len(r.Plan.Hosts), "host"),
		count(r.Plan.Entries(), "entry"), r.Plan.ID)
}

// Pushed is a push's result, and for up the plan it pushed.
type Pushed struct {
	Plan   *engine.Plan // up only
	Result *engine.PushResult
}

// Summary implements Result.
func (r Pushed) Summary() string {
	if r.Result == nil {
		return "nothing pushed"
	}
	return fmt.Sprintf("push of %s: %s, %d failed, %d stale", r.Result.PlanID, count(len(r.Result.Hosts), "host"),
		r.Result.Failed(), r.Result.Stale())
}

// UpAll is up on every branch, one run per branch.
type UpAll struct {
	Runs []engine.UpRun
}

// Summary implements Result.
func (r UpAll) Summary() string {
	failed := 0
	for _, run := range r.Runs {
		if run.Err != nil {
			failed++
		}
	}
	return fmt.Sprintf("up on %s, %d failed", count(len(r.Runs), "branch"), failed)
}

// Report is the per-entry results of a host (or of every host).
type Report struct {
	Host    string
	Results []store.RunResult
}

// Summary implements Result.
func (r Report) Summary() string { return count(len(r.Results), "result") }

// Audit is the audit trail.
type Audit struct {
	Branch  string
	Records []store.AuditRecord
}

// Summary implements Result.
func (r Audit) Summary() string { return count(len(r.Records), "audit record") }

// Help is the verb list (help) or one verb's help (help VERB).
type Help struct {
	Table *Table
	Verb  *Verb // nil: every verb
}

// Summary implements Result.
func (r Help) Summary() string {
	if r.Verb != nil {
		return r.Verb.Usage() + " — " + r.Verb.Help
	}
	return count(len(r.Table.Verbs()), "verb")
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	switch {
	case what == "entry":
		return fmt.Sprintf("%d entries", n)
	case what == "branch":
		return fmt.Sprintf("%d branches", n)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

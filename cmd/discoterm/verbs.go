package main

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"
)

// verbFlag holds every verb's own flags; one set serves all verbs, and each
// verb rejects flags that are not its own.
type verbFlag struct {
	to          string
	mode        string
	owner       string
	group       string
	creates     string
	unless      string
	force       bool
	keepLock    bool
	allowReboot bool
	yes         bool
	port        int
	user        string
	name        string
	from        string
	forDur      time.Duration
	watch       bool
	interval    time.Duration
	catchUp     string
	maxAge      time.Duration
	parallelCU  int
	set         map[string]bool
	fs          *flag.FlagSet
}

func newVerbFlags(fs *flag.FlagSet) *verbFlag {
	v := &verbFlag{fs: fs}
	fs.StringVar(&v.to, "to", "", "snap/template: absolute target path on the hosts")
	fs.StringVar(&v.mode, "mode", "", "snap/template: permission bits in octal (default 0644)")
	fs.StringVar(&v.owner, "owner", "", "snap/template: owner (default root)")
	fs.StringVar(&v.group, "group", "", "snap/template: group (default root)")
	fs.StringVar(&v.creates, "creates", "", "exec: run only if this path is absent")
	fs.StringVar(&v.unless, "unless", "", "exec: run only if this shell command fails")
	fs.BoolVar(&v.force, "force", false, "unlock: break someone else's lock or discard staged entries (recorded)")
	fs.BoolVar(&v.keepLock, "keep-lock", false, "approve: keep holding the lock")
	fs.BoolVar(&v.allowReboot, "allow-reboot", false, "push/up: let reboot entries reboot hosts")
	fs.BoolVar(&v.yes, "yes", false, "up: apply without asking")
	fs.IntVar(&v.port, "port", 0, "add-host: SSH port")
	fs.StringVar(&v.user, "user", "", "add-host: SSH user")
	fs.StringVar(&v.name, "name", "", "add-host: display name")
	fs.StringVar(&v.from, "from", "", "fork: parent branch")
	fs.DurationVar(&v.forDur, "for", 0, "scan: how long to scan (default: one round)")
	fs.BoolVar(&v.watch, "watch", false, "scan: keep scanning until interrupted")
	fs.DurationVar(&v.interval, "interval", 0, "scan: time between probe rounds (default 5s)")
	fs.StringVar(&v.catchUp, "catch-up", "", "policy: on or off")
	fs.DurationVar(&v.maxAge, "max-age", 0, "policy: also push hosts whose last good push is older")
	fs.IntVar(&v.parallelCU, "parallel-catch-up", 1, "policy: hosts caught up at once")
	return v
}

// verb describes one batch verb.
type verb struct {
	name  string
	args  string   // usage of positional arguments
	help  string   // one line
	flags []string // verb flags it accepts
	min   int      // minimum positional arguments
	max   int      // maximum; -1 for any
	run   func(b *batch) error
}

var verbs = map[string]*verb{}

func register(v *verb) { verbs[v.name] = v }

// checkFlags refuses verb flags that belong to other verbs.
func (inv *invocation) checkFlags(v *verb) error {
	own := map[string]bool{}
	for _, f := range v.flags {
		own[f] = true
	}
	var bad []string
	inv.vf.fs.Visit(func(f *flag.Flag) {
		if isVerbFlag(f.Name) && !own[f.Name] {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("%s does not take %s (see discoterm --batch help)", v.name, strings.Join(bad, ", "))
	}
	n := len(inv.args)
	if n < v.min || (v.max >= 0 && n > v.max) {
		return fmt.Errorf("usage: discoterm --batch %s %s", v.name, v.args)
	}
	return nil
}

func isVerbFlag(name string) bool {
	switch name {
	case "to", "mode", "owner", "group", "creates", "unless", "force", "keep-lock", "allow-reboot", "yes", "port", "user", "name", "from", "for", "watch", "interval", "catch-up", "max-age", "parallel-catch-up":
		return true
	}
	return false
}

func usageText() string {
	var b strings.Builder
	b.WriteString(`discoterm — keep a Linux fleet in a known state.

  discoterm [flags]                 the terminal UI
  discoterm --batch VERB [args]     one verb, for scripts (text, or --json lines)

Verbs:
`)
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := verbs[n]
		left := n
		if v.args != "" {
			left += " " + v.args
		}
		if len(left) > 44 {
			fmt.Fprintf(&b, "  %s\n  %-44s %s\n", left, "", v.help)
		} else {
			fmt.Fprintf(&b, "  %-44s %s\n", left, v.help)
		}
	}
	b.WriteString(`
Global flags (anywhere on the line):
  --store PATH  --class FILE  --known-hosts FILE  --accept-new  --identity FILE
  --ssh-config FILE  --operator NAME  --parallel N  --timeout DUR  --state-dir DIR
  --branch NAME  --json  --theme NAME|FILE  --iface IF  --no-scan

Exit codes:
  0 ok   1 error   2 usage   3 some hosts failed   4 lock held by someone else
  5 stale plan (re-plan)   130 interrupted
`)
	return b.String()
}

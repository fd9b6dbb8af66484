package verbs

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
)

// Groups, in the order help lists them.
const (
	GroupHosts    = "hosts"
	GroupBranches = "branches and locks"
	GroupStaging  = "staging"
	GroupFlow     = "plan and push"
	GroupHelp     = "help"
)

// Groups is the order of the groups in help; a face may add its own after.
var Groups = []string{GroupHosts, GroupBranches, GroupStaging, GroupFlow, GroupServe, GroupMachines, GroupHelp}

var branchFlag = Flag{Name: "branch", Type: String, Value: "NAME", Help: "branch to act on (default: the one you hold the lock on, or the console's)"}

var (
	defaultOnce  sync.Once
	defaultTable *Table
)

// Default is the table of every verb, the staging verbs of every
// registered entry kind included.
func Default() *Table {
	defaultOnce.Do(func() {
		vs := append(hostVerbs(), branchVerbs()...)
		vs = append(vs, stagingVerbs()...)
		vs = append(vs, flowVerbs()...)
		vs = append(vs, prepareVerbs()...)
		vs = append(vs, serveVerbs()...)
		vs = append(vs, driftVerbs()...)
		vs = append(vs, revertVerbs()...)
		vs = append(vs, machineVerbs()...)
		vs = append(vs, &Verb{Name: "help", Group: GroupHelp, Help: "list the verbs, or one verb's arguments and flags",
			Args: []Arg{{Name: "VERB", Optional: true}}, Run: runHelp})
		t, err := NewTable(vs...)
		if err != nil {
			panic(err) // a declaration error; TestTable catches it first
		}
		defaultTable = t
	})
	return defaultTable
}

func runHelp(_ context.Context, _ Backend, c *Call) (Result, error) {
	t := c.Help
	if t == nil {
		t = Default()
	}
	if name := c.Arg(0); name != "" {
		v, ok := t.Lookup(name)
		if !ok {
			return nil, t.unknownVerb(name)
		}
		return Help{Table: t, Verb: v}, nil
	}
	return Help{Table: t}, nil
}

func hostVerbs() []*Verb {
	return []*Verb{
		{Name: "hosts", Group: GroupHosts, Help: "list hosts: address, branch, position, last result, last seen",
			Run: func(ctx context.Context, b Backend, _ *Call) (Result, error) {
				hs, err := b.Hosts(ctx)
				return HostList{Hosts: hs}, err
			}},
		{Name: "add-host", Group: GroupHosts, Help: "add a host not found by scanning: ADDR, USER@ADDR:PORT, [V6]:PORT or ssh://USER@ADDR:PORT",
			Args: []Arg{{Name: "ADDRESS"}},
			Flags: []Flag{{Name: "port", Type: Int, Value: "N", Help: "SSH port (default 22, or from the address)"},
				{Name: "user", Type: String, Value: "USER", Help: "SSH user (default root, or from the address)"},
				{Name: "name", Type: String, Value: "NAME", Help: "display name (default: the host's own)"}},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				h, err := b.AddHost(ctx, engine.AddHostRequest{Addr: c.Arg(0), Port: c.Int("port"), User: c.Str("user"), Name: c.Str("name")})
				if err != nil {
					return nil, err
				}
				return HostList{Hosts: []engine.HostView{h}, Added: true}, nil
			}},
		{Name: "assign", Group: GroupHosts, Help: "put a host on a branch (overrides the classification file)",
			Args: []Arg{{Name: "HOST"}, {Name: "BRANCH"}},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				if err := b.Assign(c.Arg(0), c.Arg(1)); err != nil {
					return nil, err
				}
				return Done{"assign", fmt.Sprintf("%s assigned to %s", c.Arg(0), c.Arg(1))}, nil
			}},
		{Name: "report", Group: GroupHosts, Help: "per entry per host: result, exit code, duration; for commands CPU and IO on the host",
			Args: []Arg{{Name: "HOST", Optional: true}},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				rs, err := b.Report(c.Arg(0))
				return Report{Host: c.Arg(0), Results: rs}, err
			}},
		{Name: "scan", Group: GroupHosts, Help: "discover hosts by ICMPv6 echo to ff02::1; print them as they appear and change state",
			Flags: []Flag{{Name: "iface", Type: List, Value: "IF", Help: "interface to scan (repeatable; default: every usable one)"},
				{Name: "for", Type: Duration, Value: "DURATION", Help: "how long to scan (default: one round)"},
				{Name: "watch", Type: Bool, Help: "keep scanning until interrupted"},
				{Name: "interval", Type: Duration, Value: "D", Help: "time between probe rounds (default 5s)"}},
			Run: runScan},
		trustVerb(),
	}
}

func runScan(ctx context.Context, b Backend, c *Call) (Result, error) {
	if c.Bool("watch") && c.Has("for") {
		return nil, usagef("scan takes --for or --watch, not both")
	}
	opts := engine.DiscoverOptions{Interfaces: c.List("iface"), Interval: c.Dur("interval")}
	sctx := ctx
	switch {
	case c.Bool("watch"):
	case c.Dur("for") > 0:
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, c.Dur("for"))
		defer cancel()
	default:
		opts.Rounds = 1
	}
	if err := b.Discover(sctx, opts); err != nil {
		return nil, fmt.Errorf("%w: %v", engine.ErrUsage, err)
	}
	hs, err := b.Hosts(ctx)
	return HostList{Hosts: hs}, err
}

func branchVerbs() []*Verb {
	return []*Verb{
		{Name: "branches", Group: GroupBranches, Help: "list branches with head and lock",
			Run: func(_ context.Context, b Backend, _ *Call) (Result, error) {
				bs, err := b.Branches()
				if err != nil {
					return nil, err
				}
				r := BranchList{}
				for _, br := range bs {
					_, l, err := b.Staged(br.Name)
					if err != nil {
						return nil, err
					}
					r.Branches = append(r.Branches, BranchLock{Branch: br, Lock: l})
				}
				return r, nil
			}},
		{Name: "lock", Group: GroupBranches, Help: "lock a branch to stage changes, saying why in MESSAGE (creates the branch if new)",
			Args: []Arg{{Name: "BRANCH"}, {Name: "MESSAGE", Many: true, Optional: true}},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				msg := strings.Join(c.Args[1:], " ")
				if strings.TrimSpace(msg) == "" {
					return nil, usagef("lock needs a MESSAGE saying why: %s", c.Verb.Usage())
				}
				if err := b.Lock(c.Arg(0), msg); err != nil {
					return nil, err
				}
				return Done{"lock", fmt.Sprintf("locked %s: %s", c.Arg(0), msg)}, nil
			}},
		{Name: "unlock", Group: GroupBranches, Help: "release a lock; --force breaks another's or discards staged entries (recorded)",
			Args:  []Arg{{Name: "BRANCH", Optional: true}},
			Flags: []Flag{{Name: "force", Type: Bool, Help: "break someone else's lock, or discard your staged entries (recorded)"}},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				branch := c.Arg(0)
				if branch == "" {
					var err error
					if branch, err = lockedBranch(b, c); err != nil {
						return nil, err
					}
				}
				if err := b.Unlock(branch, c.Bool("force")); err != nil {
					return nil, err
				}
				return Done{"unlock", "unlocked " + branch}, nil
			}},
		{Name: "fork", Group: GroupBranches, Help: "new branch whose journal copies the parent's",
			Args:  []Arg{{Name: "NEWBRANCH"}},
			Flags: []Flag{{Name: "from", Type: String, Value: "BRANCH", Help: "parent branch (default: the console's branch)"}},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				from := c.Str("from")
				if from == "" {
					from = c.DefaultBranch
				}
				if from == "" {
					return nil, usagef("fork needs --from BRANCH, the branch to copy")
				}
				if err := b.Fork(from, c.Arg(0)); err != nil {
					return nil, err
				}
				return Done{"fork", fmt.Sprintf("branch %s forked from %s", c.Arg(0), from)}, nil
			}},
		{Name: "migrate", Group: GroupBranches, Help: "move a host to a branch whose journal contains what it applied",
			Args: []Arg{{Name: "HOST"}, {Name: "BRANCH"}},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				if err := b.Migrate(ctx, c.Arg(0), c.Arg(1)); err != nil {
					return nil, err
				}
				return Done{"migrate", fmt.Sprintf("%s migrated to %s", c.Arg(0), c.Arg(1))}, nil
			}},
		{Name: "log", Group: GroupBranches, Help: "a branch's journal, staged entries and host positions",
			Args:  []Arg{{Name: "BRANCH", Optional: true}},
			Flags: []Flag{branchFlag},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				branch, err := someBranch(b, c)
				if err != nil {
					return nil, err
				}
				v, err := b.Log(branch)
				if err != nil {
					return nil, err
				}
				return Journal{View: v}, nil
			}},
		{Name: "audit", Group: GroupBranches, Help: "who locked, unlocked, forced, approved, pushed",
			Args: []Arg{{Name: "BRANCH", Optional: true}},
			Run: func(_ context.Context, b Backend, c *Call) (Result, error) {
				as, err := b.Audit(c.Arg(0))
				return Audit{Branch: c.Arg(0), Records: as}, err
			}},
		{Name: "policy", Group: GroupBranches, Help: "catch-up, rollout and drift policy: catch-up pushes, default waves and threshold, drift checks",
			Args: []Arg{{Name: "BRANCH"}},
			Flags: append([]Flag{{Name: "catch-up", Type: String, Value: "on|off", Help: "push hosts that come back behind the branch"},
				{Name: "max-age", Type: Duration, Value: "D", Help: "also push hosts whose last good push is older"},
				{Name: "parallel-catch-up", Type: Int, Value: "N", Help: "hosts caught up at once (default 1)"},
				{Name: "allow-reboot", Type: Bool, Help: "let reboot entries reboot hosts"},
				{Name: "window", Type: List, Value: "WINDOW", Help: "maintenance window, e.g. 'Sat 02:00-04:00 UTC' or 'cron 0 2 * * 6 2h UTC' (repeatable; replaces the branch's windows; 'none' clears them): catch-up and up --yes push only inside one"}},
				policyRolloutFlags...),
			Run: runPolicy},
	}
}

func runPolicy(_ context.Context, b Backend, c *Call) (Result, error) {
	var lines []string
	if c.Has("window") {
		ws := c.List("window")
		if len(ws) == 1 && ws[0] == "none" {
			ws = nil
		}
		if err := b.SetWindows(c.Arg(0), ws); err != nil {
			return nil, err
		}
		if len(ws) == 0 {
			lines = append(lines, fmt.Sprintf("windows of %s cleared: catch-up and up push at any time", c.Arg(0)))
		} else {
			lines = append(lines, fmt.Sprintf("windows of %s: %s", c.Arg(0), strings.Join(ws, "; ")))
		}
	}
	if hasRolloutFlags(c) {
		rollout, err := runRolloutPolicy(b, c)
		if err != nil {
			return nil, err
		}
		lines = append(lines, rollout)
		if !c.Has("catch-up") && !c.Has("max-age") && !c.Has("parallel-catch-up") && !c.Has("allow-reboot") {
			return Done{"policy", strings.Join(lines, "\n")}, nil
		}
	}
	var on bool
	switch c.Str("catch-up") {
	case "on":
		on = true
	case "off":
	case "":
		if c.Has("window") && !c.Has("max-age") && !c.Has("parallel-catch-up") && !c.Has("allow-reboot") {
			return Done{"policy", strings.Join(lines, "\n")}, nil
		}
		fallthrough
	default:
		return nil, usagef("policy needs --catch-up on|off, --window, or rollout flags (--canary N --wave SIZE|PCT --max-fail N|PCT …)")
	}
	p := store.CatchUp{Enabled: on, MaxAge: c.Dur("max-age"), Parallel: max(c.Int("parallel-catch-up"), 1), AllowReboot: c.Bool("allow-reboot")}
	if err := b.SetCatchUp(c.Arg(0), p); err != nil {
		return nil, err
	}
	state := "off"
	if on {
		state = fmt.Sprintf("on (max age %s, %d at once, reboots allowed: %v)", p.MaxAge, p.Parallel, p.AllowReboot)
	}
	lines = append(lines, fmt.Sprintf("catch-up on %s: %s", c.Arg(0), state))
	return Done{"policy", strings.Join(lines, "\n")}, nil
}

// lockedBranch is the branch a staging verb acts on: --branch, else the
// console's branch, else the one branch the operator holds a lock on.
func lockedBranch(b Backend, c *Call) (string, error) {
	if br := c.Branch(); br != "" {
		return br, nil
	}
	bs, err := b.Branches()
	if err != nil {
		return "", err
	}
	var mine, others []string
	for _, br := range bs {
		if _, l, err := b.Staged(br.Name); err == nil && l != nil {
			if l.Holder == b.Operator() {
				mine = append(mine, br.Name)
			} else {
				others = append(others, br.Name+" by "+l.Holder)
			}
		}
	}
	switch {
	case len(mine) == 1:
		return mine[0], nil
	case len(mine) == 0 && len(bs) == 1:
		// The only branch: staging on it says whose lock stops you (exit
		// 4) or how to take it, which "lock BRANCH" would not.
		return bs[0].Name, nil
	case len(mine) == 0 && len(others) > 0:
		return "", fmt.Errorf("%w: you hold no lock (locked: %s); take one with: lock BRANCH MESSAGE, or name the branch with --branch", engine.ErrNotLocked, strings.Join(others, ", "))
	case len(mine) == 0:
		return "", fmt.Errorf("%w: you hold no lock; take one with: lock BRANCH MESSAGE", engine.ErrNotLocked)
	}
	return "", usagef("you hold locks on %s; choose one with --branch", strings.Join(mine, ", "))
}

// someBranch is the branch a reading verb shows: its argument, --branch,
// the console's branch, else the only branch there is.
func someBranch(b Backend, c *Call) (string, error) {
	if br := c.Arg(0); br != "" {
		return br, nil
	}
	if br := c.Branch(); br != "" {
		return br, nil
	}
	bs, err := b.Branches()
	if err != nil {
		return "", err
	}
	if len(bs) != 1 {
		return "", usagef("which branch? %s BRANCH", c.Verb.Name)
	}
	return bs[0].Name, nil
}

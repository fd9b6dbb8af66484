package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/classify"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// classification loads the classification file, if any. It is re-read on
// every use so edits (e.g. a git pull) take effect without a restart.
// Machine files with a branch take part (classify.AddMachine): the branch
// of a netboot machine is said in one place.
func (e *Engine) classification() (*classify.Config, error) {
	var cls *classify.Config
	if e.opts.ClassFile != "" {
		var err error
		if cls, err = classify.Load(e.opts.ClassFile); err != nil {
			return nil, err
		}
	}
	if e.opts.MachinesDir == "" {
		return cls, nil
	}
	ms, err := e.Machines().Load()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.Branch == "" {
			continue
		}
		if cls == nil {
			cls = &classify.Config{}
		}
		if err := cls.AddMachine(m.MAC.String(), m.Branch, m.File); err != nil {
			return nil, err
		}
	}
	return cls, nil
}

// view derives what faces show for a host. Secret variables are shown
// masked; hostVars gives their values to the engine alone.
func (e *Engine) view(h store.Host, cls *classify.Config, heads map[string]uint64) HostView {
	v := HostView{Host: h}
	if cls != nil {
		c := cls.ClassifyHost(classHost(h))
		v.Vars = maskVars(c.Vars, c.Secret)
	}
	v.Branch = effectiveBranch(h, v.Vars)
	if h.Drift != nil {
		v.Drifted = len(h.Drift.Paths)
	}
	if head, ok := heads[v.Branch]; ok {
		v.Head = head
		if h.StateBranch == "" || h.StateBranch == v.Branch {
			v.Behind = int(head) - int(h.Position)
		}
	}
	return v
}

// hostView is view with the classification and branch heads read now, for
// one host's event.
func (e *Engine) hostView(h store.Host) HostView { return e.viewer()(h) }

// viewer reads the classification and branch heads once and returns what
// derives many hosts' views from them (a scan round's events). A
// classification error is shown on each view.
func (e *Engine) viewer() func(store.Host) HostView {
	cls, cerr := e.classification()
	heads := map[string]uint64{}
	var wins map[string]windowState
	var warn map[string][]string
	_ = e.opts.Store.View(func(tx store.Tx) error {
		bs, err := tx.Branches()
		for _, b := range bs {
			heads[b.Name] = b.Head
		}
		wins = windowsByBranch(bs, e.now())
		hosts, herr := tx.Hosts()
		warn = hostWarnings(hosts)
		return errors.Join(err, herr)
	})
	return func(h store.Host) HostView {
		v := e.view(h, cls, heads)
		wins[v.Branch].apply(&v)
		v.Warnings = warn[h.ID]
		if cerr != nil {
			v.ClassErr = cerr.Error()
		}
		return v
	}
}

// effectiveBranch: an explicit assignment wins, then the classification's
// BRANCH, then what the host's own state file says.
func effectiveBranch(h store.Host, vars map[string]string) string {
	if h.Branch != "" {
		return h.Branch
	}
	if b := vars["BRANCH"]; b != "" {
		return b
	}
	return h.StateBranch
}

func hostNames(name string) (short, fqdn string) {
	short, _, _ = strings.Cut(name, ".")
	return short, name
}

// Hosts lists every known host with its effective branch and how far behind
// its branch's head it is.
func (e *Engine) Hosts(ctx context.Context) ([]HostView, error) {
	cls, err := e.classification()
	if err != nil {
		return nil, err
	}
	var hosts []store.Host
	heads := map[string]uint64{}
	var wins map[string]windowState
	err = e.opts.Store.View(func(tx store.Tx) error {
		var err error
		if hosts, err = tx.Hosts(); err != nil {
			return err
		}
		bs, err := tx.Branches()
		for _, b := range bs {
			heads[b.Name] = b.Head
		}
		wins = windowsByBranch(bs, e.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]HostView, 0, len(hosts))
	warn := hostWarnings(hosts)
	for _, h := range hosts {
		v := e.view(h, cls, heads)
		wins[v.Branch].apply(&v)
		v.Warnings = warn[h.ID]
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b HostView) int {
		if c := NaturalCompare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// findHost resolves a host by ID, name, short name or address.
func findHost(tx store.Tx, ref string) (store.Host, error) {
	hosts, err := tx.Hosts()
	if err != nil {
		return store.Host{}, err
	}
	var matches []store.Host
	for _, h := range hosts {
		short, _ := hostNames(h.Name)
		if h.ID == ref || h.Name == ref || short == ref || h.Addr == ref || h.MAC == ref {
			matches = append(matches, h)
			continue
		}
		for _, a := range h.Addrs {
			if a == ref {
				matches = append(matches, h)
				break
			}
		}
	}
	switch len(matches) {
	case 0:
		return store.Host{}, fmt.Errorf("%w: no host %q; list hosts with: discoterm --batch hosts", ErrNotFound, ref)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, len(matches))
	for i, m := range matches {
		ids[i] = m.ID
	}
	return store.Host{}, fmt.Errorf("%w: %q names %d hosts (%s); use a host ID", ErrUsage, ref, len(matches), strings.Join(ids, ", "))
}

// target is how to reach a host.
func target(h store.Host) remote.Target {
	t := remote.Target{Addr: h.Addr, Port: h.Port, User: h.User, Name: displayName(h)}
	if h.Trusted {
		// Bound to the key it was trusted with, at whatever address.
		t.HostKey, t.HostKeyType = h.HostKey, h.HostKeyType
	}
	return t
}

func displayName(h store.Host) string {
	if h.Name != "" {
		return h.Name
	}
	return h.Addr
}

// hostID derives a host's identity from what it is, not where it answers.
func hostID(f remote.Facts, hostKey, addr string) string {
	switch {
	case f.MachineID != "":
		return "mid:" + f.MachineID
	case hostKey != "":
		return "key:" + hostKey
	}
	return "addr:" + addr
}

// AddHost connects to an address, learns what the host is (machine-id, SSH
// host key, hostname, its discoterm state) and records it. A host already
// known under another address keeps its history and gets the new address.
func (e *Engine) AddHost(ctx context.Context, req AddHostRequest) (HostView, error) {
	if strings.TrimSpace(req.Addr) == "" {
		return HostView{}, fmt.Errorf("%w: add-host needs an address", ErrUsage)
	}
	sa, err := ParseSSHAddress(req.Addr)
	if err != nil {
		return HostView{}, err
	}
	// --user / --port may repeat what the address says, never contradict it.
	if sa.User != "" && req.User != "" && sa.User != req.User {
		return HostView{}, fmt.Errorf("%w: the address says user %s and --user says %s; give one", ErrUsage, sa.User, req.User)
	}
	if sa.Port != 0 && req.Port != 0 && sa.Port != req.Port {
		return HostView{}, fmt.Errorf("%w: the address says port %d and --port says %d; give one", ErrUsage, sa.Port, req.Port)
	}
	addr := sa.Host
	if sa.User != "" {
		req.User = sa.User
	}
	if sa.Port != 0 {
		req.Port = sa.Port
	}
	if e.opts.Remote == nil {
		return HostView{}, errors.New("no remote transport configured")
	}
	// The operator named this address: --accept-new may let an unknown
	// key through, for this connection; it is recorded below once the
	// host's identity checks out.
	t := remote.Target{Addr: addr, Port: req.Port, User: req.User, Name: addr, Named: true}
	pctx, cancel := context.WithTimeout(ctx, e.opts.HostTimeout)
	defer cancel()
	res, err := e.opts.Remote.Probe(pctx, t, remote.ProbeRequest{StateDir: e.opts.StateDir})
	if err != nil {
		return HostView{}, err
	}
	var pk remote.PresentedKey
	if e.opts.KeyTrust != nil {
		pk, _ = e.opts.KeyTrust.PresentedKey(t)
	}
	now := e.now()
	var saved store.Host
	err = e.opts.Store.Update(func(tx store.Tx) error {
		h, known, err := identify(tx, res, addr, "", pk.New)
		if err != nil {
			return err
		}
		if !known {
			h.FirstSeen = now
		}
		h.Addr, h.Addrs = addr, prependUnique(h.Addrs, addr)
		h.Port, h.User = req.Port, req.User
		learnFacts(&h, res, pk, req.Name)
		mirrorState(&h, res, now)
		saved = h
		return tx.PutHost(h)
	})
	if err != nil {
		if e.opts.KeyTrust != nil && pk.New {
			e.opts.KeyTrust.Forget(t) // the key accepted for this connection is not trusted
		}
		return HostView{}, err
	}
	if pk.New {
		if err := e.opts.KeyTrust.TrustHostKey(t, pk.Line); err != nil {
			return HostView{}, err
		}
	}
	e.emitDuplicates(saved)
	return e.emitHost(saved, HostAdded, LevelInfo, fmt.Sprintf("%s added at %s", displayName(saved), addr)), nil
}

// learnFacts records what a trusted probe says about the host. The name
// is the operator's (name, when given) or what the host called itself when
// first trusted; a host that renames itself later is flagged, not renamed.
func learnFacts(h *store.Host, res *remote.ProbeResult, pk remote.PresentedKey, name string) {
	if name != "" {
		h.Name = name
	}
	if hn := res.Facts.Hostname; hn != "" {
		if h.Hostname == "" {
			h.Hostname = hn
		}
		h.HostnameNow = hn
		if h.Name == "" {
			h.Name = hn
		}
	}
	// The machine-id is the one the key was trusted with: a host that
	// edits its /etc/machine-id must not move into another stanza.
	if !h.Trusted || h.MachineID == "" {
		h.MachineID = res.Facts.MachineID
	}
	h.MachineIDNow = res.Facts.MachineID
	h.OS, h.Trusted = res.Facts.OS, true
	if res.HostKey != "" {
		h.HostKey = res.HostKey
		if pk.Fingerprint == res.HostKey {
			h.HostKeyType = pk.Type
		}
	}
}

// mirrorState copies what a probe learned of the host's own state file.
func mirrorState(h *store.Host, res *remote.ProbeResult, now time.Time) {
	h.StateSeen = now
	if res.StateErr != "" {
		return
	}
	h.StateBranch, h.Position, h.PositionHash = res.State.Branch, res.State.Position, res.State.Hash
}

func prependUnique(list []string, s string) []string {
	out := []string{s}
	for _, x := range list {
		if x != s && len(out) < 8 {
			out = append(out, x)
		}
	}
	return out
}

// Assign puts a host on a branch, overriding the classification file.
func (e *Engine) Assign(host, branch string) error {
	var h store.Host
	err := e.opts.Store.Update(func(tx store.Tx) error {
		var err error
		if h, err = findHost(tx, host); err != nil {
			return err
		}
		if _, err := tx.Branch(branch); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: no branch %q; create it with lock or fork", ErrNotFound, branch)
			}
			return err
		}
		if h.StateBranch != "" && h.StateBranch != branch && h.Position > 0 {
			return fmt.Errorf("%w: %s has applied %d entries of branch %s; moving it needs: discoterm --batch migrate %s %s", ErrUsage, displayName(h), h.Position, h.StateBranch, host, branch)
		}
		h.Branch = branch
		if err := tx.PutHost(h); err != nil {
			return err
		}
		return tx.AddAudit(store.AuditRecord{Branch: branch, Time: e.now(), Actor: e.opts.Operator, Action: "assign", Message: displayName(h)})
	})
	if err != nil {
		return err
	}
	h.Branch = branch
	e.emitHost(h, HostAssigned, LevelInfo, displayName(h)+" assigned to "+branch)
	return nil
}

// loadJournal returns a branch and its verified journal. A tampered
// journal is refused, naming the first bad sequence number.
func loadJournal(tx store.Tx, branch string) (store.Branch, []journal.Entry, error) {
	b, err := tx.Branch(branch)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return b, nil, fmt.Errorf("%w: no branch %q", ErrNotFound, branch)
		}
		return b, nil, err
	}
	entries, err := tx.Journal(branch)
	if err != nil {
		return b, nil, err
	}
	if err := journal.Verify(branch, entries, b.HeadHash); err != nil {
		return b, nil, err
	}
	if uint64(len(entries)) != b.Head {
		return b, nil, &journal.ChainError{Branch: branch, Seq: uint64(len(entries)) + 1, Reason: fmt.Sprintf("branch head is %d but %d entries are stored", b.Head, len(entries))}
	}
	return b, entries, nil
}

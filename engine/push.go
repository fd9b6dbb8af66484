package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// bundleFor builds what one host needs: the journal entries it reviewed,
// with the content it reviewed (templates as rendered for it in the plan).
// sec is the host's classification now, for what the plan did not keep:
// secret variables and templates rendered from them.
func (e *Engine) bundleFor(tx store.Tx, p *Plan, hp HostPlan, entries []journal.Entry, opts PushOptions, sec pushSecrets) (*remote.Bundle, error) {
	env, err := sec.env(p, hp)
	if err != nil {
		return nil, err
	}
	b := &remote.Bundle{StateDir: e.opts.StateDir, Branch: p.Branch, ExpectBranch: hp.Fingerprint.Branch,
		ExpectPosition: hp.Fingerprint.Position, ExpectHash: hp.Fingerprint.Hash, AllowReboot: opts.AllowReboot, RebootCommand: e.opts.RebootCommand, Env: env}
	for _, ps := range hp.Fingerprint.Paths {
		info := remote.PathInfo{Path: ps.Path, Exists: ps.Exists, Hash: ps.Hash}
		if ps.Exists {
			var m uint32
			fmt.Sscanf(ps.Mode, "%o", &m)
			info.Mode = m
			info.Owner, info.Group, _ = strings.Cut(ps.Owner, ":")
			if ps.Hash != "" {
				info.Type = "file"
			}
		}
		b.ExpectPaths = append(b.ExpectPaths, info)
	}
	for _, c := range hp.Changes {
		if c.Seq == 0 || c.Seq > uint64(len(entries)) {
			return nil, fmt.Errorf("%w: plan %s covers seq %d, which the journal of %s does not have; re-plan", ErrStale, p.ID, c.Seq, p.Branch)
		}
		en := entries[c.Seq-1]
		if en.Kind != c.Kind || en.Path != c.Path || en.Command != c.Command {
			return nil, fmt.Errorf("%w: journal seq %d is not what plan %s reviewed; re-plan", ErrStale, c.Seq, p.ID)
		}
		if c.Effect == EffectError {
			return nil, fmt.Errorf("seq %d failed in the plan (%s); fix it and re-plan", c.Seq, c.Err)
		}
		k, ok := kinds.Lookup(en.Kind)
		if !ok {
			return nil, fmt.Errorf("seq %d is of unknown kind %q", en.Seq, en.Kind)
		}
		var data []byte
		if use := k.Content(); use != kinds.ContentNone {
			sum := en.Blob
			if use == kinds.ContentPerHost {
				sum = hp.Rendered[en.Seq]
			}
			var err error
			data, err = tx.Blob(sum)
			if errors.Is(err, store.ErrNotFound) && use == kinds.ContentPerHost && hp.Facts != nil {
				data, err = sec.render(tx, p, hp, en, k)
			}
			if err != nil {
				return nil, fmt.Errorf("content of seq %d: %w", en.Seq, err)
			}
			if c.NewHash != "" && c.NewHash != sha(data) {
				return nil, fmt.Errorf("content of seq %d does not match what plan %s reviewed", en.Seq, p.ID)
			}
		}
		be := k.Op(en, data)
		be.Seq, be.Hash, be.Repair = en.Seq, en.Hash, c.Repair
		be.SavePaths = savePaths(c)
		b.Entries = append(b.Entries, be)
	}
	return b, nil
}

// pushInput is what a push, live or prepared, reads from the store in one
// transaction: the approved plan, its branch and verified journal, and for
// each host its target and the bundle it reviewed (or why it has none).
type pushInput struct {
	plan      *Plan
	branch    store.Branch
	entries   []journal.Entry
	bundles   map[string]*remote.Bundle
	targets   map[string]remote.Target
	bundleErr map[string]error
	secrets   map[string]hostSecrets // host ID → secret values to scrub from output
}

// loadPushInput refuses a plan that is not approved, was pushed already, or
// cannot be checked against allowed signers, before any host is touched.
func (e *Engine) loadPushInput(planID string, opts PushOptions) (*pushInput, error) {
	in := &pushInput{bundles: map[string]*remote.Bundle{}, targets: map[string]remote.Target{}, bundleErr: map[string]error{}, secrets: map[string]hostSecrets{}}
	cls, clsErr := e.classification()
	err := e.opts.Store.View(func(tx store.Tx) error {
		p, err := getPlan(tx, planID)
		if err != nil {
			return err
		}
		in.plan = p
		if !p.Approved {
			return fmt.Errorf("%w: plan %s is not approved; review it and run: approve %s", ErrUsage, p.ID, p.ID)
		}
		if p.Pushed {
			// A plan is applied once: hosts have moved since it was made.
			return fmt.Errorf("%w: plan %s was pushed already; make a new plan for hosts that did not finish", ErrUsage, p.ID)
		}
		if e.opts.AllowedSigners == "" {
			return errNoAllowedSigners()
		}
		if in.branch, in.entries, err = e.loadJournal(tx, p.Branch); err != nil {
			return err
		}
		for _, hp := range p.Hosts {
			sec := pushSecrets{clsErr: clsErr}
			if h, err := tx.Host(hp.HostID); err == nil {
				in.targets[hp.HostID] = target(h)
				sec.vars, sec.host = e.hostVars(h, cls)
				in.secrets[hp.HostID] = sec.host
			} else {
				in.targets[hp.HostID] = remote.Target{Addr: hp.Addr, Name: hp.Name}
			}
			if hp.Err != "" {
				continue
			}
			if b, err := e.bundleFor(tx, p, hp, in.entries, opts, sec); err != nil {
				in.bundleErr[hp.HostID] = err
			} else {
				in.bundles[hp.HostID] = b
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Push applies an approved plan: each host in order, hosts in parallel
// (bounded), stopping a host at its first failure, refusing hosts whose
// state moved since the plan (stale). Cancelling ctx lets each host finish
// or abandon its current entry atomically.
func (e *Engine) Push(ctx context.Context, planID string, opts PushOptions) (*PushResult, error) {
	start := time.Now()
	in, err := e.loadPushInput(planID, opts)
	if err != nil {
		return nil, err
	}
	p, entries, policy := in.plan, in.entries, in.branch.Rollout
	bundles, targets, bundleErr := in.bundles, in.targets, in.bundleErr
	// A rollout policy that cannot apply is refused before any host.
	ro, err := newRollout(policy, opts, len(p.Hosts))
	if err != nil {
		return nil, err
	}
	if _, err := e.comeBackOf(in, opts); err != nil {
		return nil, err
	}
	res := &PushResult{PlanID: p.ID, Hosts: make([]HostPush, len(p.Hosts))}
	job := e.startJob("push "+p.ID, fmt.Sprintf("pushing plan %s to %s", p.ID, Plural(len(p.Hosts), "host")))
	for i, hp := range p.Hosts {
		res.Hosts[i] = HostPush{HostID: hp.HostID, Name: hp.Name, Status: PushWaiting, From: hp.Position, To: hp.Position}
		e.emit(&PushHostEvent{PlanID: p.ID, HostID: hp.HostID, Host: hp.Name, Status: PushWaiting, Steps: len(hp.Changes), Position: hp.Position})
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = e.opts.Parallel
	}
	emitHost := func(hp HostPlan, hr *HostPush) {
		ev := &PushHostEvent{PlanID: p.ID, HostID: hp.HostID, Host: hp.Name, Status: hr.Status,
			Step: len(hr.Entries), Steps: len(hp.Changes), Err: hr.Err, Position: hr.To}
		ev.Message = fmt.Sprintf("%s %s at position %d", hp.Name, hr.Status, hr.To)
		if hr.Status != PushDone && hr.Status != PushNothing && hr.Status != PushNotStarted {
			ev.Level = LevelError
		}
		e.emit(ev)
		// Stored as each host ends, so other consoles follow the push.
		e.recordHost(p, entries, *hr)
	}
	// Hosts that need no connection are decided first, so a cancelled
	// push cannot report them as anything but what they are.
	var work []int
	for i, hp := range p.Hosts {
		hr := &res.Hosts[i]
		switch {
		case hp.Err != "":
			hr.Status, hr.Err = PushFailed, "not planned: "+hp.Err
		case bundleErr[hp.HostID] != nil:
			hr.Status, hr.Err = PushFailed, bundleErr[hp.HostID].Error()
			if errors.Is(bundleErr[hp.HostID], ErrStale) {
				hr.Status = PushStale
			}
		case len(hp.Changes) == 0 && hp.Fingerprint.Branch == p.Branch:
			hr.Status = PushNothing
		default:
			work = append(work, i)
			continue
		}
		emitHost(hp, hr)
	}
	ro.split(work)
	// Waves (engine/waves.go): the canary, then waves, stopping between
	// them once failures cross the threshold.
	stopped := e.runWaves(ctx, p, ro, res, parallel, func(i int) {
		hp := p.Hosts[i]
		hr := &res.Hosts[i]
		hs := time.Now()
		e.pushHost(ctx, p, hp, targets[hp.HostID], bundles[hp.HostID], hr, entries, in.secrets[hp.HostID])
		hr.Duration = time.Since(hs)
		emitHost(hp, hr)
	}, emitHost)
	if stopped != "" {
		res.Stopped = stopped
		for i := range res.Hosts {
			if hr := &res.Hosts[i]; hr.Status == PushWaiting {
				hr.Status, hr.Err = PushNotStarted, "not started: the push "+stopped
				emitHost(p.Hosts[i], hr)
			}
		}
		ns, failed := res.NotStarted(), 0
		for _, w := range res.Waves {
			failed += w.Failed
		}
		e.emit(&WaveEvent{Header: Header{Level: LevelError, Message: fmt.Sprintf("push %s %s; not started: %s", p.ID, stopped, hostList(ns))},
			PlanID: p.ID, Wave: len(res.Waves) + 1, Waves: len(ro.waves), State: WaveStopped, NotStarted: ns, Reason: stopped, FailedTotal: failed, MaxFail: ro.maxFail})
	}
	// Hosts never started because ctx ended are untouched.
	for i := range res.Hosts {
		if hr := &res.Hosts[i]; hr.Status == PushWaiting {
			hr.Status, hr.Err = PushNotStarted, "not started: the push was cancelled first"
			emitHost(p.Hosts[i], hr)
		}
	}
	res.Duration = time.Since(start)
	// Results are written even when the push was interrupted, waiting a
	// bounded time for a store that is unreachable.
	wait := ResultsWait
	if ctx.Err() != nil {
		wait = 10 * time.Second
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	e.recordPush(rctx, p, res)
	cancel()
	msg := fmt.Sprintf("push %s: %s, %d failed, %d stale", p.ID, Plural(len(res.Hosts), "host"), res.Failed()-res.Stale(), res.Stale())
	e.emit(&PushDoneEvent{Header: Header{Message: msg}, PlanID: p.ID, Branch: p.Branch, Hosts: len(res.Hosts),
		Failed: res.Failed(), Stale: res.Stale(), Duration: res.Duration})
	e.finishJob(job, msg)
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w: push %s interrupted; hosts finished or abandoned their current entry", ErrCancelled, p.ID)
	case res.Stopped != "":
		ns := res.NotStarted()
		return res, fmt.Errorf("%w: push %s %s; %s not started (untouched, positions unchanged): %s", ErrHostsFail, p.ID, res.Stopped, Plural(len(ns), "host"), hostList(ns))
	case res.Failed() > 0 && res.Failed() == res.Stale():
		return res, fmt.Errorf("%w: %s changed since plan %s: re-plan", ErrStale, Plural(res.Stale(), "host"), p.ID)
	case res.Failed() > 0:
		return res, fmt.Errorf("%w: %d of %s did not finish", ErrHostsFail, res.Failed(), Plural(len(res.Hosts), "host"))
	}
	return res, nil
}

func (e *Engine) pushHost(ctx context.Context, p *Plan, hp HostPlan, t remote.Target, b *remote.Bundle, hr *HostPush, entries []journal.Entry, sec hostSecrets) {
	// A host prepared for a window discards its prepared copy (its waiter
	// disarmed) before it is pushed live; results it already recorded at
	// its window are stored first (prepare.go).
	if h, err := e.hostRecord(hp.HostID); err == nil {
		e.collectAtContact(ctx, h, t, true)
	}
	n := len(b.Entries)
	hr.Status = PushApplying
	e.emit(&PushHostEvent{PlanID: p.ID, HostID: hp.HostID, Host: hp.Name, Status: PushApplying, Step: 1, Steps: n, Position: hp.Position})
	summaries := map[uint64]journal.Entry{}
	for _, be := range b.Entries {
		summaries[be.Seq] = entries[be.Seq-1]
	}
	// The apply step gets its own deadline but is not cut by ctx directly:
	// the transport signals the remote script on ctx's cancellation, and
	// the script finishes its current entry.
	actx, cancel := context.WithTimeout(ctx, e.opts.PushTimeout)
	defer cancel()
	report := func(r remote.EntryReport) {
		en := summaries[r.Seq]
		r.Output = sec.redact(r.Output)
		er := EntryResult{Seq: r.Seq, Kind: en.Kind, Summary: en.Summary(), Result: r.Result, ExitCode: r.ExitCode, Duration: r.Duration, Output: r.Output,
			Usage: storeUsage(r.Usage)}
		hr.Entries = append(hr.Entries, er)
		lvl := LevelInfo
		if r.Result == "failed" {
			lvl = LevelError
		}
		msg := fmt.Sprintf("%s seq %d %s: %s", hp.Name, r.Seq, r.Result, er.Summary)
		if r.Result == "failed" {
			msg = fmt.Sprintf("%s seq %d failed (exit %d): %s", hp.Name, r.Seq, r.ExitCode, er.Summary)
		}
		e.emit(&PushEntryEvent{Header: Header{Level: lvl, Message: msg}, PlanID: p.ID, HostID: hp.HostID, Host: hp.Name, Seq: r.Seq,
			Result: r.Result, ExitCode: r.ExitCode, Step: len(hr.Entries), Steps: n, Summary: er.Summary, Output: strings.TrimSpace(lastLines(r.Output, 5)), Usage: er.Usage})
		if len(hr.Entries) < n && (r.Result == "ok" || r.Result == "skipped") {
			e.emit(&PushHostEvent{PlanID: p.ID, HostID: hp.HostID, Host: hp.Name, Status: PushApplying, Step: len(hr.Entries) + 1, Steps: n, Position: r.Seq})
		}
	}
	ar, err := e.opts.Remote.Apply(actx, t, b, report)
	if ar != nil {
		hr.To = ar.Position
	}
	// Only a host that answered where it stands has a position to mirror.
	hr.contacted = ar != nil && (err == nil || len(hr.Entries) > 0)
	// What the host reported decides, not whether ctx ended: a host that
	// finished every entry (or failed one) while the push was being
	// cancelled says so in its report.
	finished := len(hr.Entries) == n && n > 0
	for _, en := range hr.Entries {
		if en.Result != "ok" && en.Result != "skipped" {
			finished = false
		}
	}
	hr.Status = PushDone
	switch {
	case ar != nil && ar.Stale != "":
		hr.Status, hr.Err = PushStale, "changed since the plan ("+ar.Stale+"); re-plan"
	case entryEnded(hr):
		// A failed, cancelled or reboot entry ended the host's run.
	case finished:
	case err != nil && ctx.Err() != nil:
		hr.Status, hr.Err = PushCancelled, fmt.Sprintf("cancelled before seq %d (applied up to %d)", nextSeq(b, hr.To), hr.To)
	case err != nil:
		hr.Status, hr.Err = PushFailed, sec.redact(hostErr(err))
		var ue *remote.UnreachableError
		if errors.As(err, &ue) {
			hr.Status = PushUnreach
		}
	}
	// A push that must come back: confirmed over a fresh connection, or
	// the host reverts it by itself.
	if b.ComeBack > 0 && ar != nil && ar.Token != "" && ar.Stale == "" && (ar.Armed || err != nil) {
		e.comeBack(ctx, p, hp, t, b, ar, hr)
	}
}

// entryEnded sets the host's status from the entry whose result ended its
// run, reporting whether one did.
func entryEnded(hr *HostPush) bool {
	for _, en := range hr.Entries {
		switch en.Result {
		case "failed":
			hr.Status, hr.Err = PushFailed, fmt.Sprintf("failed (exit %d) at seq %d (%s)", en.ExitCode, en.Seq, en.Summary)
			if out := strings.TrimSpace(lastLines(en.Output, 3)); out != "" {
				hr.Err += ": " + out
			}
		case "reboot-pending":
			hr.Status, hr.Err = PushRebootHold, fmt.Sprintf("seq %d is a reboot; push with --allow-reboot to continue", en.Seq)
		case "cancelled":
			hr.Status, hr.Err = PushCancelled, fmt.Sprintf("cancelled before seq %d (applied up to %d)", en.Seq, hr.To)
		case "rebooting":
			hr.Status, hr.Err = PushRebooting, fmt.Sprintf("rebooting at seq %d; the rest follows when it is back (up, or the catch-up policy)", en.Seq)
		default:
			continue
		}
		return true
	}
	return false
}

// nextSeq is the first entry of the bundle after position pos.
func nextSeq(b *remote.Bundle, pos uint64) uint64 {
	for _, en := range b.Entries {
		if en.Seq > pos {
			return en.Seq
		}
	}
	return pos + 1
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

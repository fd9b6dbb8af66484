package remote

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// applyProgram renders the bundle as one program of apply.sh calls.
func applyProgram(b *Bundle, token string) (string, error) {
	files := applyFiles
	if b.ComeBack > 0 {
		files = comeBackFiles
	}
	p := newProgram(files)
	p.call("begin", strings.TrimRight(b.StateDir, "/"), token, b.Branch)
	// Fingerprint check: refuse to change anything on a host that moved
	// since the plan.
	p.call("expect", itoa(b.ExpectPosition), b.ExpectHash, b.ExpectBranch)
	stalePaths(p, b.ExpectPaths)
	keep := b.ComeBack > 0
	if keep {
		// Before the branch is recorded: the record keeps the state file
		// as the plan saw it.
		p.call("keep", token, strconv.FormatInt(comeBackSeconds(b.ComeBack), 10))
	}
	if b.Branch != b.ExpectBranch || (b.ExpectBranch == "" && b.Branch != "") {
		// Recording the branch (first contact, or migrate) is itself a state change.
		p.call("setbranch")
	}
	env, err := envArgs(b.Env)
	if err != nil {
		return "", err
	}
	reboot := b.RebootCommand
	if reboot == "" {
		reboot = "shutdown -r now"
	}
	allow := "0"
	if b.AllowReboot {
		allow = "1"
	}
	for i := 0; i < len(b.Entries); {
		e := b.Entries[i]
		seq := itoa(e.Seq)
		p.call("entry", seq)
		switch e.Op {
		case OpFile:
			if e.AllowUserDir {
				userDirFile(p, e)
				i++
				continue
			}
			j := i
			for j < len(b.Entries) && b.Entries[j].Op == OpFile && !b.Entries[j].AllowUserDir {
				j++
			}
			if keep {
				for _, e := range b.Entries[i:j] {
					p.call("save", saveKind(e), itoa(e.Seq), e.Path)
				}
			}
			fileRun(p, b.Entries[i:j])
			i = j
			continue
		case OpExec:
			if keep && len(e.SavePaths) > 0 {
				p.call("save", append([]string{"x", seq}, e.SavePaths...)...)
			}
			p.call("xexec", append([]string{seq, e.Hash, e.Creates, e.Unless, e.Command}, env...)...)
		case OpRemove:
			if keep {
				p.call("save", saveKind(e), seq, e.Path)
			}
			if e.Repair {
				p.call("rremove", seq, e.Path)
				break
			}
			p.call("xremove", seq, e.Hash, e.Path)
		case OpReboot:
			p.call("xreboot", seq, e.Hash, allow, reboot)
		default:
			return "", fmt.Errorf("seq %d: no host operation %q", e.Seq, e.Op)
		}
		i++
	}
	p.call("finish")
	return p.text()
}

// comeBackSeconds is D in whole seconds, at least 1 (the host's clock
// counts seconds).
func comeBackSeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// saveKind says where apply keeps what an entry overwrites: a drift
// repair's copy stays with the push's record (r), not as the entry's
// saved copy (s) that undo reads.
func saveKind(e BundleEntry) string {
	if e.Repair {
		return "r"
	}
	return "s"
}

// fileRun installs a run of consecutive file entries: each staged in a
// temporary file beside its target with its mode (by umask where it can),
// owner and group; one fsync for all; renamed in order; then one state
// write records them. Text content is written by the shell's printf (no
// process); binary content is decoded by base64.
func fileRun(p *program, run []BundleEntry) {
	p.call("run")
	for _, e := range run {
		f := stagedFile(e)
		p.call("prep", itoa(e.Seq), e.Path, f.umask, f.chmod, f.owner, f.enc, f.data)
	}
	first := itoa(run[0].Seq)
	p.call("settle", first)
	for _, e := range run {
		if e.Repair {
			p.call("replace", itoa(e.Seq), e.Path)
			continue
		}
		p.call("place", itoa(e.Seq), e.Hash, e.Path)
	}
	p.call("ran", first)
}

// userDirFile installs a file entry staged with --allow-user-dir as a run
// of its own (ufile in apply.sh): its directory may belong to a user who
// races every step, so the whole write happens from inside a private
// directory the shell holds as its working directory.
func userDirFile(p *program, e BundleEntry) {
	f := stagedFile(e)
	repair := "0"
	if e.Repair {
		repair = "1"
	}
	p.call("run")
	p.call("ufile", itoa(e.Seq), e.Hash, e.Path, f.umask, f.chmod, f.owner, f.enc, f.data, repair)
	p.call("ran", itoa(e.Seq))
}

// staged is how a file entry's temporary file is made: the umask that
// gives its mode (chmod "" then) or the mode to chmod, owner:group, and
// the content as text or base64.
type staged struct{ umask, chmod, owner, enc, data string }

func stagedFile(e BundleEntry) staged {
	owner, group := e.Owner, e.Group
	if owner == "" {
		owner = "root"
	}
	if group == "" {
		group = "root"
	}
	mode := e.Mode & 0o7777
	f := staged{umask: fmt.Sprintf("%03o", 0o777&^mode), owner: owner + ":" + group, enc: "text", data: string(e.Content)}
	if mode&0o7111 != 0 { // execute or special bits: a umask cannot give them
		f.umask, f.chmod = "022", fmt.Sprintf("%o", mode)
	}
	if !shellText(e.Content) {
		f.enc, f.data = "base64", base64.StdEncoding.EncodeToString(e.Content)
	}
	return f
}

// shellText reports whether content can travel as a shell word written by
// printf: UTF-8 text without NUL or other control characters than tab,
// newline and CR, and not huge (a shell keeps the whole program in memory).
func shellText(b []byte) bool {
	if len(b) > 1<<20 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// stalePaths refuses, with nothing changed, a host whose paths moved since
// the plan: existence by builtins, then one stat and one sha256sum over
// every path that existed, compared as a whole.
func stalePaths(p *program, paths []PathInfo) {
	var metaArgs, hashArgs, metaWant, hashWant []string
	for i, pi := range paths {
		if !pi.Exists {
			p.call("absent", strconv.Itoa(i), pi.Path)
			continue
		}
		p.call("present", strconv.Itoa(i), pi.Path)
		metaArgs = append(metaArgs, pi.Path)
		metaWant = append(metaWant, fmt.Sprintf("%o %s %s", pi.Mode, pi.Owner, pi.Group))
		if pi.Type == "file" {
			hashArgs = append(hashArgs, pi.Path)
			hashWant = append(hashWant, pi.Hash+" ")
		}
	}
	if len(metaArgs) > 0 {
		p.call("samemeta", append([]string{strings.Join(metaWant, "\n")}, metaArgs...)...)
	}
	if len(hashArgs) > 0 {
		p.call("samehash", append([]string{strings.Join(hashWant, "")}, hashArgs...)...)
	}
}

// staleReason words a STALE line for the operator.
func staleReason(l replyLine, b *Bundle) string {
	path := func() string {
		if l.Index < len(b.ExpectPaths) && b.ExpectPaths[l.Index].Path != "" {
			return cleanText(b.ExpectPaths[l.Index].Path)
		}
		return "a path"
	}
	switch l.Key {
	case "position":
		return fmt.Sprintf("host is at position %s, the plan expected %d", l.Text, b.ExpectPosition)
	case "branch":
		return fmt.Sprintf("host is on branch %s, the plan expected %s", l.Text, b.ExpectBranch)
	case "appeared":
		return path() + " appeared since the plan"
	case "removed":
		return path() + " was removed since the plan"
	case "meta":
		return "a path the plan read changed mode or owner since"
	case "content":
		return "a file the plan read changed since"
	case "statedir":
		return "cannot create the state directory " + cleanText(b.StateDir)
	case "armed":
		return "a push with --must-come-back on this host waits for its confirmation (or is being reverted); push again once it is confirmed or rolled back"
	case "reverted":
		return "a revert that was due on this host (its push never came back) ran first; re-plan"
	case "keep":
		return "cannot keep copies for --must-come-back in the state directory " + cleanText(b.StateDir) + "; nothing applied"
	case "tampered":
		return "the prepared program was changed on the host (its sha256 no longer matches): nothing applied"
	default:
		return "cannot write the state file"
	}
}

// applyCap is the most an apply's reply may be.
func applyCap(b *Bundle) int64 { return applyBase + applyPerEntry*int64(len(b.Entries)) }

// Apply uploads the bundle as one script and applies it in one remote step,
// calling report for each entry as its result line arrives.
func (st *Steps) Apply(ctx context.Context, t Target, b *Bundle, report func(EntryReport)) (*ApplyResult, error) {
	token := randomToken()
	text, err := applyProgram(b, token)
	if err != nil {
		return nil, fmt.Errorf("apply on %s: %w", t.display(), err)
	}
	pr, pw := io.Pipe()
	res := &ApplyResult{BytesSent: int64(len(text)), Position: b.ExpectPosition, Hash: b.ExpectHash}
	if b.ComeBack > 0 {
		res.Token = token
	}
	parsed := make(chan error, 1)
	sawEnd := false
	go func() {
		end, perr := readApplyReply(pr, t, b, res, report)
		_, _ = io.Copy(io.Discard, pr)
		sawEnd = end
		parsed <- perr
	}()
	// The step is not cut when ctx ends: a second session asks the script
	// to stop after its current entry, and we wait for it to say where it
	// stopped. Only if it does not within CancelWait is the session closed.
	runCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			p := newProgram(cancelFiles)
			p.call("cancel", strings.TrimRight(b.StateDir, "/"), token)
			if text, err := p.text(); err == nil {
				_, _ = st.R.Run(cctx, t, remoteShell, strings.NewReader(text), io.Discard, io.Discard)
			}
			select {
			case <-time.After(st.cancelWait()):
				abandon()
			case <-finished:
			}
		case <-finished:
		}
	}()
	var errb strings.Builder
	cw := &capWriter{w: pw, limit: applyCap(b), over: abandon}
	code, err := st.R.Run(runCtx, t, remoteShell, strings.NewReader(text), cw, &capWriter{w: &errb, limit: 4 << 10})
	close(finished)
	pw.Close()
	perr := <-parsed
	if cw.tooLarge() {
		return res, fmt.Errorf("apply on %s: %w of %d bytes; the step was ended (the host finishes its entries on its own; re-plan to see where it stands)", t.display(), errReplyTooLarge, applyCap(b))
	}
	if perr != nil {
		return res, perr
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%w (the host did not confirm where it stopped)", ctx.Err())
		}
		return res, err
	}
	if code != 0 || !sawEnd {
		return res, fmt.Errorf("apply on %s ended without a result (exit %d): %s", t.display(), code, cleanText(trunc(strings.TrimSpace(errb.String()), 300)))
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// readApplyReply reads an apply's reply into res, calling report for each
// entry result as it arrives. end reports whether the program said it
// finished (END, STALE or BUSY).
func readApplyReply(r io.Reader, t Target, b *Bundle, res *ApplyResult, report func(EntryReport)) (end bool, perr error) {
	rr := newReplyReader(r, MaxReplyLine, len(b.ExpectPaths))
	var usage *Usage // an M line waiting for its R line
	var usageSeq uint64
	for {
		l, err := rr.next()
		if err == io.EOF {
			return end, perr
		}
		if err != nil {
			if perr == nil {
				perr = fmt.Errorf("apply on %s: %w", t.display(), err)
			}
			if errors.Is(err, errCutLine) {
				return end, perr
			}
			continue
		}
		if end && perr == nil {
			perr = fmt.Errorf("apply on %s: reply goes on after its end", t.display())
		}
		switch l.Tag {
		case tagUsage:
			if usage != nil && perr == nil {
				perr = fmt.Errorf("apply on %s: reply line %d: two usage lines before one result", t.display(), rr.n)
			}
			u := l.Usage
			usage, usageSeq = &u, l.Seq
		case tagResult:
			e := EntryReport{Seq: l.Seq, Result: l.Result, ExitCode: l.Code, Duration: time.Duration(l.CS) * 10 * time.Millisecond, Output: string(l.Data)}
			if usage != nil {
				if usageSeq == l.Seq {
					e.Usage = usage
				} else if perr == nil {
					perr = fmt.Errorf("apply on %s: reply line %d: usage of entry %d before the result of %d", t.display(), rr.n, usageSeq, l.Seq)
				}
				usage = nil
			}
			res.Entries = append(res.Entries, e)
			if report != nil {
				report(e)
			}
		case tagStale:
			res.Stale, end = staleReason(l, b), true
		case tagBusy:
			perr, end = fmt.Errorf("another push is running on %s (pid %s); try again when it ends", t.display(), l.Text), true
		case tagArmed:
			res.Armed = true
		case tagEnd:
			if l.HasPos {
				res.Position, res.Hash = l.Pos, l.Hash
			}
			end = true
		default:
			if perr == nil {
				perr = fmt.Errorf("apply on %s: reply line %d: %s does not belong in an apply reply", t.display(), rr.n, l.Tag)
			}
		}
	}
}

func (st *Steps) cancelWait() time.Duration {
	if st.CancelWait > 0 {
		return st.CancelWait
	}
	return 5 * time.Minute
}

func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package kinds

import (
	"fmt"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/diff"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/textsafe"
)

// sandboxChange fills an exec entry's change from its sandbox report,
// and moves the simulated host on by what the command changed there.
func sandboxChange(c *Change, e journal.Entry, rep *remote.ExecReport, h *Host) {
	var why []string
	if e.Guard.Creates != "" {
		if rep.Guard == "creates" {
			why = append(why, "present in the sandbox")
		} else {
			why = append(why, "absent in the sandbox")
		}
	}
	if e.Guard.Unless != "" {
		switch rep.Guard {
		case "unless":
			why = append(why, fmt.Sprintf("exits %d in the sandbox", rep.UnlessCode))
		case "creates":
			why = append(why, "not evaluated (skipped by --creates)")
		default:
			why = append(why, "not evaluated")
		}
	}
	if !e.Guard.Empty() {
		c.Guard = e.Guard.String() + ": " + strings.Join(why, ", ")
	}
	if !rep.Ran && rep.Cap == remote.CapNone {
		c.Effect = EffectSkip
		return
	}
	c.Sandboxed = true
	c.ExitCode, c.Output = rep.ExitCode, SafeText(hostOutput(rep.Output, rep.OutputSize), true)
	if rep.ExitCode != 0 || rep.Cap != remote.CapNone {
		c.Effect = EffectFail
	}
	if rep.Cap != remote.CapNone {
		c.Cap = string(rep.Cap)
		c.Err = CapText(rep.Cap, Caps{Timeout: h.NoopTimeout, Space: h.NoopSpace, Output: h.NoopOutput, Procs: h.NoopProcs})
	}
	if h.known == nil {
		h.known = map[string]bool{}
	}
	for _, fe := range rep.Effects {
		cur := h.Path(fe.Path)
		if !h.knows(fe.Path) {
			// The host's own file: its state from the lower layer.
			*cur = fromSandbox(fe.Before)
		}
		if !fe.Seen && !h.bound(fe.Path) {
			// The binding to push: a push refuses the host as stale if a
			// path this command changes is no longer as it was.
			h.Bound = append(h.Bound, BoundPath{Path: fe.Path, State: fe.Before})
		}
		after := Path{}
		if !fe.Deleted {
			after = fromSandbox(fe.After)
		}
		if fc, ok := fileEffect(fe.Path, cur, &after); ok {
			// Everything here came from the host: no byte of it may reach
			// a terminal as a control sequence.
			fc.Path, fc.OldTarget, fc.NewTarget = SafeText(fc.Path, false), SafeText(fc.OldTarget, false), SafeText(fc.NewTarget, false)
			fc.Diff = SafeText(fc.Diff, true)
			c.Files = append(c.Files, fc)
		}
		*cur = after
		h.known[fe.Path] = true
	}
	if rep.Truncated {
		c.Note = "more paths changed than the report carries; the list is cut"
	}
}

func (h *Host) bound(p string) bool {
	for _, b := range h.Bound {
		if b.Path == p {
			return true
		}
	}
	return false
}

func fromSandbox(st remote.FileState) Path {
	p := Path{Exists: st.Exists, Type: st.Type, Hash: st.Hash, Size: st.Size, Mode: st.Mode, Owner: st.Owner, Group: st.Group, Target: st.Target}
	if st.Content != nil {
		p.Content, p.Known = st.Content, true
	}
	return p
}

// fileEffect describes the change of one path from before to after, or
// reports none (a directory the overlay only copied up).
func fileEffect(path string, before, after *Path) (FileChange, bool) {
	fc := FileChange{Path: path, Type: after.Type}
	if before.Exists {
		fc.OldMode, fc.OldOwner, fc.OldHash, fc.OldTarget = fmt.Sprintf("%04o", before.Mode), before.Owner+":"+before.Group, before.Hash, before.Target
	}
	if after.Exists {
		fc.NewMode, fc.NewOwner, fc.NewHash, fc.NewTarget = fmt.Sprintf("%04o", after.Mode), after.Owner+":"+after.Group, after.Hash, after.Target
	}
	sameContent := before.Hash == after.Hash && (after.Type != "file" || before.Hash != "")
	switch {
	case !before.Exists && !after.Exists:
		return fc, false
	case !after.Exists:
		fc.Effect, fc.Type = EffectDelete, before.Type
	case !before.Exists:
		fc.Effect = EffectCreate
	case before.Type == after.Type && before.Mode == after.Mode && before.Owner == after.Owner && before.Group == after.Group &&
		sameContent && before.Target == after.Target:
		return fc, false
	default:
		fc.Effect = EffectModify
	}
	if after.Type != "file" && !(fc.Effect == EffectDelete && before.Type == "file") {
		return fc, true
	}
	if fc.Effect == EffectModify && sameContent && before.Type == after.Type {
		return fc, true // mode or owner only
	}
	oldText, newText, oldOK, newOK := "", "", true, true
	if before.Exists && before.Type == "file" {
		oldText, oldOK = string(before.Content), before.Known && !diff.IsBinary(before.Content)
	}
	if after.Exists {
		newText, newOK = string(after.Content), after.Known && !diff.IsBinary(after.Content)
	}
	if !oldOK || !newOK {
		fc.Binary = true
		return fc, true
	}
	from, to := "a"+path, "b"+path
	if !before.Exists || before.Type != "file" {
		from = "/dev/null"
	}
	if !after.Exists {
		to = "/dev/null"
	}
	fc.Diff = diff.Unified(from, to, oldText, newText)
	return fc, true
}

// hostOutput is an entry's output as the plan shows it: what the host
// sent (already capped), with a note when there was more.
func hostOutput(b []byte, size int64) string {
	s := string(b)
	if size > int64(len(b)) {
		s += fmt.Sprintf("\n… (%d bytes in all)", size)
	}
	return s
}

// Caps are a sandbox's limits as the plan was made with them; zero
// values are the defaults.
type Caps struct {
	Timeout time.Duration
	Space   int64
	Output  int64
	Procs   int
}

// CapText names a sandbox cap the way the plan says it, with the option
// that sets it.
func CapText(c remote.Cap, caps Caps) string {
	if caps.Timeout <= 0 {
		caps.Timeout = remote.DefaultNoopTimeout
	}
	if caps.Space <= 0 {
		caps.Space = remote.DefaultUpperCap
	}
	if caps.Output <= 0 {
		caps.Output = remote.DefaultOutputCap
	}
	if caps.Procs <= 0 {
		caps.Procs = remote.DefaultMaxProcs
	}
	switch c {
	case remote.CapTime:
		return fmt.Sprintf("stopped at the time limit (--noop-timeout %v)", caps.Timeout)
	case remote.CapProcs:
		return fmt.Sprintf("stopped at the process limit (--noop-procs %d processes at once)", caps.Procs)
	case remote.CapSpace:
		return fmt.Sprintf("stopped: it filled the sandbox's %s for changes (--noop-space)", sizeText(caps.Space))
	case remote.CapOutput:
		return fmt.Sprintf("stopped at the output limit (--noop-output %s)", sizeText(caps.Output))
	}
	return ""
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// SafeText escapes host text (engine/textsafe): Text keeps newlines and
// tabs, for output and diffs; Line escapes them too, for names.
func SafeText(s string, multiline bool) string {
	if multiline {
		return textsafe.Text(s)
	}
	return textsafe.Line(s)
}

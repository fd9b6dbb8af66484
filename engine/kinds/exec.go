package kinds

import (
	"errors"
	"fmt"
	"strings"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
)

// execKind runs a shell command on each host, optionally guarded. The
// command and its guard see the host's classification variables as
// environment variables, as ISconf's do.
type execKind struct{}

func init() { Register(execKind{}) }

func (execKind) Name() journal.Kind { return journal.KindExec }

func (execKind) Spec() Spec {
	return Spec{Verb: "exec", Help: "stage a shell command (it sees the host's variables as $NAME)",
		Flags: []Flag{
			{Name: "creates", Value: "PATH", Help: "skip when PATH exists on the host"},
			{Name: "unless", Value: "CMD", Help: "skip when CMD exits 0 on the host (a plan runs it only in the sandbox)"},
		}, MaxArgs: -1, Rest: true}
}

func (execKind) Request(in Input) (Request, error) {
	if len(in.Args) == 0 {
		return Request{}, errors.New("exec needs a command: exec -- COMMAND…")
	}
	g := journal.Guard{Creates: in.Flags["creates"], Unless: in.Flags["unless"]}
	if g.Creates != "" {
		if err := journal.ValidTargetPath(g.Creates); err != nil {
			return Request{}, fmt.Errorf("--creates %q: %w", g.Creates, err)
		}
	}
	return Request{Kind: journal.KindExec, Command: strings.Join(in.Args, " "), Guard: g}, nil
}

func (execKind) Stage(req Request) (journal.Entry, error) {
	e := journal.Entry{Kind: journal.KindExec, Command: strings.TrimSpace(req.Command),
		Guard: journal.Guard{Creates: req.Guard.Creates, Unless: strings.TrimSpace(req.Guard.Unless)}}
	if e.Command == "" {
		return e, errors.New("exec needs a command: exec -- COMMAND…")
	}
	if err := checkText("the command", e.Command); err != nil {
		return e, err
	}
	if e.Guard.Creates != "" {
		if err := journal.ValidTargetPath(e.Guard.Creates); err != nil {
			return e, fmt.Errorf("--creates: %w", err)
		}
	}
	if err := checkText("the --unless command", e.Guard.Unless); err != nil {
		return e, err
	}
	return e, nil
}

func (execKind) Check(e journal.Entry) error {
	if strings.TrimSpace(e.Command) == "" {
		return errors.New("exec entry has an empty command")
	}
	if e.Guard.Creates != "" {
		if err := journal.ValidTargetPath(e.Guard.Creates); err != nil {
			return fmt.Errorf("guard: %w", err)
		}
	}
	return nil
}

func (execKind) Content() ContentUse { return ContentNone }

func (execKind) Render(_ journal.Entry, src []byte, _ map[string]string) ([]byte, error) {
	return src, nil
}

func (execKind) Needs(e journal.Entry) Needs {
	var n Needs
	if e.Guard.Creates != "" {
		n.Paths = []string{e.Guard.Creates}
	}
	return n
}

func (execKind) Fetch(journal.Entry, []byte, remote.PathInfo) bool { return false }

// Simulate takes the command's effect from the host's sandbox report:
// what it changed there, file by file, its guards as they evaluated
// inside. Without a sandbox it is "would run (not simulated: why)", with
// --creates by the probe's stat and --unless not run anywhere.
func (execKind) Simulate(e journal.Entry, _ []byte, h *Host) Change {
	c := Change{Command: e.Command, Effect: EffectRun}
	if h.Sandbox != nil {
		if rep, ok := h.Sandbox.Exec(e.Seq); ok {
			sandboxChange(&c, e, rep, h)
			return c
		}
		c.NotSimulated = "not reached in the sandbox: an earlier entry fails there, and a push stops at it"
		if st := h.Sandbox.Stopped; st != 0 && e.Seq >= st {
			c.NotSimulated = fmt.Sprintf("%s: the sandbox stopped before seq %d; review this command by hand or try it on a test host", h.Sandbox.StopReason, st)
		} else if h.Sandbox.FileFailed != 0 {
			c.NotSimulated = fmt.Sprintf("not reached in the sandbox: seq %d fails there (%s), and a push stops at it", h.Sandbox.FileFailed, h.Sandbox.FileOutput)
		}
	} else {
		c.NotSimulated = h.NotSimulated
	}
	var why []string
	if g := e.Guard.Creates; g != "" {
		if h.Path(g).Exists {
			c.Effect = EffectSkip
			why = append(why, "present now")
		} else {
			why = append(why, "absent now")
		}
	}
	if e.Guard.Unless != "" {
		// Never outside a sandbox: a guard is a command too.
		why = append(why, "not evaluated")
	}
	if !e.Guard.Empty() {
		c.Guard = e.Guard.String() + ": " + strings.Join(why, ", ")
	}
	return c
}

func (execKind) Op(e journal.Entry, _ []byte) remote.BundleEntry {
	return remote.BundleEntry{Op: remote.OpExec, Command: e.Command, Creates: e.Guard.Creates, Unless: e.Guard.Unless}
}

func (execKind) Summary(e journal.Entry) string {
	if !e.Guard.Empty() {
		return e.Command + " (" + e.Guard.String() + ")"
	}
	return e.Command
}

func (execKind) Details(journal.Entry) string { return "" }

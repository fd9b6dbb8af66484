package remote

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// sandboxFiles make the sandbox program.
var sandboxFiles = []string{"sandbox.sh", "sandbox_report.sh", "sandbox_trust.sh"}

// sandboxCommand is the SSH command of a session with a sandbox: the
// program (on stdin) starts inside fresh mount, network, UTS, IPC and PID
// namespaces, so nothing it mounts is visible to the host and every
// process it starts dies with it (--kill-child: also when the session is
// cut). When unshare refuses (not root, no namespaces, no unshare) it has
// read nothing: a plain shell runs the program, told why (DT_NOSB), so the
// probe still answers and the sandbox says it cannot.
const sandboxCommand = "unshare --mount --net --uts --ipc --pid --fork --propagation private --kill-child /bin/sh -s || { DT_NOSB=$?; export DT_NOSB; exec /bin/sh -s; }"

// Sandbox defaults; see SandboxRequest.
const (
	DefaultNoopTimeout = 60 * time.Second
	DefaultUpperCap    = 256 << 20
	DefaultOutputCap   = 1 << 20
	DefaultMaxProcs    = 512
	// OutputShown is how much of an entry's output the reply carries.
	OutputShown = 8 << 10
	// ContentMax is the largest file whose content a report carries (for
	// diffs); larger files come as sha256.
	ContentMax = 1 << 20
	// ReportMax caps one entry's report of changed paths.
	ReportMax = 16 << 20
	// inlineMax and inlineTotal bound the text that travels as arguments
	// of one file step.
	inlineMax   = 64 << 10
	inlineTotal = 1 << 20
)

// SandboxEntry is one pending entry to carry out in the sandbox: a file
// (or rendered template) to place, or a command with its guards.
type SandboxEntry struct {
	Seq     uint64
	Kind    string // "file" (also rendered templates), "remove" or "exec"
	Path    string
	Content []byte
	Mode    uint32
	Owner   string // "": root
	Group   string // "": root
	Command string
	Creates string
	Unless  string
}

// SandboxRequest asks a host to carry out entries, in order, in one
// throwaway copy-on-write view of itself, and to report what each exec
// entry changed. Entries after the last exec need not be sent: their
// effect is predicted from the reports.
type SandboxRequest struct {
	Entries []SandboxEntry
	// Env is exported to every exec entry and guard, as a push exports
	// the host's classification variables.
	Env map[string]string
	// Timeout bounds each entry (default DefaultNoopTimeout).
	Timeout time.Duration
	// UpperCap bounds what the upper layers may hold in total, in bytes
	// (default DefaultUpperCap).
	UpperCap int64
	// OutputCap bounds an entry's output, in bytes (default DefaultOutputCap).
	OutputCap int64
	// MaxProcs bounds the processes alive in the sandbox at once
	// (default DefaultMaxProcs).
	MaxProcs int
}

// FileState is a path as the sandbox saw it before or after an entry.
type FileState struct {
	Exists bool
	Type   string // file, dir, symlink, other
	Mode   uint32 // permission bits
	Owner  string
	Group  string
	Size   int64
	Hash   string // sha256 of a regular file, when known
	Target string // of a symlink
	// Content of a regular file up to ContentMax; nil when not carried.
	Content []byte
}

// FileEffect is one path an exec entry changed in the sandbox. Before is
// the host's own file (the lower layer) unless Seen: then an earlier
// entry of the same sandbox had touched the path, and Before is what that
// entry left there.
type FileEffect struct {
	Path     string
	Seen     bool
	Deleted  bool // a whiteout: the entry removed the path
	Before   FileState
	After    FileState
	Complete bool // false: the report was cut at ReportMax before this path's content
}

// Cap names a limit an entry hit in the sandbox.
type Cap string

// The sandbox's caps.
const (
	CapNone   Cap = ""
	CapTime   Cap = "time"
	CapProcs  Cap = "procs"
	CapSpace  Cap = "space"
	CapOutput Cap = "output"
)

// ExecReport is what one exec entry did in the sandbox.
type ExecReport struct {
	Seq uint64
	// Guard: "" (none evaluated), "creates" (the path exists: skipped),
	// "unless" (its guard ran; UnlessCode is its status).
	Ran        bool // the command itself ran (no guard skipped it)
	Guard      string
	UnlessCode int
	ExitCode   int
	Cap        Cap
	Output     []byte // the first OutputShown bytes
	OutputSize int64
	Effects    []FileEffect
	Truncated  bool // more paths changed than the report carries
}

// SandboxResult is the sandbox step's answer.
type SandboxResult struct {
	// Unavailable is set when the host cannot sandbox: the reason and
	// what to do. Nothing ran.
	Unavailable string
	// FileFailed is the seq of a file entry that could not be placed (the
	// sandbox stopped there, as the push would), with its output.
	FileFailed uint64
	FileOutput string
	Execs      []ExecReport
	// Stopped is the seq from which nothing more was carried out because
	// an earlier entry changed what the sandbox itself runs with
	// privileges (StopReason says what): those commands are not simulated.
	Stopped    uint64
	StopReason string
	Skipped    []string // mount points not overlaid (names needing escapes)
	// Refused is unshare's exit status when it refused the namespaces
	// (the reason is on the session's stderr); 0 otherwise.
	Refused int
}

// Exec returns the report of seq, if the sandbox got that far.
func (r *SandboxResult) Exec(seq uint64) (*ExecReport, bool) {
	for i := range r.Execs {
		if r.Execs[i].Seq == seq {
			return &r.Execs[i], true
		}
	}
	return nil, false
}

// sandboxScript is the program for one request: sandbox.sh, then calls
// of its functions whose every argument is one single-quoted word.
func sandboxScript(req SandboxRequest) (string, error) {
	p := newProgram(sandboxFiles)
	if err := sandboxCalls(p, req); err != nil {
		return "", err
	}
	return p.text()
}

// sandboxCalls appends the calls that carry out req to p.
func sandboxCalls(p *program, req SandboxRequest) error {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultNoopTimeout
	}
	secs := int64((timeout + time.Second - 1) / time.Second)
	upper, out, procs := req.UpperCap, req.OutputCap, req.MaxProcs
	if upper <= 0 {
		upper = DefaultUpperCap
	}
	if out <= 0 {
		out = DefaultOutputCap
	}
	if procs <= 0 {
		procs = DefaultMaxProcs
	}
	env, err := envArgs(req.Env)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	p.call("sb_config", n(upper), n(out), n(secs), n(int64(procs)), n(OutputShown), n(ContentMax), n(ReportMax))
	// Every layer is mounted at the start: the file entries before the
	// first command, then one per command.
	layers := []string{"f"}
	for _, e := range req.Entries {
		if e.Kind == "exec" {
			layers = append(layers, "e")
		}
	}
	// The directories of the text files placed before the first command,
	// for setup to make those the host lacks in the same mount process.
	var dirs []string
	seen := map[string]bool{}
	for _, e := range req.Entries {
		if e.Kind == "exec" {
			break
		}
		if d := path.Dir(e.Path); e.Kind == "file" && d != "/" && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	if len(dirs) > 0 {
		p.call("sb_dirs", dirs...)
	}
	// The only command, the first entry, with a --creates guard: a push
	// decides it by a plain stat of the host, before anything else runs,
	// so the host decides it here the same way before a sandbox is made.
	// When the path is there, nothing is mounted and nothing runs.
	if first := req.Entries; len(layers) == 2 && first[0].Kind == "exec" && strings.HasPrefix(first[0].Creates, "/") {
		p.call("sb_created", itoa(first[0].Seq), first[0].Creates)
	}
	p.call("sb_setup", layers...)
	// Text up to inlineMax travels inside the file step's arguments (the
	// kernel bounds one argument at 128 KiB, all of them at a few MiB);
	// other content is staged before anything runs, so nothing an entry
	// does can redirect where it lands.
	inline := map[int]bool{}
	budget := inlineTotal
	for i, e := range req.Entries {
		if e.Kind != "file" {
			continue
		}
		if len(e.Content) <= inlineMax && len(e.Content) <= budget && shellText(e.Content) {
			inline[i] = true
			budget -= len(e.Content)
			continue
		}
		p.call("sb_stage", strconv.Itoa(i), "b64", base64.StdEncoding.EncodeToString(e.Content))
	}
	var files []string
	var first uint64
	flush := func() {
		if len(files) > 0 {
			p.call("sb_files", append([]string{itoa(first)}, files...)...)
			files = nil
		}
	}
	for i, e := range req.Entries {
		switch e.Kind {
		case "file":
			if len(files) == 0 {
				first = e.Seq
			}
			owner, group := e.Owner, e.Group
			if owner == "" {
				owner = "root"
			}
			if group == "" {
				group = "root"
			}
			mode := fmt.Sprintf("%o", e.Mode)
			if !inline[i] {
				files = append(files, "f", e.Path, mode, owner, group, "022", strconv.Itoa(i))
				break
			}
			umask := "077"
			if e.Mode&^0o666 == 0 {
				umask, mode = fmt.Sprintf("%03o", 0o777&^e.Mode), "" // printf creates it with the mode
			}
			if owner == "root" && group == "root" {
				owner, group = "", ""
			}
			files = append(files, "t", e.Path, mode, owner, group, umask, string(e.Content))
		case "remove":
			if len(files) == 0 {
				first = e.Seq
			}
			files = append(files, "-", e.Path, "", "", "", "022", "")
		case "exec":
			flush()
			args := append([]string{itoa(e.Seq)}, env...)
			p.call("sb_exec", append(args, e.Creates, e.Unless, e.Command)...)
		default:
			return fmt.Errorf("sandbox: entry %d: kind %q cannot run in the sandbox", e.Seq, e.Kind)
		}
	}
	flush()
	p.call("sb_end")
	return nil
}

// Sandbox is one round trip: the host's pending entries carried out in a
// copy-on-write sandbox of it, and what each exec entry changed there.
// A host that cannot sandbox is not an error: Unavailable says why.
func (st *Steps) Sandbox(ctx context.Context, t Target, req SandboxRequest) (*SandboxResult, error) {
	prog, err := sandboxScript(req)
	if err != nil {
		return nil, err
	}
	var out, errb bytes.Buffer
	code, err := st.R.Run(ctx, t, sandboxCommand, strings.NewReader(prog), &capped{w: &out, n: sandboxReplyMax(req)}, &capped{w: &errb, n: 64 << 10})
	if ctx.Err() != nil {
		return nil, fmt.Errorf("sandbox on %s: %w", t.display(), ctx.Err())
	}
	if err != nil && code < 0 {
		return nil, err
	}
	res, perr := ParseSandbox(out.Bytes())
	if perr != nil {
		return nil, fmt.Errorf("sandbox on %s: %w", t.display(), perr)
	}
	refused(res, errb.String())
	return res, nil
}

// refused turns unshare's refusal into the plan's words.
func refused(res *SandboxResult, stderr string) {
	if res.Refused != 0 {
		res.Unavailable = unavailableReason(res.Refused, strings.TrimSpace(stderr))
	}
}

func sandboxReplyMax(req SandboxRequest) int {
	n := 1 << 20
	for _, e := range req.Entries {
		if e.Kind == "exec" {
			n += ReportMax*4/3 + OutputShown*2 + 1024
		}
	}
	return n
}

// unavailableReason turns unshare's failure into the plan's words.
func unavailableReason(code int, stderr string) string {
	msg := trunc(cleanText(stderr), 200)
	switch {
	case code == 127 || strings.Contains(stderr, "not found"):
		return "util-linux unshare is missing (" + msg + "); install util-linux on the host"
	case strings.Contains(stderr, "Operation not permitted") || strings.Contains(stderr, "Permission denied"):
		return "the login user may not create namespaces (" + msg + "); the sandbox needs a root login: add the host as root@ADDRESS"
	}
	return fmt.Sprintf("unshare failed (exit %d: %s)", code, msg)
}

// capped keeps the first n bytes written to it and drops the rest, so a
// host cannot make the console hold an unbounded reply.
type capped struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (c *capped) Write(p []byte) (int, error) {
	if c.n > 0 {
		k := min(len(p), c.n)
		c.w.Write(p[:k])
		c.n -= k
	}
	return len(p), nil
}

package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var prepareFiles = []string{"prepare.sh"}

// anyPaths lets a collected reply name any path index: the controller
// reads it without the plan's bundle at hand.
var anyPaths = &Bundle{ExpectPaths: make([]PathInfo, 1<<16)}

// planIDRe is what a plan id looks like: it names files on the host.
var planIDRe = regexp.MustCompile(`^p[0-9a-f]{8}$`)

// Prepared is one prepared plan a host holds, as collect finds it.
type Prepared struct {
	PlanID string
	State  string       // done (applied or refused at its window), waiting, lost (the waiter is gone: rebooted?)
	Result *ApplyResult // done: what the apply program reported
	At     time.Time    // done: when the host began applying, by its clock (zero if it did not say)
	Err    string       // done but its reply is malformed
}

// Armed is how a host waits for a prepared plan's window.
type Armed struct {
	Timer bool // a systemd timer, as unit files the host keeps (systemd is its PID 1)
	Pid   int  // else the detached waiter's pid on the host
}

func (a Armed) String() string {
	if a.Timer {
		return "systemd timer"
	}
	return fmt.Sprintf("detached waiter, pid %d", a.Pid)
}

// Prepare stores the bundle's apply program — exactly what a live push
// would run, its fingerprint checks first — on the host under
// STATEDIR/prepared, verified there by its sha256, and arms a detached
// waiter that runs it at start by the host's clock — a systemd
// timer where systemd is PID 1, else a detached waiter process. It returns
// how the host was armed and the bytes sent.
func (st *Steps) Prepare(ctx context.Context, t Target, b *Bundle, planID string, start time.Time) (armed Armed, sent int64, err error) {
	if !planIDRe.MatchString(planID) {
		return Armed{}, 0, fmt.Errorf("prepare on %s: %q is not a plan id", t.display(), planID)
	}
	prog, err := applyProgram(b, randomToken())
	if err != nil {
		return Armed{}, 0, fmt.Errorf("prepare on %s: %w", t.display(), err)
	}
	sum := sha256.Sum256([]byte(prog))
	p := newProgram(prepareFiles)
	p.call("prepare", strings.TrimRight(b.StateDir, "/"), planID, hex.EncodeToString(sum[:]), strconv.FormatInt(start.Unix(), 10), start.UTC().Format("2006-01-02 15:04:05 UTC"), prog)
	text, err := p.text()
	if err != nil {
		return Armed{}, 0, fmt.Errorf("prepare on %s: %w", t.display(), err)
	}
	out, err := st.run(ctx, t, "prepare", text, 1<<10)
	sent = int64(len(text))
	if err != nil {
		return Armed{}, sent, err
	}
	line := strings.TrimSpace(string(out))
	if line == "PREPARED timer" {
		return Armed{Timer: true}, sent, nil
	}
	if rest, ok := strings.CutPrefix(line, "PREPARED ok "); ok {
		if n, err := strconv.Atoi(rest); err == nil && n > 0 {
			return Armed{Pid: n}, sent, nil
		}
	}
	if rest, ok := strings.CutPrefix(line, "PREPARED fail "); ok && len(rest) < 16 {
		return Armed{}, sent, fmt.Errorf("prepare on %s failed: %s", t.display(), cleanText(rest))
	}
	return Armed{}, sent, fmt.Errorf("prepare on %s: unexpected reply %s", t.display(), cleanText(trunc(line, 60)))
}

// Collect reads every plan prepared on the host and what each waiter
// recorded. b gives the stale codes' paths (may be empty).
func (st *Steps) Collect(ctx context.Context, t Target, stateDir string) ([]Prepared, error) {
	p := newProgram(prepareFiles)
	p.call("collect", strings.TrimRight(stateDir, "/"))
	text, err := p.text()
	if err != nil {
		return nil, err
	}
	out, err := st.run(ctx, t, "collect", text, 16<<20)
	if err != nil {
		return nil, err
	}
	return parseCollect(out, t)
}

// parseCollect splits collect's reply into its plans and parses each
// recorded reply with the apply reply's parser (same caps).
func parseCollect(out []byte, t Target) ([]Prepared, error) {
	var res []Prepared
	lines := bytes.SplitAfter(out, []byte("\n"))
	ended := false
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSuffix(string(lines[i]), "\n")
		if l == "" {
			continue
		}
		if l == "END" {
			ended = true
			break
		}
		f := strings.Fields(l)
		var at int64
		if len(f) == 4 && f[2] == "done" {
			n, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("collect on %s: malformed line %s", t.display(), cleanText(trunc(l, 60)))
			}
			at, f = n, f[:3]
		}
		if len(f) != 3 || f[0] != "P" || !planIDRe.MatchString(f[1]) || (f[2] != "done" && f[2] != "waiting" && f[2] != "lost") {
			return nil, fmt.Errorf("collect on %s: malformed line %s", t.display(), cleanText(trunc(l, 60)))
		}
		pr := Prepared{PlanID: f[1], State: f[2]}
		if at > 0 {
			pr.At = time.Unix(at, 0)
		}
		var body []byte
		for i++; i < len(lines) && strings.TrimSuffix(string(lines[i]), "\n") != "P-END"; i++ {
			body = append(body, lines[i]...)
		}
		if pr.State == "done" {
			ar := &ApplyResult{}
			if _, err := readApplyReply(bytes.NewReader(body), t, anyPaths, ar, nil); err != nil {
				pr.Err = err.Error()
			}
			pr.Result = ar
		}
		res = append(res, pr)
		if len(res) > 1000 {
			return nil, fmt.Errorf("collect on %s: more than 1000 prepared plans", t.display())
		}
	}
	if !ended {
		return res, fmt.Errorf("collect on %s: reply ended early", t.display())
	}
	return res, nil
}

// Forget removes a prepared plan from the host (collected or cancelled),
// stopping its waiter if it still waits.
func (st *Steps) Forget(ctx context.Context, t Target, stateDir, planID string) error {
	if !planIDRe.MatchString(planID) {
		return fmt.Errorf("%q is not a plan id", planID)
	}
	p := newProgram(prepareFiles)
	p.call("forget", strings.TrimRight(stateDir, "/"), planID)
	text, err := p.text()
	if err != nil {
		return err
	}
	out, err := st.run(ctx, t, "forget", text, 1<<10)
	if err == nil && strings.TrimSpace(string(out)) != "END" {
		err = fmt.Errorf("forget on %s: unexpected reply", t.display())
	}
	return err
}

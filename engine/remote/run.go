package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Run runs cmd with the remote user's shell on t, feeding stdin (nil: empty)
// and copying the command's output to stdout and stderr (nil: discarded).
// One call is one SSH session, i.e. one round trip on a pooled connection.
//
// exitCode is the command's exit status (128+n when killed by signal n), or
// -1 when there is none. err is nil when the command ran and exited 0, an
// *ssh.ExitError (from x/crypto) for a non-zero status, an
// *UnreachableError, *HostKeyError or *AuthError when no connection could be
// made, or another error when the connection broke.
//
// When ctx is cancelled while the command runs, the command gets SIGTERM
// and up to CancelGrace to exit before the session is closed; the error
// then wraps ctx.Err(), and exitCode is the status it exited with, if any.
func (c *Client) Run(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	r := c.resolve(t)
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("%s: not started: %w", r.display, err)
	}
	sess, entry, release, err := c.session(ctx, r)
	if err != nil {
		return -1, err
	}
	defer release()
	c.counters(r.key).sessions.Add(1)
	sess.Stdin = stdin
	sess.Stdout = stdout
	sess.Stderr = stderr
	// OpenSSH refuses "signal" requests for root sessions (see
	// signalByKill): the command reports its process group on stderr
	// first, and a cancel kills that group from a second session.
	var pg *pgidFilter
	if signalByKill(r) {
		pg = newPgidFilter(stderr)
		sess.Stderr = pg
		cmd = pgidPrologue + cmd
		defer pg.flush()
	}
	if err := sess.Start(cmd); err != nil {
		sess.Close()
		return -1, fmt.Errorf("%s: cannot start command: %w", r.display, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	select {
	case err := <-done:
		sess.Close()
		if lost := entry.lost.Load(); err != nil && lost != nil {
			return -1, fmt.Errorf("%s: connection lost while the command ran (it may or may not have completed): %w", r.display, *lost)
		}
		return exitStatus(r, err)
	case <-ctx.Done():
	}

	// Cancelled: ask the command to stop, give it time to finish its step.
	if pg != nil {
		// The marker is the command's first output; right after Start it
		// may not have arrived yet.
		select {
		case <-pg.ready:
		case <-time.After(min(c.opts.CancelGrace, 2*time.Second)):
		}
		if pgid := pg.pgid(); pgid > 0 {
			c.killGroup(r, entry, pgid)
		}
	} else {
		_ = sess.Signal(ssh.SIGTERM)
	}
	grace := time.NewTimer(c.opts.CancelGrace)
	defer grace.Stop()
	var werr error
	finished := true
	select {
	case werr = <-done:
	case <-grace.C:
		finished = false
		sess.Close()
		select {
		case werr = <-done:
		case <-time.After(2 * time.Second):
			// The host does not even acknowledge the close: treat the
			// connection as dead so Wait (and the output copies) end.
			c.drop(r.key, entry)
			werr = <-done
		}
	}
	sess.Close()
	code, _ := exitStatus(r, werr)
	if finished && code >= 0 {
		return code, fmt.Errorf("%s: command interrupted (SIGTERM), exited with status %d: %w", r.display, code, ctx.Err())
	}
	return code, fmt.Errorf("%s: command interrupted; it did not exit within %v of SIGTERM, session closed: %w",
		r.display, c.opts.CancelGrace, ctx.Err())
}

// signalByKill reports whether a cancel must deliver SIGTERM by running
// kill in a second session instead of with a "signal" channel request.
// OpenSSH (checked: 9.2) skips its post-authentication privilege separation
// for uid 0 and then refuses every signal request on the session
// ("session_signal_req: session signalling requires privilege separation"),
// so for root the request is a silent no-op. Closing the session does not
// stop the command either (no pty, no SIGHUP): it runs on to completion.
// The remote user is taken to be uid 0 when it is named root.
func signalByKill(r route) bool { return r.t.User == "root" }

// pgidMarker starts the line with which a command reports its process
// group: sshd makes the command a session leader (setsid), so the login
// shell's $$ is the group that OpenSSH's own signal delivery (killpg) would
// reach.
const (
	pgidMarker   = "\x1ediscoterm-pgid="
	pgidPrologue = `printf '\036discoterm-pgid=%s\n' "$$" >&2; `
)

// killGroup sends SIGTERM to process group pgid on the host from a new
// session on the same connection. Best effort, bounded by ConnectTimeout;
// it does not take one of the MaxSessions slots.
func (c *Client) killGroup(r route, e *poolEntry, pgid int) {
	ctx, cancel := context.WithTimeout(c.base, c.opts.ConnectTimeout)
	defer cancel()
	s, err := c.newSession(ctx, e)
	if err != nil {
		return
	}
	defer s.Close()
	c.counters(r.key).sessions.Add(1)
	if pgid <= 1 {
		return // never "kill -- -1" (every process) or "-0" (our own group)
	}
	// "kill -s SIG -- -PGID" is the form both dash and bash accept (dash
	// rejects "kill -TERM -- -PGID"). If it is not a group (a server that
	// does not setsid), signal the process.
	cmd := fmt.Sprintf("kill -s TERM -- -%d 2>/dev/null || kill -s TERM %d", pgid, pgid)
	done := make(chan struct{})
	go func() { s.Run(cmd); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// pgidFilter passes stderr through, except for the marker line with the
// process group, which it takes out. It only looks at the first
// pgidScanLimit bytes (something else may print first, e.g. a login
// script).
type pgidFilter struct {
	w     io.Writer
	ready chan struct{} // closed when the marker was seen or given up on
	mu    sync.Mutex
	buf   []byte
	seen  int
	done  bool
	id    int
}

const pgidScanLimit = 4096

func newPgidFilter(w io.Writer) *pgidFilter {
	if w == nil {
		w = io.Discard
	}
	return &pgidFilter{w: w, ready: make(chan struct{})}
}

func (f *pgidFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return f.w.Write(p)
	}
	defer func() {
		if f.done {
			close(f.ready)
		}
	}()
	f.buf = append(f.buf, p...)
	f.seen += len(p)
	var out []byte
	for !f.done {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			break
		}
		line := f.buf[:i+1]
		if rest, ok := bytes.CutPrefix(line, []byte(pgidMarker)); ok {
			if n, err := strconv.Atoi(string(bytes.TrimSpace(rest))); err == nil && n > 1 {
				f.id = n
			}
			f.done = true
		} else {
			out = append(out, line...)
		}
		f.buf = f.buf[i+1:]
	}
	if !f.done && f.seen > pgidScanLimit {
		f.done = true
	}
	if f.done {
		out = append(out, f.buf...)
		f.buf = nil
	}
	if len(out) > 0 {
		if _, err := f.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes what is still held back (an unterminated last line).
func (f *pgidFilter) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) > 0 {
		f.w.Write(f.buf)
		f.buf = nil
	}
	if !f.done {
		f.done = true
		close(f.ready)
	}
}

func (f *pgidFilter) pgid() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id
}

func exitStatus(r route, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus(), fmt.Errorf("%s: %w", r.display, err)
	}
	var me *ssh.ExitMissingError
	if errors.As(err, &me) {
		return -1, fmt.Errorf("%s: %w", r.display, err)
	}
	if err == io.EOF {
		// Exit status 0 was received; copying stdin stopped because the
		// command exited without reading all of it. Not a failure.
		return 0, nil
	}
	return -1, fmt.Errorf("%s: connection lost while the command ran (it may or may not have completed): %w", r.display, err)
}

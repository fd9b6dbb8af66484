package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// KnownHostsFiles: default ~/.ssh/known_hosts (written on accept) and
	// /etc/ssh/ssh_known_hosts (read only). New keys go to the first file.
	KnownHostsFiles []string
	// AcceptNew trusts an unknown host's key on first use and appends it to
	// KnownHostsFiles[0]. A changed key is always refused.
	AcceptNew bool
	// IdentityFiles: default ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exist,
	// unless ssh config names IdentityFile for the host. Passphrase-protected
	// keys are skipped (they work through the agent).
	IdentityFiles []string
	// UseAgent offers SSH_AUTH_SOCK agent keys first.
	UseAgent bool
	// ConfigFile: default ~/.ssh/config; "none" to skip.
	ConfigFile string
	// ConnectTimeout per host covers TCP connect, handshake and auth; it
	// also bounds opening a session on a pooled connection. Default 10s.
	ConnectTimeout time.Duration
	// DefaultUser when neither the target nor ssh config names one: "root".
	DefaultUser string
	// Dial replaces net.Dialer.DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// CancelGrace: after ctx is cancelled, how long a running command gets
	// to finish after SIGTERM before the session is closed. Default 10s.
	CancelGrace time.Duration
	// MaxSessions bounds concurrent Runs on one pooled connection
	// (OpenSSH's MaxSessions defaults to 10). Default 8, which leaves room
	// for the short session that delivers SIGTERM to root commands on
	// cancel; further Runs wait for a free slot.
	MaxSessions int
}

// Stats are cumulative counters for one user@host:port.
type Stats struct {
	Sessions      int64 // round trips (sessions opened)
	Dials         int64 // connections established or attempted
	BytesSent     int64 // on the wire, including SSH framing
	BytesReceived int64
}

// UnreachableError is returned when a host cannot be connected to.
type UnreachableError struct {
	Host string // the target as shown to the operator
	Port int
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s: %v; is it up and is sshd listening on port %d?", e.Host, e.Err, e.Port)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ErrClosed is returned by a Client after Close.
var ErrClosed = errors.New("ssh client closed")

// Client runs commands on hosts over pooled SSH connections. It is safe for
// concurrent use.
type Client struct {
	opts   Options
	config *SSHConfig
	kh     *knownHosts
	keys   *keyring

	base   context.Context // cancelled by Close; parent of all dials
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	pool   map[string]*poolEntry
	stats  map[string]*counters
}

type counters struct {
	sessions, dials, sent, received atomic.Int64
}

// poolEntry is a pooled connection, or one being dialled (singleflight:
// everyone asking for the key meanwhile waits on ready).
type poolEntry struct {
	ready   chan struct{} // closed when the dial finished
	conn    *ssh.Client   // set when the dial succeeded
	err     error         // set when it failed
	hostKey ssh.PublicKey
	slots   chan struct{} // session semaphore
}

// route is a Target after ssh config, with everything derived from it.
type route struct {
	t        Target // resolved: Addr is the HostName, Port and User filled
	display  string // for messages
	hostport string // as dialled, e.g. "[fe80::1%br0]:22"
	key      string // pool key: user@hostport
	idFiles  []string
}

// New creates a client. It reads ssh config now; known_hosts is read (and
// re-read when it changes) at each connection.
func New(opts Options) (*Client, error) {
	home, _ := os.UserHomeDir()
	if opts.KnownHostsFiles == nil {
		if home == "" {
			return nil, errors.New("no home directory for ~/.ssh/known_hosts: set KnownHostsFiles")
		}
		opts.KnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"}
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.CancelGrace <= 0 {
		opts.CancelGrace = 10 * time.Second
	}
	if opts.DefaultUser == "" {
		opts.DefaultUser = "root"
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 8
	}
	if opts.Dial == nil {
		d := &net.Dialer{}
		opts.Dial = d.DialContext
	}
	c := &Client{
		opts:  opts,
		kh:    newKnownHosts(opts.KnownHostsFiles),
		keys:  newKeyring(opts.UseAgent, opts.IdentityFiles),
		pool:  map[string]*poolEntry{},
		stats: map[string]*counters{},
	}
	switch cf := opts.ConfigFile; {
	case cf == "none":
	default:
		if cf == "" && home != "" {
			cf = filepath.Join(home, ".ssh", "config")
		}
		if cf != "" {
			cfg, err := LoadSSHConfig(cf)
			if err != nil {
				return nil, err
			}
			c.config = cfg
		}
	}
	c.base, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// ResolveTarget applies ssh config (HostName, User, Port) and the defaults
// to t. Values set on t win over the config, as on the ssh command line.
// Name is set to the original Addr when empty.
func (c *Client) ResolveTarget(t Target) Target {
	r := c.resolve(t)
	return r.t
}

func (c *Client) resolve(t Target) route {
	addr := strings.TrimSuffix(strings.TrimPrefix(t.Addr, "["), "]")
	hc := c.config.Lookup(addr)
	out := t
	out.Addr = addr
	if out.Name == "" {
		out.Name = addr
	}
	if hc.HostName != "" {
		out.Addr = hc.HostName
	}
	if out.User == "" {
		out.User = hc.User
	}
	if out.User == "" {
		out.User = c.opts.DefaultUser
	}
	if out.Port == 0 {
		out.Port = hc.Port
	}
	if out.Port == 0 {
		out.Port = 22
	}
	hp := net.JoinHostPort(out.Addr, strconv.Itoa(out.Port))
	display := out.Name
	if display != out.Addr {
		display += " (" + out.Addr + ")"
	}
	if out.Port != 22 {
		display += " port " + strconv.Itoa(out.Port)
	}
	return route{t: out, display: display, hostport: hp, key: out.User + "@" + hp, idFiles: hc.IdentityFiles}
}

func (c *Client) counters(key string) *counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats[key]
	if s == nil {
		s = &counters{}
		c.stats[key] = s
	}
	return s
}

// Stats returns the counters for t (cumulative over reconnects).
func (c *Client) Stats(t Target) Stats {
	s := c.counters(c.resolve(t).key)
	return Stats{Sessions: s.sessions.Load(), Dials: s.dials.Load(), BytesSent: s.sent.Load(), BytesReceived: s.received.Load()}
}

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

// session opens a session on the pooled connection for r, dialling when
// needed; a pooled connection that turns out dead is replaced once.
func (c *Client) session(ctx context.Context, r route) (*ssh.Session, *poolEntry, func(), error) {
	for attempt := 0; ; attempt++ {
		e, err := c.conn(ctx, r)
		if err != nil {
			return nil, nil, nil, err
		}
		select {
		case e.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, nil, fmt.Errorf("%s: waiting for a free session: %w", r.display, ctx.Err())
		}
		release := func() { <-e.slots }
		s, err := c.newSession(ctx, e)
		if err == nil {
			return s, e, release, nil
		}
		release()
		if ctx.Err() != nil {
			return nil, nil, nil, fmt.Errorf("%s: opening session: %w", r.display, ctx.Err())
		}
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			// The connection works; the server refused the session.
			return nil, nil, nil, fmt.Errorf("%s refused to open a session: %w", r.display, err)
		}
		c.drop(r.key, e)
		if attempt > 0 {
			return nil, nil, nil, &UnreachableError{Host: r.display, Port: r.t.Port, Err: err}
		}
	}
}

// newSession opens a session, bounded by ConnectTimeout (a pooled
// connection to a host that went away silently would otherwise block until
// TCP gives up) and by ctx.
func (c *Client) newSession(ctx context.Context, e *poolEntry) (*ssh.Session, error) {
	type result struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := e.conn.NewSession()
		ch <- result{s, err}
	}()
	timer := time.NewTimer(c.opts.ConnectTimeout)
	defer timer.Stop()
	select {
	case res := <-ch:
		return res.s, res.err
	case <-timer.C:
		e.conn.Close()
		go func() {
			if res := <-ch; res.s != nil {
				res.s.Close()
			}
		}()
		return nil, fmt.Errorf("no answer to a session request within %v", c.opts.ConnectTimeout)
	case <-ctx.Done():
		go func() {
			if res := <-ch; res.s != nil {
				res.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// conn returns the ready pooled connection for r, dialling it if needed.
// Concurrent callers for the same key share one dial.
func (c *Client) conn(ctx context.Context, r route) (*poolEntry, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		e := c.pool[r.key]
		if e == nil {
			e = &poolEntry{ready: make(chan struct{}), slots: make(chan struct{}, c.opts.MaxSessions)}
			c.pool[r.key] = e
			go c.dialEntry(r, e)
		}
		c.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: connecting: %w", r.display, ctx.Err())
		}
		if errors.Is(e.err, errForgotten) {
			continue
		}
		if e.err != nil {
			return nil, e.err
		}
		return e, nil
	}
}

var errForgotten = errors.New("connection forgotten while dialling")

// dialEntry runs the dial for a pool entry, detached from any one caller's
// context (callers stop waiting on their own; Close aborts it).
func (c *Client) dialEntry(r route, e *poolEntry) {
	ctx, cancel := context.WithTimeout(c.base, c.opts.ConnectTimeout)
	defer cancel()
	conn, key, err := c.dial(ctx, r)
	c.mu.Lock()
	switch {
	case err != nil:
		if c.pool[r.key] == e {
			delete(c.pool, r.key)
		}
		e.err = err
	case c.closed:
		conn.Close()
		e.err = ErrClosed
	case c.pool[r.key] != e:
		conn.Close()
		e.err = errForgotten
	default:
		e.conn, e.hostKey = conn, key
		go func() {
			conn.Wait()
			c.drop(r.key, e)
		}()
	}
	c.mu.Unlock()
	close(e.ready)
}

// drop removes e (or whatever is pooled, when e is nil) for key and closes
// its connection.
func (c *Client) drop(key string, e *poolEntry) {
	c.mu.Lock()
	cur := c.pool[key]
	if cur != nil && (e == nil || cur == e) {
		delete(c.pool, key)
		e = cur
	}
	c.mu.Unlock()
	if e != nil {
		select {
		case <-e.ready:
			if e.conn != nil {
				e.conn.Close()
			}
		default:
		}
	}
}

// countingConn counts bytes for Stats.
type countingConn struct {
	net.Conn
	s *counters
}

func (cc *countingConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	cc.s.received.Add(int64(n))
	return n, err
}

func (cc *countingConn) Write(p []byte) (int, error) {
	n, err := cc.Conn.Write(p)
	cc.s.sent.Add(int64(n))
	return n, err
}

// dialTCP connects within ctx and returns a byte-counting conn whose
// deadline is ctx's, and a stop function that clears both.
func (c *Client) dialTCP(ctx context.Context, r route) (net.Conn, func(), error) {
	st := c.counters(r.key)
	st.dials.Add(1)
	raw, err := c.opts.Dial(ctx, "tcp", r.hostport)
	if err != nil {
		return nil, nil, &UnreachableError{Host: r.display, Port: r.t.Port, Err: describeDialErr(ctx, err, c.opts.ConnectTimeout)}
	}
	conn := &countingConn{Conn: raw, s: st}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Some conns ignore deadlines: closing is the sure way to abort.
	stopAfter := context.AfterFunc(ctx, func() { raw.Close() })
	stop := func() {
		stopAfter()
		conn.SetDeadline(time.Time{})
	}
	return conn, stop, nil
}

func describeDialErr(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no connection within %v: %w", timeout, err)
	}
	return err
}

// dial connects, verifies the host key and authenticates.
func (c *Client) dial(ctx context.Context, r route) (*ssh.Client, ssh.PublicKey, error) {
	conn, stop, err := c.dialTCP(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	auth, att := c.keys.method(r.idFiles)
	defer att.close()
	var presented ssh.PublicKey
	var keyErr error
	cfg := &ssh.ClientConfig{
		User: r.t.User,
		Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			presented = key
			keyErr = c.kh.check(r.hostport, r.t.Name, remote, key, c.opts.AcceptNew)
			return keyErr
		},
		HostKeyAlgorithms: c.kh.algorithms(r.hostport),
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, r.hostport, cfg)
	stop()
	if err != nil {
		conn.Close()
		return nil, nil, c.classify(ctx, r, err, presented, keyErr, att)
	}
	return ssh.NewClient(sc, chans, reqs), presented, nil
}

// classify turns a handshake error into HostKeyError, AuthError or
// UnreachableError.
func (c *Client) classify(ctx context.Context, r route, err error, presented ssh.PublicKey, keyErr error, att *authAttempt) error {
	if keyErr != nil {
		var hk *HostKeyError
		if errors.As(keyErr, &hk) {
			return hk
		}
		return fmt.Errorf("%s: checking host key: %w", r.display, keyErr)
	}
	if presented != nil && ctx.Err() == nil {
		msg := err.Error()
		if strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "authentication") {
			tried, agent, notes := att.snapshot()
			return &AuthError{Host: r.display, User: r.t.User, Tried: tried, Agent: agent, Notes: notes, Err: err}
		}
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("no SSH handshake within %v: %w", c.opts.ConnectTimeout, err)
	}
	return &UnreachableError{Host: r.display, Port: r.t.Port, Err: err}
}

// HostKey returns the SHA256 fingerprint of the key presented on t's pooled
// connection; ok is false when there is none.
func (c *Client) HostKey(t Target) (string, bool) {
	r := c.resolve(t)
	c.mu.Lock()
	e := c.pool[r.key]
	c.mu.Unlock()
	if e == nil {
		return "", false
	}
	select {
	case <-e.ready:
	default:
		return "", false
	}
	if e.conn == nil || e.hostKey == nil {
		return "", false
	}
	return ssh.FingerprintSHA256(e.hostKey), true
}

var errScanned = errors.New("host key scanned")

// ScanHostKey connects to t and returns the host key it presents, without
// checking it against known_hosts and without authenticating, for an
// "accept this host key?" dialog. authorizedKeyLine is what TrustHostKey
// takes.
func (c *Client) ScanHostKey(ctx context.Context, t Target) (fingerprint, authorizedKeyLine string, err error) {
	r := c.resolve(t)
	ctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	defer cancel()
	conn, stop, err := c.dialTCP(ctx, r)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	defer stop()
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: r.t.User,
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errScanned
		},
	}
	_, _, _, err = ssh.NewClientConn(conn, r.hostport, cfg)
	if key == nil {
		if err == nil {
			err = errors.New("no host key presented")
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("no SSH handshake within %v: %w", c.opts.ConnectTimeout, err)
		}
		return "", "", &UnreachableError{Host: r.display, Port: r.t.Port, Err: err}
	}
	return ssh.FingerprintSHA256(key), authorizedLine(key), nil
}

// TrustHostKey records authorizedKeyLine (as returned by ScanHostKey or in
// HostKeyError.KeyLine) as t's host key in the first known_hosts file. It
// is a no-op when the key is already known for t, and refuses with a
// *HostKeyError (Changed) when known_hosts holds other keys for t: a changed
// key is removed by the operator (ssh-keygen -R), never silently added to.
func (c *Client) TrustHostKey(t Target, authorizedKeyLine string) error {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKeyLine))
	if err != nil {
		return fmt.Errorf("not a public key line: %w", err)
	}
	r := c.resolve(t)
	return c.kh.trust(r.hostport, r.t.Name, key)
}

// KnownHostsName is how t appears in known_hosts (knownhosts.Normalize of
// its address and port), e.g. for ssh-keygen -R.
func (c *Client) KnownHostsName(t Target) string {
	return knownhosts.Normalize(c.resolve(t).hostport)
}

// Forget closes and drops t's pooled connection. Runs in progress on it
// fail; the next Run dials again.
func (c *Client) Forget(t Target) {
	c.drop(c.resolve(t).key, nil)
}

// Close closes all connections and aborts dials in progress.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	entries := c.pool
	c.pool = map[string]*poolEntry{}
	c.mu.Unlock()
	c.cancel()
	for _, e := range entries {
		select {
		case <-e.ready:
			if e.conn != nil {
				e.conn.Close()
			}
		default:
			// dialEntry sees closed and closes what it gets.
		}
	}
	return nil
}

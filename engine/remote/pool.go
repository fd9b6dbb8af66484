package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

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
		e.used.Store(time.Now().UnixNano())
		evict := c.evictLocked(e)
		c.mu.Unlock()
		for _, old := range evict {
			old.conn.Close()
		}
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
		if err := c.reuseCheck(r, e); err != nil {
			return nil, err
		}
		return e, nil
	}
}

// reuseCheck applies checkHostKey's rules to a pooled connection that was
// opened for another Target at the same address: its key must be the one
// r is bound to, and a key accepted for one connection only serves only
// targets AcceptNew applies to.
func (c *Client) reuseCheck(r route, e *poolEntry) error {
	if r.t.HostKey != "" {
		return c.checkBound(r, e.hostKey)
	}
	c.mu.Lock()
	pending := e.pending
	c.mu.Unlock()
	if pending && !(c.opts.AcceptNew && r.t.Named) {
		return &HostKeyError{Host: knownhosts.Normalize(r.hostport), Name: r.t.Name, Presented: ssh.FingerprintSHA256(e.hostKey),
			KeyLine: authorizedLine(e.hostKey)}
	}
	return nil
}

// evictLocked takes the least recently used idle connections out of the
// pool while it holds more than MaxConns, and returns them to be closed.
// Connections with a session open, still dialling, or keep (about to be
// used) stay. c.mu is held.
func (c *Client) evictLocked(keep *poolEntry) []*poolEntry {
	var out []*poolEntry
	for len(c.pool) > c.opts.MaxConns {
		var oldKey string
		var oldest *poolEntry
		for k, e := range c.pool {
			select {
			case <-e.ready:
			default:
				continue
			}
			if e == keep || e.conn == nil || len(e.slots) > 0 {
				continue
			}
			if oldest == nil || e.used.Load() < oldest.used.Load() {
				oldKey, oldest = k, e
			}
		}
		if oldest == nil {
			break // all busy: the engine's own parallelism bounds these
		}
		delete(c.pool, oldKey)
		out = append(out, oldest)
	}
	return out
}

var errForgotten = errors.New("connection forgotten while dialling")

// dialEntry runs the dial for a pool entry, detached from any one caller's
// context (callers stop waiting on their own; Close aborts it).
func (c *Client) dialEntry(r route, e *poolEntry) {
	ctx, cancel := context.WithTimeout(c.base, c.opts.ConnectTimeout)
	defer cancel()
	conn, key, pending, err := c.dial(ctx, r)
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
		e.conn, e.hostKey, e.pending = conn, key, pending
		closed := make(chan struct{})
		go func() {
			conn.Wait()
			close(closed)
			c.drop(r.key, e)
		}()
		go c.keepalive(e, closed)
	}
	c.mu.Unlock()
	close(e.ready)
}

// keepalive sends OpenSSH's keepalive request every KeepaliveInterval and
// closes conn when KeepaliveCountMax in a row are not answered: every
// session on it then ends with "connection lost". Any answer counts, a
// refusal included (servers refuse unknown requests, which proves them
// alive).
func (c *Client) keepalive(e *poolEntry, closed <-chan struct{}) {
	conn := e.conn
	if c.opts.KeepaliveInterval < 0 {
		return
	}
	tick := time.NewTicker(c.opts.KeepaliveInterval)
	defer tick.Stop()
	answered := make(chan struct{}, 1)
	inFlight, missed := false, 0
	for {
		select {
		case <-closed:
			return
		case <-answered:
			inFlight, missed = false, 0
		case <-tick.C:
			if inFlight {
				if missed++; missed >= c.opts.KeepaliveCountMax {
					err := fmt.Errorf("the host stopped answering: %d keepalives unanswered at %v intervals", missed, c.opts.KeepaliveInterval)
					e.lost.Store(&err)
					conn.Close()
					return
				}
				continue
			}
			inFlight = true
			go func() {
				if _, _, err := conn.SendRequest("keepalive@openssh.com", true, nil); err == nil {
					answered <- struct{}{}
				}
			}()
		}
	}
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

// dial connects, verifies the host key and authenticates. pending says
// the key was accepted under AcceptNew for this connection only.
func (c *Client) dial(ctx context.Context, r route) (_ *ssh.Client, _ ssh.PublicKey, pending bool, _ error) {
	conn, stop, err := c.dialTCP(ctx, r)
	if err != nil {
		return nil, nil, false, err
	}
	auth, att := c.keys.method(r.idFiles)
	defer att.close()
	var presented ssh.PublicKey
	var keyErr error
	algos := c.kh.algorithms(r.hostport)
	if r.t.HostKeyType != "" {
		algos = algorithmsFor(r.t.HostKeyType)
	}
	cfg := &ssh.ClientConfig{
		User: r.t.User,
		Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			presented = key
			keyErr, pending = c.checkHostKey(r, remote, key)
			return keyErr
		},
		HostKeyAlgorithms: algos,
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, r.hostport, cfg)
	stop()
	if err != nil {
		conn.Close()
		return nil, nil, false, c.classify(ctx, r, err, presented, keyErr, att)
	}
	return ssh.NewClient(sc, chans, reqs), presented, pending, nil
}

// checkHostKey decides about the key a host presents. A target bound to
// a host identity (Target.HostKey) must present exactly that key, at any
// address; otherwise known_hosts decides, and AcceptNew lets an unknown
// key through for an address the operator named, for this connection only
// (pending). A revoked key, or one known_hosts contradicts for this
// address, is refused either way.
func (c *Client) checkHostKey(r route, remote net.Addr, key ssh.PublicKey) (err error, pending bool) {
	kerr := c.kh.verify(r.hostport, r.t.Name, remote, key)
	var hk *HostKeyError
	if errors.As(kerr, &hk) && (hk.Revoked || hk.Changed) {
		// known_hosts lists other keys for this address: refused even for
		// a bound target (both must agree where both speak).
		return hk, false
	}
	if r.t.HostKey != "" {
		return c.checkBound(r, key), false
	}
	if kerr != nil && c.opts.AcceptNew && r.t.Named && errors.As(kerr, &hk) && !hk.Changed {
		return nil, true
	}
	return kerr, false
}

// checkBound compares key with the identity r is bound to.
func (c *Client) checkBound(r route, key ssh.PublicKey) error {
	if fp := ssh.FingerprintSHA256(key); fp == r.t.HostKey {
		return nil
	}
	return &HostKeyError{Host: knownhosts.Normalize(r.hostport), Name: r.t.Name, Presented: ssh.FingerprintSHA256(key),
		KeyLine: authorizedLine(key), Known: []string{r.t.HostKey}, Changed: true, Bound: true}
}

// algorithmsFor are the host key algorithms that make a server present a
// key of type t.
func algorithmsFor(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
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

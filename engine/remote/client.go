package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	// AcceptNew trusts an unknown host's key on first use, for targets the
	// operator named (Target.Named) and for that connection only: the
	// caller checks who the host is and records the key with TrustHostKey
	// (PresentedKey reports it as New). A changed key is always refused.
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
	// KeepaliveInterval and KeepaliveCountMax are OpenSSH's
	// ServerAliveInterval and ServerAliveCountMax: a keepalive request
	// every interval, and the connection is given up when CountMax of
	// them go unanswered. A host that dies mid-push then frees its
	// session within interval × (CountMax+1) instead of when TCP gives up
	// (many minutes). Defaults 15s and 3; a negative interval disables.
	KeepaliveInterval time.Duration
	KeepaliveCountMax int
	// MaxConns bounds the pooled connections: past it, the least recently
	// used idle one is closed (a plan of 2,000 hosts would otherwise keep
	// 2,000 connections and their file descriptors open). Default 128.
	MaxConns int
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
	slots   chan struct{}         // session semaphore
	pending bool                  // the host key was accepted for this connection only (AcceptNew), not recorded
	lost    atomic.Pointer[error] // why keepalive gave the connection up
	used    atomic.Int64          // UnixNano of the last session opened, for eviction
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
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = 15 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 128
	}
	if opts.KeepaliveCountMax <= 0 {
		opts.KeepaliveCountMax = 3
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

func (c *Client) HostKey(t Target) (string, bool) {
	pk, ok := c.PresentedKey(t)
	return pk.Fingerprint, ok
}

// PresentedKey is the host key on a target's pooled connection.
type PresentedKey struct {
	Fingerprint string // SHA256:…
	Type        string // ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa …
	Line        string // authorized_keys form, for TrustHostKey
	// New: accepted under AcceptNew for this connection only; not in
	// known_hosts until TrustHostKey records it.
	New bool
}

// PresentedKey returns the key presented on t's pooled connection; ok is
// false when there is none.
func (c *Client) PresentedKey(t Target) (PresentedKey, bool) {
	r := c.resolve(t)
	c.mu.Lock()
	e := c.pool[r.key]
	c.mu.Unlock()
	if e == nil {
		return PresentedKey{}, false
	}
	select {
	case <-e.ready:
	default:
		return PresentedKey{}, false
	}
	if e.conn == nil || e.hostKey == nil {
		return PresentedKey{}, false
	}
	c.mu.Lock()
	pending := e.pending
	c.mu.Unlock()
	return PresentedKey{Fingerprint: ssh.FingerprintSHA256(e.hostKey), Type: e.hostKey.Type(), Line: authorizedLine(e.hostKey), New: pending}, true
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
	if err := c.kh.trust(r.hostport, r.t.Name, key); err != nil {
		return err
	}
	// A connection accepted for itself only is now a trusted one.
	c.mu.Lock()
	if e := c.pool[r.key]; e != nil && e.hostKey != nil && bytes.Equal(e.hostKey.Marshal(), key.Marshal()) {
		e.pending = false
	}
	c.mu.Unlock()
	return nil
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

package remote

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ---- in-process test server -------------------------------------------------

// sshTestServer is an x/crypto/ssh server on 127.0.0.1 that runs "exec"
// requests with sh -c in their own process group and honours "signal"
// requests with killpg, as OpenSSH's sshd does.
type sshTestServer struct {
	t        testing.TB
	ln       net.Listener
	port     int
	hostKeys []ssh.Signer
	cfg      *ssh.ServerConfig

	mu      sync.Mutex
	conns   []net.Conn
	signals []string
	accepts atomic.Int64
}

func newTestSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeTestIdentity writes a fresh ed25519 private key in OpenSSH format.
func writeTestIdentity(t testing.TB, dir, name string) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func startSSHServer(t testing.TB, authorized ssh.PublicKey, hostKeys ...ssh.Signer) *sshTestServer {
	t.Helper()
	if len(hostKeys) == 0 {
		hostKeys = []ssh.Signer{newTestSigner(t)}
	}
	s := &sshTestServer{t: t, hostKeys: hostKeys}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(k.Marshal(), authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("not authorized")
		},
	}
	for _, k := range hostKeys {
		s.cfg.AddHostKey(k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.port = ln.Addr().(*net.TCPAddr).Port
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.dropConns()
	})
	return s
}

func (s *sshTestServer) target() Target { return Target{Addr: "127.0.0.1", Port: s.port} }

func (s *sshTestServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *sshTestServer) gotSignals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.signals...)
}

func (s *sshTestServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepts.Add(1)
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.handle(c)
	}
}

func (s *sshTestServer) handle(c net.Conn) {
	_, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, creqs)
	}
}

func (s *sshTestServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var cmd *exec.Cmd
	exited := make(chan int, 1)
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				if cmd != nil && cmd.Process != nil {
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
				return
			}
			switch req.Type {
			case "exec":
				var p struct{ Command string }
				if err := ssh.Unmarshal(req.Payload, &p); err != nil || cmd != nil {
					req.Reply(false, nil)
					continue
				}
				cmd = exec.Command("sh", "-c", p.Command)
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				cmd.Stdout = ch
				cmd.Stderr = ch.Stderr()
				in, _ := cmd.StdinPipe()
				if err := cmd.Start(); err != nil {
					req.Reply(false, nil)
					return
				}
				req.Reply(true, nil)
				go func() {
					io.Copy(in, ch)
					in.Close()
				}()
				go func() {
					err := cmd.Wait()
					code := 0
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						code = ee.ExitCode()
						if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
							code = 128 + int(ws.Signal())
						}
					}
					exited <- code
				}()
			case "signal":
				var p struct{ Signal string }
				ssh.Unmarshal(req.Payload, &p)
				s.mu.Lock()
				s.signals = append(s.signals, p.Signal)
				s.mu.Unlock()
				sig := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "HUP": syscall.SIGHUP}[p.Signal]
				if cmd != nil && cmd.Process != nil && sig != 0 {
					syscall.Kill(-cmd.Process.Pid, sig)
				}
				if req.WantReply {
					req.Reply(true, nil)
				}
			default:
				if req.WantReply {
					req.Reply(false, nil)
				}
			}
		case code := <-exited:
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		}
	}
}

// ---- helpers -----------------------------------------------------------------

type sshFixture struct {
	dir       string
	idPath    string
	id        ssh.Signer
	knownPath string
}

func newSSHFixture(t testing.TB) *sshFixture {
	t.Helper()
	dir := t.TempDir()
	p, s := writeTestIdentity(t, dir, "id_ed25519")
	return &sshFixture{dir: dir, idPath: p, id: s, knownPath: filepath.Join(dir, "ssh", "known_hosts")}
}

func (f *sshFixture) opts() Options {
	return Options{
		KnownHostsFiles: []string{f.knownPath},
		IdentityFiles:   []string{f.idPath},
		ConfigFile:      "none",
		ConnectTimeout:  5 * time.Second,
		CancelGrace:     5 * time.Second,
	}
}

func (f *sshFixture) client(t testing.TB, mod func(*Options)) *Client {
	t.Helper()
	o := f.opts()
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// trust writes known_hosts lines for srv's keys.
func (f *sshFixture) trust(t testing.TB, srv *sshTestServer, keys ...ssh.PublicKey) {
	t.Helper()
	if len(keys) == 0 {
		for _, k := range srv.hostKeys {
			keys = append(keys, k.PublicKey())
		}
	}
	os.MkdirAll(filepath.Dir(f.knownPath), 0o700)
	fh, err := os.OpenFile(f.knownPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	for _, k := range keys {
		fmt.Fprintln(fh, knownhosts.Line([]string{net.JoinHostPort("127.0.0.1", fmt.Sprint(srv.port))}, k))
	}
}

func runOn(t testing.TB, c *Client, tg Target, cmd, stdin string) (int, string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	code, err := c.Run(context.Background(), tg, cmd, in, &out, &errb)
	return code, out.String(), errb.String(), err
}

// ---- tests -----------------------------------------------------------------------

func TestRunExitCodeAndOutput(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	c := f.client(t, nil)

	code, out, errOut, err := runOn(t, c, srv.target(), "echo hello; echo oops >&2; exit 3", "")
	if code != 3 || out != "hello\n" || errOut != "oops\n" {
		t.Fatalf("code=%d out=%q err=%q", code, out, errOut)
	}
	var ee *ssh.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want *ssh.ExitError, got %v", err)
	}
	code, out, _, err = runOn(t, c, srv.target(), "true", "")
	if code != 0 || err != nil || out != "" {
		t.Fatalf("true: code=%d err=%v out=%q", code, err, out)
	}
}

func TestRunStdin(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	c := f.client(t, nil)

	_, out, _, err := runOn(t, c, srv.target(), "tr a-z A-Z", "hello, stdin\n")
	if err != nil || out != "HELLO, STDIN\n" {
		t.Fatalf("out=%q err=%v", out, err)
	}
	// 4 MiB through the channel, checked by size on the far side.
	big := strings.Repeat("0123456789abcdef", 256*1024)
	_, out, _, err = runOn(t, c, srv.target(), "wc -c", big)
	if err != nil || strings.TrimSpace(out) != fmt.Sprint(len(big)) {
		t.Fatalf("wc -c: %q %v", out, err)
	}
	// A command that does not read its stdin still finishes.
	_, out, _, err = runOn(t, c, srv.target(), "echo ignored", big)
	if err != nil || out != "ignored\n" {
		t.Fatalf("ignored stdin: %q %v", out, err)
	}
}

func TestUnknownHostKey(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	c := f.client(t, nil)

	_, _, _, err := runOn(t, c, srv.target(), "true", "")
	var hk *HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("want HostKeyError, got %T %v", err, err)
	}
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) != 0 {
		t.Fatalf("want knownhosts.KeyError with empty Want, got %v", err)
	}
	fp := ssh.FingerprintSHA256(srv.hostKeys[0].PublicKey())
	if hk.Changed || hk.Presented != fp || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "is not known") {
		t.Fatalf("bad error: %v", err)
	}
	if hk.KeyLine == "" {
		t.Fatal("KeyLine empty")
	}
	if _, err := os.Stat(f.knownPath); !os.IsNotExist(err) {
		t.Fatalf("known_hosts must not be written without AcceptNew: %v", err)
	}
	// The key line in the error is enough to trust the host.
	if err := c.TrustHostKey(srv.target(), hk.KeyLine); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := runOn(t, c, srv.target(), "true", ""); err != nil {
		t.Fatalf("after TrustHostKey: %v", err)
	}
}

// TestAcceptNew: AcceptNew lets an unknown key through only for a target
// the operator named, and only for that connection: known_hosts is written
// when the caller, having checked who the host is, calls TrustHostKey.
func TestAcceptNew(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	c := f.client(t, func(o *Options) { o.AcceptNew = true })

	scanned := srv.target()
	if _, _, _, err := runOn(t, c, scanned, "true", ""); err == nil {
		t.Fatal("AcceptNew accepted the key of a target nobody named")
	}
	named := srv.target()
	named.Named = true
	if _, _, _, err := runOn(t, c, named, "true", ""); err != nil {
		t.Fatal(err)
	}
	pk, ok := c.PresentedKey(named)
	if !ok || !pk.New || pk.Fingerprint != ssh.FingerprintSHA256(srv.hostKeys[0].PublicKey()) {
		t.Fatalf("PresentedKey: %+v %v", pk, ok)
	}
	if _, err := os.Stat(f.knownPath); !os.IsNotExist(err) {
		t.Fatalf("known_hosts written before the caller decided: %v", err)
	}
	// The connection accepted for the named target does not serve others.
	if _, _, _, err := runOn(t, c, scanned, "true", ""); err == nil {
		t.Fatal("a pooled connection with an unrecorded key served a target nobody named")
	}
	if err := c.TrustHostKey(named, pk.Line); err != nil {
		t.Fatal(err)
	}
	if pk, _ := c.PresentedKey(named); pk.New {
		t.Fatal("still New after TrustHostKey")
	}
	data, err := os.ReadFile(f.knownPath)
	if err != nil {
		t.Fatal(err)
	}
	want := knownhosts.Line([]string{fmt.Sprintf("[127.0.0.1]:%d", srv.port)}, srv.hostKeys[0].PublicKey()) + "\n"
	if string(data) != want {
		t.Fatalf("known_hosts:\n%q\nwant\n%q", data, want)
	}
	fi, _ := os.Stat(f.knownPath)
	di, _ := os.Stat(filepath.Dir(f.knownPath))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes: file %v dir %v", fi.Mode(), di.Mode())
	}
	// A second client without AcceptNew now trusts the host.
	c2 := f.client(t, nil)
	if _, _, _, err := runOn(t, c2, srv.target(), "true", ""); err != nil {
		t.Fatalf("second connect: %v", err)
	}
}

// TestBoundHostKey: a target bound to a host identity must present that
// key; another key is refused as changed even where known_hosts trusts it,
// with both fingerprints and the host's name, and a pooled connection is
// not reused across bindings.
func TestBoundHostKey(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv, srv.hostKeys[0].PublicKey())
	c := f.client(t, nil)
	real := ssh.FingerprintSHA256(srv.hostKeys[0].PublicKey())
	tg := srv.target()
	tg.Name, tg.HostKey = "db1", real
	if _, _, _, err := runOn(t, c, tg, "true", ""); err != nil {
		t.Fatal(err)
	}
	other := ssh.FingerprintSHA256(newTestSigner(t).PublicKey())
	for _, fresh := range []bool{false, true} {
		if fresh {
			c.Forget(tg)
		}
		imp := tg
		imp.HostKey = other
		_, _, _, err := runOn(t, c, imp, "true", "")
		var hk *HostKeyError
		if !errors.As(err, &hk) || !hk.Bound || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), real) || !strings.Contains(err.Error(), "db1") {
			t.Fatalf("bound to another key (fresh connection %v): %v", fresh, err)
		}
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	old := newTestSigner(t).PublicKey()
	f.trust(t, srv, old)
	c := f.client(t, func(o *Options) { o.AcceptNew = true })

	_, _, _, err := runOn(t, c, srv.target(), "true", "")
	var hk *HostKeyError
	if !errors.As(err, &hk) || !hk.Changed {
		t.Fatalf("want changed HostKeyError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{ssh.FingerprintSHA256(old), ssh.FingerprintSHA256(srv.hostKeys[0].PublicKey()),
		"HAS CHANGED", "ssh-keygen -R '[127.0.0.1]:", f.knownPath} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) != 1 {
		t.Fatalf("knownhosts.KeyError: %v", ke)
	}
	data, _ := os.ReadFile(f.knownPath)
	if strings.Count(string(data), "\n") != 1 {
		t.Fatalf("known_hosts was modified:\n%s", data)
	}
	t.Log(msg)
}

// A server with two host keys presents the library's preferred one (ECDSA)
// unless we ask for the algorithm we know.
func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	f := newSSHFixture(t)
	ed := newTestSigner(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ssh.NewSignerFromKey(ecKey)
	srv := startSSHServer(t, f.id.PublicKey(), ec, ed)
	f.trust(t, srv, ed.PublicKey())
	c := f.client(t, nil)
	if _, _, _, err := runOn(t, c, srv.target(), "true", ""); err != nil {
		t.Fatalf("with only the ed25519 key known: %v", err)
	}
	if fp, ok := c.HostKey(srv.target()); !ok || fp != ssh.FingerprintSHA256(ed.PublicKey()) {
		t.Fatalf("HostKey = %q %v", fp, ok)
	}
}

func TestConnectionReuse(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	c := f.client(t, nil)
	for i := 0; i < 5; i++ {
		if _, out, _, err := runOn(t, c, srv.target(), "echo $((1+"+fmt.Sprint(i)+"))", ""); err != nil || out != fmt.Sprintf("%d\n", i+1) {
			t.Fatalf("runOn %d: %q %v", i, out, err)
		}
	}
	st := c.Stats(srv.target())
	if st.Dials != 1 || st.Sessions != 5 || st.BytesSent == 0 || st.BytesReceived == 0 {
		t.Fatalf("stats %+v", st)
	}
	if srv.accepts.Load() != 1 {
		t.Fatalf("server saw %d connections", srv.accepts.Load())
	}
	// Same host under another user is another connection.
	if _, _, _, err := runOn(t, c, Target{Addr: "127.0.0.1", Port: srv.port, User: "other"}, "true", ""); err != nil {
		t.Fatal(err)
	}
	if c.Stats(srv.target()).Dials != 1 || srv.accepts.Load() != 2 {
		t.Fatalf("per-user pooling broken: %+v, %d", c.Stats(srv.target()), srv.accepts.Load())
	}
	t.Logf("5 runs: %+v", st)
}

func TestDeadPooledConnectionRedialled(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	c := f.client(t, nil)
	if _, _, _, err := runOn(t, c, srv.target(), "true", ""); err != nil {
		t.Fatal(err)
	}
	srv.dropConns()
	if _, out, _, err := runOn(t, c, srv.target(), "echo again", ""); err != nil || out != "again\n" {
		t.Fatalf("after server dropped the connection: %q %v", out, err)
	}
	if st := c.Stats(srv.target()); st.Dials != 2 {
		t.Fatalf("dials %d", st.Dials)
	}
	c.Forget(srv.target())
	if _, ok := c.HostKey(srv.target()); ok {
		t.Fatal("HostKey after Forget")
	}
	if _, _, _, err := runOn(t, c, srv.target(), "true", ""); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(srv.target()); st.Dials != 3 {
		t.Fatalf("dials %d", st.Dials)
	}
}

// A pooled connection to a host that went silent (no RST) is detected by
// the session-open timeout and replaced.
func TestSilentPooledConnection(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	var mu sync.Mutex
	var conns []*sshStallConn
	c := f.client(t, func(o *Options) {
		o.ConnectTimeout = 300 * time.Millisecond
		o.Dial = func(ctx context.Context, n, a string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, n, a)
			if err != nil {
				return nil, err
			}
			sc := &sshStallConn{Conn: nc}
			mu.Lock()
			conns = append(conns, sc)
			mu.Unlock()
			return sc, nil
		}
	})
	if _, _, _, err := runOn(t, c, srv.target(), "true", ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	conns[0].stall.Store(true)
	mu.Unlock()
	start := time.Now()
	if _, out, _, err := runOn(t, c, srv.target(), "echo ok", ""); err != nil || out != "ok\n" {
		t.Fatalf("%q %v", out, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

// sshStallConn swallows writes once stall is set, as a host that vanished.
type sshStallConn struct {
	net.Conn
	stall atomic.Bool
}

func (s *sshStallConn) Write(p []byte) (int, error) {
	if s.stall.Load() {
		return len(p), nil
	}
	return s.Conn.Write(p)
}

func TestDialTimeout(t *testing.T) {
	f := newSSHFixture(t)
	c := f.client(t, func(o *Options) {
		o.ConnectTimeout = 300 * time.Millisecond
		o.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
	})
	start := time.Now()
	_, err := c.Run(context.Background(), Target{Addr: "192.0.2.1", Name: "web1"}, "true", nil, nil, nil)
	d := time.Since(start)
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("want UnreachableError, got %T %v", err, err)
	}
	if d < 250*time.Millisecond || d > 800*time.Millisecond {
		t.Fatalf("returned after %v", d)
	}
	if !strings.Contains(err.Error(), "web1 (192.0.2.1)") || !strings.Contains(err.Error(), "port 22") {
		t.Fatalf("message: %v", err)
	}
	t.Log(err)
}

func TestHandshakeTimeoutAndRefused(t *testing.T) {
	f := newSSHFixture(t)
	// A listener that accepts and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := f.client(t, func(o *Options) { o.ConnectTimeout = 300 * time.Millisecond })
	start := time.Now()
	_, err = c.Run(context.Background(), Target{Addr: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}, "true", nil, nil, nil)
	var ue *UnreachableError
	if !errors.As(err, &ue) || time.Since(start) > time.Second {
		t.Fatalf("silent server: %v after %v", err, time.Since(start))
	}
	t.Log(err)

	// A closed port.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln2.Addr().(*net.TCPAddr).Port
	ln2.Close()
	_, err = c.Run(context.Background(), Target{Addr: "127.0.0.1", Port: port}, "true", nil, nil, nil)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("closed port: %v", err)
	}
	t.Log(err)
}

func TestAuthError(t *testing.T) {
	f := newSSHFixture(t)
	other := newTestSigner(t)
	srv := startSSHServer(t, other.PublicKey())
	f.trust(t, srv)
	enc := filepath.Join(f.dir, "id_encrypted")
	{
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		blk, _ := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
		os.WriteFile(enc, pem.EncodeToMemory(blk), 0o600)
	}
	c := f.client(t, func(o *Options) {
		o.IdentityFiles = []string{f.idPath, enc, filepath.Join(f.dir, "nope")}
		o.UseAgent = true
	})
	t.Setenv("SSH_AUTH_SOCK", "")
	_, _, _, err := runOn(t, c, srv.target(), "true", "")
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("want AuthError, got %T %v", err, err)
	}
	if len(ae.Tried) != 1 || !strings.Contains(ae.Tried[0], f.idPath) || ae.Agent != "SSH_AUTH_SOCK not set" || len(ae.Notes) != 2 {
		t.Fatalf("%+v", ae)
	}
	t.Log(err)
}

func TestAgentAuth(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	sock := startTestAgent(t, f.idPath)
	c := f.client(t, func(o *Options) {
		o.IdentityFiles = []string{filepath.Join(f.dir, "absent")}
		o.UseAgent = true
	})
	t.Setenv("SSH_AUTH_SOCK", sock)
	if _, _, _, err := runOn(t, c, srv.target(), "true", ""); err != nil {
		t.Fatal(err)
	}
}

func TestScanHostKey(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	c := f.client(t, nil)
	fp, line, err := c.ScanHostKey(context.Background(), srv.target())
	if err != nil {
		t.Fatal(err)
	}
	if fp != ssh.FingerprintSHA256(srv.hostKeys[0].PublicKey()) {
		t.Fatalf("fingerprint %s", fp)
	}
	if _, err := os.Stat(f.knownPath); !os.IsNotExist(err) {
		t.Fatal("scan must not write known_hosts")
	}
	if err := c.TrustHostKey(srv.target(), line); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := runOn(t, c, srv.target(), "true", ""); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.HostKey(srv.target()); !ok || got != fp {
		t.Fatalf("HostKey %q %v", got, ok)
	}
}

// waitExec waits until the background child $! has exec'd. Between fork
// and exec, a dash child still runs the parent's TERM trap handler, and a
// group-wide SIGTERM arriving then is lost to it: without this the test
// would be flaky (sh exits 7, sleep 30 lives on holding stdout open).
const waitExec = `while [ "$(cat /proc/$!/comm 2>/dev/null)" != sleep ]; do :; done; `

// A cancelled Run delivers SIGTERM: with a "signal" request for ordinary
// users, by kill from a second session for root (OpenSSH refuses signal
// requests on root sessions).
func TestCancelSendsSIGTERM(t *testing.T) {
	for _, tc := range []struct {
		user       string
		wantSignal bool
	}{{"deploy", true}, {"root", false}} {
		t.Run(tc.user, func(t *testing.T) {
			f := newSSHFixture(t)
			srv := startSSHServer(t, f.id.PublicKey())
			f.trust(t, srv)
			c := f.client(t, nil)
			tg := srv.target()
			tg.User = tc.user
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out, errOut := newSSHSyncBuffer(), newSSHSyncBuffer()
			type res struct {
				code int
				err  error
			}
			done := make(chan res, 1)
			go func() {
				code, err := c.Run(ctx, tg, `echo before >&2; trap "echo got-term; exit 7" TERM; sleep 30 & `+waitExec+`echo ready; wait`, nil, out, errOut)
				done <- res{code, err}
			}()
			out.waitFor(t, "ready\n", 5*time.Second)
			start := time.Now()
			cancel()
			var r res
			select {
			case r = <-done:
			case <-time.After(3 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v after cancel", d)
			}
			if r.code != 7 || !errors.Is(r.err, context.Canceled) || !strings.Contains(out.String(), "got-term") {
				t.Fatalf("code=%d err=%v out=%q", r.code, r.err, out.String())
			}
			if errOut.String() != "before\n" {
				t.Fatalf("stderr %q", errOut.String())
			}
			sig := srv.gotSignals()
			if tc.wantSignal && (len(sig) != 1 || sig[0] != "TERM") || !tc.wantSignal && len(sig) != 0 {
				t.Fatalf("signal requests %v", sig)
			}
			t.Log(r.err)
			// The pooled connection survives a cancelled command.
			if _, err := c.Run(context.Background(), tg, "true", nil, nil, nil); err != nil || c.Stats(tg).Dials != 1 {
				t.Fatalf("after cancel: %v %+v", err, c.Stats(tg))
			}
		})
	}
}

// Cancelling right after Start, before the command has reported its
// process group, still reaches it.
func TestCancelImmediatelyRoot(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	c := f.client(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	w := sshWriterFunc(func(p []byte) (int, error) { cancel(); return len(p), nil })
	start := time.Now()
	code, err := c.Run(ctx, srv.target(), `trap "exit 9" TERM; sleep 30 & `+waitExec+`echo x; wait`, nil, w, nil)
	if code != 9 || !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Fatalf("code %d err %v after %v", code, err, time.Since(start))
	}
}

func TestPgidFilter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
		pgid   int
	}{
		{"alone", []string{"\x1ediscoterm-pgid=123\n"}, "", 123},
		{"then output", []string{"\x1ediscoterm-pgid=42\nwarning: x\n", "more"}, "warning: x\nmore", 42},
		{"split marker", []string{"\x1edisco", "term-pgid=7", "\nerr"}, "err", 7},
		{"noise first", []string{"bashrc says hi\n\x1ediscoterm-pgid=8\n"}, "bashrc says hi\n", 8},
		{"no marker", []string{"plain error without newline"}, "plain error without newline", 0},
		{"too late", []string{strings.Repeat("x", 5000) + "\n", "\x1ediscoterm-pgid=9\n"},
			strings.Repeat("x", 5000) + "\n\x1ediscoterm-pgid=9\n", 0},
		{"refuses 1", []string{"\x1ediscoterm-pgid=1\n"}, "", 0},
		{"refuses garbage", []string{"\x1ediscoterm-pgid=-5\n"}, "", 0},
	} {
		var b bytes.Buffer
		f := newPgidFilter(&b)
		for _, w := range tc.writes {
			if n, err := f.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: write %d %v", tc.name, n, err)
			}
		}
		f.flush()
		if b.String() != tc.want || f.pgid() != tc.pgid {
			t.Errorf("%s: got %q pgid %d", tc.name, b.String(), f.pgid())
		}
		select {
		case <-f.ready:
		default:
			t.Errorf("%s: ready not closed", tc.name)
		}
	}
}

func TestCancelGraceExpires(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	c := f.client(t, func(o *Options) { o.CancelGrace = 300 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	out := newSSHSyncBuffer()
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, srv.target(), `trap "" TERM; echo ready; sleep 30`, nil, out, nil)
		done <- err
	}()
	out.waitFor(t, "ready\n", 5*time.Second)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		d := time.Since(start)
		if !errors.Is(err, context.Canceled) || d < 250*time.Millisecond || d > 2*time.Second {
			t.Fatalf("err=%v after %v", err, d)
		}
		t.Logf("%v (after %v)", err, d)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestConcurrentTargets(t *testing.T) {
	f := newSSHFixture(t)
	var srvs []*sshTestServer
	for i := 0; i < 20; i++ {
		s := startSSHServer(t, f.id.PublicKey())
		f.trust(t, s)
		srvs = append(srvs, s)
	}
	c := f.client(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i, s := range srvs {
		for j := 0; j < 4; j++ { // several goroutines per host: singleflight dial, shared conn
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 3; k++ {
					var out bytes.Buffer
					want := fmt.Sprintf("%d-%d-%d", i, j, k)
					if _, err := c.Run(context.Background(), s.target(), "cat", strings.NewReader(want), &out, nil); err != nil {
						errs <- err
						return
					}
					if out.String() != want {
						errs <- fmt.Errorf("got %q want %q", out.String(), want)
					}
					c.HostKey(s.target())
					c.Stats(s.target())
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range srvs {
		st := c.Stats(s.target())
		if st.Dials != 1 || st.Sessions != 12 || s.accepts.Load() != 1 {
			t.Errorf("%d: %+v accepts %d", s.port, st, s.accepts.Load())
		}
	}
}

func TestMaxSessionsQueues(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	c := f.client(t, func(o *Options) { o.MaxSessions = 2 })
	var running, peak atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := sshWriterFunc(func(p []byte) (int, error) {
				n := running.Add(1)
				for {
					o := peak.Load()
					if n <= o || peak.CompareAndSwap(o, n) {
						break
					}
				}
				time.Sleep(50 * time.Millisecond)
				running.Add(-1)
				return len(p), nil
			})
			if _, err := c.Run(context.Background(), srv.target(), "echo x", nil, w, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("peak concurrent sessions %d", peak.Load())
	}
}

type sshWriterFunc func([]byte) (int, error)

func (w sshWriterFunc) Write(p []byte) (int, error) { return w(p) }

func TestCloseAbortsDial(t *testing.T) {
	f := newSSHFixture(t)
	c := f.client(t, func(o *Options) {
		o.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), Target{Addr: "192.0.2.1"}, "true", nil, nil, nil)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("no error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not abort the dial")
	}
	if _, err := c.Run(context.Background(), Target{Addr: "192.0.2.1"}, "true", nil, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestResolveTargetFromConfig(t *testing.T) {
	f := newSSHFixture(t)
	srv := startSSHServer(t, f.id.PublicKey())
	f.trust(t, srv)
	cfg := filepath.Join(f.dir, "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("Host web1\n  HostName 127.0.0.1\n  Port %d\n  User deploy\n  IdentityFile %s\n", srv.port, f.idPath)), 0o600)
	c := f.client(t, func(o *Options) {
		o.ConfigFile = cfg
		o.IdentityFiles = nil
	})
	rt := c.ResolveTarget(Target{Addr: "web1"})
	if rt != (Target{Addr: "127.0.0.1", Port: srv.port, User: "deploy", Name: "web1"}) {
		t.Fatalf("%+v", rt)
	}
	if rt := c.ResolveTarget(Target{Addr: "web1", User: "root", Port: 2222}); rt.User != "root" || rt.Port != 2222 {
		t.Fatalf("target values must win: %+v", rt)
	}
	if _, _, _, err := runOn(t, c, Target{Addr: "web1"}, "true", ""); err != nil {
		t.Fatal(err)
	}
	if got := c.KnownHostsName(Target{Addr: "web1"}); got != fmt.Sprintf("[127.0.0.1]:%d", srv.port) {
		t.Fatal(got)
	}
}

// ---- small helpers -------------------------------------------------------------

type sshSyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan struct{}
}

func newSSHSyncBuffer() *sshSyncBuffer { return &sshSyncBuffer{ch: make(chan struct{}, 1)} }

func (s *sshSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
	return s.buf.Write(p)
}

func (s *sshSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *sshSyncBuffer) waitFor(t testing.TB, sub string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for !strings.Contains(s.String(), sub) {
		select {
		case <-s.ch:
		case <-deadline:
			t.Fatalf("no %q in output %q", sub, s.String())
		}
	}
}

// startTestAgent serves an in-memory ssh-agent holding the key in keyFile on a
// unix socket and returns the socket path.
func startTestAgent(t testing.TB, keyFile string) string {
	t.Helper()
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: raw, Comment: "test@agent"}); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); os.RemoveAll(dir) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	return sock
}

// BenchmarkRunLoopback: one op is 100 Runs of `true`, one session each, on
// one pooled connection to the in-process server (which forks sh -c per
// command, as sshd does).
func BenchmarkRunLoopback(b *testing.B) {
	f := newSSHFixture(b)
	srv := startSSHServer(b, f.id.PublicKey())
	f.trust(b, srv)
	c := f.client(b, nil)
	tg := srv.target()
	ctx := context.Background()
	if _, err := c.Run(ctx, tg, "true", nil, nil, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for range 100 {
			if _, err := c.Run(ctx, tg, "true", nil, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/run")
	if st := c.Stats(tg); st.Dials != 1 {
		b.Fatalf("dials %d", st.Dials)
	}
}

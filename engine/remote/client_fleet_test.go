package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// These tests run the client against real OpenSSH sshd in a test fleet
// (network namespaces; needs root). They skip where a fleet cannot be made.

func fleetClient(t testing.TB, f *testfleet.Fleet, mod func(*Options)) *Client {
	t.Helper()
	o := Options{
		KnownHostsFiles: []string{f.KnownHosts},
		IdentityFiles:   []string{f.ClientKey},
		ConfigFile:      "none",
		ConnectTimeout:  5 * time.Second,
		CancelGrace:     5 * time.Second,
	}
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

func TestFleetRunByULAAndLinkLocal(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 2})
	c := fleetClient(t, f, nil)
	ctx := context.Background()
	for _, h := range f.Hosts {
		for _, tg := range []Target{
			{Addr: h.ULA, Name: h.Name},
			{Addr: h.LinkLocalZoned(), Name: h.Name}, // fe80::…%bridge
		} {
			var out bytes.Buffer
			start := time.Now()
			code, err := c.Run(ctx, tg, "cat /etc/machine-id", nil, &out, nil)
			first := time.Since(start)
			if err != nil || code != 0 {
				t.Fatalf("%s: code %d err %v", tg.Addr, code, err)
			}
			if got := strings.TrimSpace(out.String()); got != h.MachineID {
				t.Fatalf("%s: machine-id %q want %q", tg.Addr, got, h.MachineID)
			}
			if fp, ok := c.HostKey(tg); !ok || fp != h.HostKeyFingerprint() {
				t.Fatalf("%s: HostKey %q %v want %s", tg.Addr, fp, ok, h.HostKeyFingerprint())
			}
			start = time.Now()
			if _, err := c.Run(ctx, tg, "true", nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s via %s: dial+auth+first command %v, next command %v, %+v",
				h.Name, tg.Addr, first.Round(time.Microsecond), time.Since(start).Round(time.Microsecond), c.Stats(tg))
		}
	}
}

// The fleet's ssh_config names hosts; ResolveTarget applies it.
func TestFleetSSHConfig(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	h := f.Hosts[0]
	c := fleetClient(t, f, func(o *Options) {
		o.ConfigFile = f.SSHConfig
		o.IdentityFiles = nil // from the config's IdentityFile
		o.DefaultUser = "nobody"
	})
	tg := Target{Addr: h.Name}
	if rt := c.ResolveTarget(tg); rt.Addr != h.ULA || rt.User != "root" || rt.Port != 22 {
		t.Fatalf("resolved %+v", rt)
	}
	var out bytes.Buffer
	if _, err := c.Run(context.Background(), tg, "hostname", nil, &out, nil); err != nil || strings.TrimSpace(out.String()) != h.Name {
		t.Fatalf("%q %v", out.String(), err)
	}
}

// New host by link-local address: scan, compare with the fleet's record,
// trust; then a rebuilt host (new key) is refused.
func TestFleetScanTrustAndChangedKey(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	h := f.Hosts[0]
	kh := filepath.Join(t.TempDir(), "known_hosts")
	c := fleetClient(t, f, func(o *Options) { o.KnownHostsFiles = []string{kh} })
	tg := Target{Addr: h.LinkLocalZoned(), Name: h.Name}
	ctx := context.Background()

	_, err := c.Run(ctx, tg, "true", nil, nil, nil)
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Changed {
		t.Fatalf("want unknown host key, got %v", err)
	}
	fp, line, err := c.ScanHostKey(ctx, tg)
	if err != nil || fp != h.HostKeyFingerprint() || fp != hk.Presented {
		t.Fatalf("scan: %s %v (want %s)", fp, err, h.HostKeyFingerprint())
	}
	if err := c.TrustHostKey(tg, line); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(kh)
	if !strings.HasPrefix(string(data), h.LinkLocalZoned()+" ssh-ed25519 ") {
		t.Fatalf("known_hosts line %q", data)
	}
	if _, err := c.Run(ctx, tg, "true", nil, nil, nil); err != nil {
		t.Fatal(err)
	}

	// Rebuild: a new host key (sshd loads it for each new connection).
	c.Forget(tg)
	if out, err := h.Exec(ctx, "sh", "-c", "rm -f /etc/ssh/ssh_host_ed25519_key && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key </dev/null >/dev/null && ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"); err != nil {
		t.Fatalf("rekey: %v %s", err, out)
	}
	c2 := fleetClient(t, f, func(o *Options) { o.KnownHostsFiles = []string{kh}; o.AcceptNew = true })
	_, err = c2.Run(ctx, tg, "true", nil, nil, nil)
	if !errors.As(err, &hk) || !hk.Changed || !strings.Contains(err.Error(), fp) {
		t.Fatalf("want changed host key refused, got %v", err)
	}
	t.Log(err)
}

// OpenSSH and session signals. For root (how discoterm logs in by default)
// sshd refuses "signal" requests; the client then delivers SIGTERM with
// kill from a second session. For other users the request works.
func TestFleetCancelDeliversSIGTERM(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	h := f.Hosts[0]
	ctx := context.Background()
	// A non-root user with the fleet's key.
	if out, err := h.Exec(ctx, "sh", "-c", "useradd -m -s /bin/sh -p '*' dtuser && mkdir -p ~dtuser/.ssh && cp /root/.ssh/authorized_keys ~dtuser/.ssh/ && chown -R dtuser: ~dtuser/.ssh && chmod 700 ~dtuser/.ssh"); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	const script = `sh -c 'trap "echo got-term; exit 7" TERM; sleep 30 & wait'`
	// sshd signals the session's process group (killpg). The exit status is
	// the login shell's: bash execs a lone last command, dash (dtuser's
	// /bin/sh) does not and dies of the TERM itself (143) while the inner
	// sh's trap still runs. "exec" makes the trapping shell the leader.
	for _, tc := range []struct {
		user, cmd string
		code      int
	}{
		{"root", script, 7},
		{"root", "exec " + script, 7},
		{"dtuser", script, 143},
		{"dtuser", "exec " + script, 7},
	} {
		t.Run(tc.user+"/"+strings.Fields(tc.cmd)[0], func(t *testing.T) {
			c := fleetClient(t, f, nil)
			tg := Target{Addr: h.ULA, User: tc.user, Name: h.Name}
			if _, err := c.Run(ctx, tg, "true", nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(500*time.Millisecond, cancel)
			var out bytes.Buffer
			start := time.Now()
			code, err := c.Run(cctx, tg, tc.cmd, nil, &out, nil)
			d := time.Since(start) - 500*time.Millisecond
			if code != tc.code || !strings.Contains(out.String(), "got-term") || !errors.Is(err, context.Canceled) {
				t.Fatalf("code %d out %q err %v", code, out.String(), err)
			}
			if d > 2*time.Second {
				t.Errorf("returned %v after cancel", d)
			}
			t.Logf("%s: exit %d, %q, %v after cancel; %v", tc.user, code, strings.TrimSpace(out.String()), d.Round(time.Millisecond), err)
		})
	}

	// The raw facts, with x/crypto alone: a "signal" request on a root
	// session does nothing (sshd logs why); on a user session it works.
	signer, err := f.Signer()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user      string
		delivered bool
	}{{"root", false}, {"dtuser", true}} {
		cl, err := ssh.Dial("tcp", "["+h.ULA+"]:22", &ssh.ClientConfig{
			User: tc.user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := cl.NewSession()
		var out bytes.Buffer
		s.Stdout = &out
		s.Start(script)
		time.Sleep(300 * time.Millisecond)
		s.Signal(ssh.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.Wait() }()
		var delivered bool
		select {
		case <-done:
			delivered = strings.Contains(out.String(), "got-term")
		case <-time.After(2 * time.Second):
		}
		cl.Close()
		if delivered != tc.delivered {
			t.Errorf("%s: signal request delivered=%v, want %v", tc.user, delivered, tc.delivered)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if log, _ := os.ReadFile(h.LogPath()); !bytes.Contains(log, []byte("session signalling requires privilege separation")) {
		t.Errorf("sshd log lacks the refusal:\n%s", log)
	} else {
		for _, l := range strings.Split(string(log), "\n") {
			if strings.Contains(l, "signal") {
				t.Logf("sshd: %s", l)
			}
		}
	}
}

// Many hosts at once, several Runs per host concurrently.
func TestFleetConcurrent(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 6})
	c := fleetClient(t, f, func(o *Options) { o.MaxSessions = 4 })
	ctx := context.Background()
	errs := make(chan error, 100)
	start := time.Now()
	done := make(chan struct{})
	n := 0
	for _, h := range f.Hosts {
		for j := 0; j < 5; j++ {
			n++
			go func() {
				defer func() { done <- struct{}{} }()
				var out bytes.Buffer
				if _, err := c.Run(ctx, Target{Addr: h.ULA}, "hostname", nil, &out, nil); err != nil {
					errs <- err
				} else if strings.TrimSpace(out.String()) != h.Name {
					errs <- fmt.Errorf("%s: %q", h.Name, out.String())
				}
			}()
		}
	}
	for i := 0; i < n; i++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var dials []string
	for _, h := range f.Hosts {
		st := c.Stats(Target{Addr: h.ULA})
		if st.Dials != 1 {
			t.Errorf("%s: %+v", h.Name, st)
		}
		dials = append(dials, fmt.Sprint(st.Dials))
	}
	sort.Strings(dials)
	t.Logf("%d Runs on %d hosts in %v", n, len(f.Hosts), time.Since(start).Round(time.Millisecond))
}

// BenchmarkRunFleet: one op is 100 Runs of `true`, one session each, on one
// pooled connection to real OpenSSH sshd.
func BenchmarkRunFleet(b *testing.B) {
	f := testfleet.StartT(b, testfleet.Options{N: 1})
	c := fleetClient(b, f, nil)
	tg := Target{Addr: f.Hosts[0].ULA}
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

package testfleet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	requireOnce   sync.Once
	requireReason string
)

// Usable reports why fleets cannot be made on this machine ("" when they can).
func Usable() string {
	requireOnce.Do(func() { requireReason = probe() })
	return requireReason
}

func probe() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces, mounts)"
	}
	for _, c := range []string{"ip", "unshare", "nsenter", "chroot", "mount", "sh"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Sprintf("%s not found (iproute2/util-linux)", c)
		}
	}
	if fi, err := os.Stat("/usr/sbin/sshd"); err != nil || fi.Mode()&0o111 == 0 {
		return "/usr/sbin/sshd not found (apt-get install openssh-server)"
	}
	ctx := context.Background()
	if _, err := run(ctx, 10*time.Second, nil, "ip", "netns", "list"); err != nil {
		return fmt.Sprintf("`ip netns` does not work: %v", err)
	}
	d, err := os.MkdirTemp("", "dtfleet-probe-")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(d)
	const script = `set -e
mount -t tmpfs tmpfs "$1"
mkdir "$1/u" "$1/w" "$1/m"
mount -t overlay overlay -o "lowerdir=/,upperdir=$1/u,workdir=$1/w" "$1/m"
test -e "$1/m/etc/passwd"
`
	if out, err := run(ctx, 10*time.Second, nil, "unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", d); err != nil {
		return fmt.Sprintf("overlayfs with lowerdir=/ is not mountable: %v %s", err, strings.TrimSpace(string(out)))
	}
	return ""
}

// Require skips the test unless this machine can run fleets (root, working
// `ip netns`, sshd, overlayfs). With CI=true in the environment it fails
// instead: CI must run these tests.
func Require(t testing.TB) {
	t.Helper()
	if r := Usable(); r != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testfleet: %s (CI=true: fleet tests must run)", r)
		}
		t.Skipf("testfleet: %s", r)
	}
}

// StartT is Require + Start (bounded by two minutes plus a little per host)
// + t.Cleanup(Stop). When the test failed, the cleanup logs the tail of
// every sshd log first.
func StartT(t testing.TB, opts Options) *Fleet {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+time.Duration(opts.N)*200*time.Millisecond)
	defer cancel()
	f, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("testfleet: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range f.Hosts {
				if tail := h.logTail(15); tail != "" {
					t.Logf("%s (%s) sshd log:\n%s", h.Name, filepath.Base(h.LogPath()), tail)
				}
			}
		}
		if err := f.Stop(); err != nil {
			t.Errorf("testfleet: stop: %v", err)
		}
	})
	return f
}

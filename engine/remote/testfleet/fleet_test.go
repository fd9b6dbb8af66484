package testfleet

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func sshOut(t *testing.T, f *Fleet, target string, remote ...string) (string, error) {
	t.Helper()
	args := []string{"-F", "/dev/null", "-i", f.ClientKey, "-o", "UserKnownHostsFile=" + f.KnownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", target}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh", append(args, remote...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestSmoke(t *testing.T) {
	t0 := time.Now()
	f := StartT(t, Options{N: 3})
	t.Logf("start: %v", time.Since(t0))
	for _, h := range f.Hosts {
		out, err := sshOut(t, f, "root@"+h.ULA, "hostname")
		if err != nil || out != h.Name {
			t.Errorf("%s: %q %v", h.Name, out, err)
		}
	}
}

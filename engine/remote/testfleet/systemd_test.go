package testfleet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sdCgroupsLeft lists the fleet's cgroups still in the machine's cgroup
// hierarchies.
func sdCgroupsLeft(f *Fleet) []string {
	var left []string
	for _, root := range cgroupRoots() {
		m, _ := filepath.Glob(filepath.Join(root, sdCgroupParent, "dt"+f.ID+"h*"))
		left = append(left, m...)
	}
	return left
}

// A systemd host: a login sees systemd as PID 1 and only the test's
// units; systemd-run timers fire; Stop leaves no process, mount, netns or
// cgroup behind.
func TestSystemdHost(t *testing.T) {
	RequireSystemd(t)
	ctx := context.Background()
	t0 := time.Now()
	f, err := Start(ctx, Options{N: 2, Systemd: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start of 2 systemd hosts: %v", time.Since(t0))
	stopped := false
	defer func() {
		if !stopped {
			f.Stop()
		}
	}()
	h := f.Hosts[0]
	target := "root@" + h.ULA
	for _, c := range []struct{ cmd, want string }{
		{"cat /proc/1/comm", "systemd"},
		{"cat /proc/1/environ | tr '\\0' '\\n' | grep ^container=", "container=discoterm-testfleet"},
		{"systemctl is-system-running", "running"},
		{"test -d /run/systemd/system && echo booted", "booted"},
		{"hostname", h.Name},
		{"systemctl list-units --type=service --state=running --no-legend | wc -l", "0"},
	} {
		out, err := sshRun(t, f, target, c.cmd)
		if err != nil || out != c.want {
			t.Errorf("%s: %q (%v), want %q", c.cmd, out, err, c.want)
		}
	}
	// A login's processes are in systemd's PID namespace.
	if out, err := sshRun(t, f, target, "ps -o pid= -p 1; readlink /proc/1/ns/pid; readlink /proc/self/ns/pid"); err != nil {
		t.Errorf("ps: %v %s", err, out)
	} else if l := strings.Fields(out); len(l) != 3 || l[0] != "1" || l[1] != l[2] {
		t.Errorf("login not in systemd's PID namespace: %q", out)
	}
	// Exec too.
	if out, err := h.Exec(ctx, "cat", "/proc/1/comm"); err != nil || strings.TrimSpace(string(out)) != "systemd" {
		t.Errorf("Exec cat /proc/1/comm: %q %v", out, err)
	}
	// A transient timer outlives the login that armed it and fires.
	if out, err := sshRun(t, f, target, "systemd-run --quiet --unit dt-probe --on-active=1s --timer-property=AccuracySec=100ms /bin/sh -c 'echo fired > /root/fired' && systemctl list-timers --no-legend dt-probe.timer"); err != nil || !strings.Contains(out, "dt-probe.timer") {
		t.Fatalf("systemd-run: %v %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := h.ReadFile("/root/fired")
		if err == nil && string(b) == "fired\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timer did not fire: %v %q", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The other host is a separate systemd.
	if out, err := sshRun(t, f, "root@"+f.Hosts[1].ULA, "systemctl list-timers --all --no-legend | grep -c dt-probe"); out != "0" {
		t.Errorf("host 2 sees host 1's timer: %q %v", out, err)
	}
	if len(sdCgroupsLeft(f)) == 0 {
		t.Errorf("no cgroup for the systemd hosts under %s", sdCgroupParent)
	}
	// Stop with a unit running.
	sshRun(t, f, target, "systemd-run --quiet --unit dt-sleep sleep 600")
	go sshRun(t, f, target, "sleep 60")
	time.Sleep(200 * time.Millisecond)
	pids := fleetPids(f)
	t1 := time.Now()
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	t.Logf("stop: %v", time.Since(t1))
	if d := time.Since(t1); d > 15*time.Second {
		t.Errorf("stop took %v", d)
	}
	if left := fleetTraces(f, pids); len(left) > 0 {
		t.Errorf("left after Stop: %v", left)
	}
	if left := sdCgroupsLeft(f); len(left) > 0 {
		t.Errorf("cgroups left after Stop: %v", left)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if c, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && strings.Contains(string(c), "container=discoterm-testfleet") {
			if r, _ := os.Readlink("/proc/" + e.Name() + "/root"); strings.HasPrefix(r, f.Dir) || r == "" {
				t.Errorf("process %s of a systemd host left", e.Name())
			}
		}
	}
}

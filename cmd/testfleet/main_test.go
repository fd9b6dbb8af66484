package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// TestUpDown runs the command: `up` leaves a working fleet behind after the
// command exits, Sweep leaves it alone, `status` lists it, `down` removes it.
func TestUpDown(t *testing.T) {
	testfleet.Require(t)
	bin := filepath.Join(t.TempDir(), "testfleet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %s %v", out, err)
	}
	dir := filepath.Join(t.TempDir(), "fleet")
	t.Cleanup(func() { exec.Command(bin, "down", "-dir", dir).Run() })

	out, err := exec.Command(bin, "up", "-n", "2", "-dir", dir, "-prefix", "demo", "-stable-privacy", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("up: %s %v", out, err)
	}
	for _, want := range []string{"demo1", "demo2", "stable-privacy", "known_hosts", dir} {
		if !strings.Contains(string(out), want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	f, err := testfleet.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := testfleet.Sweep(); err != nil {
		t.Logf("sweep: %v", err)
	}
	for _, h := range f.Hosts {
		o, err := exec.Command("ssh", append(h.SSHArgs(), "hostname")...).CombinedOutput()
		if err != nil || strings.TrimSpace(string(o)) != h.Name {
			t.Errorf("ssh %s after up exited: %q %v", h.Name, o, err)
		}
	}
	out, err = exec.Command(bin, "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), f.ID) || !strings.Contains(string(out), "detached") {
		t.Errorf("status: %s %v", out, err)
	}
	if out, err := exec.Command(bin, "down", "-dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("down: %s %v", out, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", dir, err)
	}
	links, _ := exec.Command("ip", "-o", "link").Output()
	nss, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(links), "dt"+f.ID) || strings.Contains(string(nss), "dt"+f.ID) {
		t.Errorf("fleet %s left links or namespaces", f.ID)
	}
	for _, h := range f.Hosts {
		if _, err := os.Stat("/proc/" + itoa(h.SSHDPid)); err == nil {
			if b, _ := os.ReadFile("/proc/" + itoa(h.SSHDPid) + "/cmdline"); strings.Contains(string(b), "sshd") {
				t.Errorf("sshd %d of %s still runs", h.SSHDPid, h.Name)
			}
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

package vmtest

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildInitramfs: the archive unpacks (busybox cpio reads it) with
// /init, busybox, sshd and its loader, and the NIC's modules listed after
// the modules they depend on.
func TestBuildInitramfs(t *testing.T) {
	env, err := FindEnv()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true: this test must run)", err)
		}
		t.Skip(err)
	}
	dst := filepath.Join(t.TempDir(), "initrd")
	if err := BuildInitramfs(dst, InitramfsOptions{Busybox: env.Busybox, Sshd: env.Sshd, ModDir: env.ModDir, AuthorizedKey: "ssh-ed25519 AAAA controller"}); err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("DISCOTERM_VM_INITRD"); p != "" { // to boot it by hand
		data, _ := os.ReadFile(dst)
		os.WriteFile(p, data, 0o644)
	}
	gz, _ := os.ReadFile(dst)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	raw.ReadFrom(zr)
	dir := t.TempDir()
	cmd := exec.Command(env.Busybox, "cpio", "-i", "-d", "-m")
	cmd.Dir, cmd.Stdin = dir, &raw
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox cpio -i: %v %s", err, out)
	}
	for _, p := range []string{"init", "bin/busybox", "usr/sbin/sshd", "lib64/ld-linux-x86-64.so.2", "etc/ssh/sshd_config", "root/.ssh/authorized_keys"} {
		if st, err := os.Lstat(filepath.Join(dir, p)); err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s: %v", p, err)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh → %q (%v), want busybox", target, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "root")); st == nil || st.Mode().Perm() != 0o700 {
		t.Errorf("/root mode %v, want 0700 (sshd's StrictModes)", st)
	}
	load, _ := os.ReadFile(filepath.Join(dir, "etc/modules.load"))
	mods := strings.Fields(string(load))
	idx := map[string]int{}
	for i, m := range mods {
		idx[strings.TrimSuffix(filepath.Base(m), ".ko")] = i
		if _, err := os.Stat(filepath.Join(dir, m)); err != nil {
			t.Errorf("module %s listed but not in the archive", m)
		}
	}
	for _, before := range [][2]string{{"virtio", "virtio_pci"}, {"virtio_ring", "virtio_net"}, {"net_failover", "virtio_net"}, {"failover", "net_failover"}} {
		a, okA := idx[before[0]]
		b, okB := idx[before[1]]
		if !okA || !okB || a > b {
			t.Errorf("modules.load %v: want %s before %s", mods, before[0], before[1])
		}
	}
}

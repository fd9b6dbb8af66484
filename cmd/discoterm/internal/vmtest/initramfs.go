package vmtest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

//go:embed init.sh
var initScript []byte

//go:embed udhcpc.sh
var udhcpcScript []byte

// InitramfsOptions say what goes into the test VM's initramfs.
type InitramfsOptions struct {
	Busybox string // a static busybox (Debian busybox-static)
	Sshd    string // OpenSSH's sshd; its shared libraries come along (ldd)
	// ModDir is /lib/modules/VERSION of the kernel the VM boots; the
	// virtio NIC's modules and what they depend on are taken from it.
	ModDir string
	// AuthorizedKey is root's authorized_keys line: the controller's key.
	AuthorizedKey string
}

// The modules the VM's virtio-net NIC needs on a Debian kernel (built
// as modules there); their dependencies are found in .modinfo.
var nicModules = []string{"virtio_pci", "virtio_net"}

const sshdConfig = `Port 22
AddressFamily any
ListenAddress 0.0.0.0
ListenAddress ::
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
Subsystem sftp internal-sftp
`

// BuildInitramfs writes a gzip'd newc cpio to dst: busybox, sshd with
// its libraries, the NIC's kernel modules, /init (init.sh) and the few
// files sshd needs.
func BuildInitramfs(dst string, o InitramfsOptions) error {
	a := newCpio()
	if err := requireStatic(o.Busybox); err != nil {
		return err
	}
	bb, err := os.ReadFile(o.Busybox)
	if err != nil {
		return err
	}
	a.file("bin/busybox", 0o755, bb)
	a.symlink("bin/sh", "busybox")
	a.file("init", 0o755, initScript)
	a.file("etc/udhcpc.sh", 0o755, udhcpcScript)

	if err := addWithLibs(a, o.Sshd, "usr/sbin/sshd"); err != nil {
		return err
	}
	mods, err := moduleFiles(o.ModDir, nicModules)
	if err != nil {
		return err
	}
	var load strings.Builder
	for _, m := range mods {
		data, err := os.ReadFile(m)
		if err != nil {
			return err
		}
		in := "/lib/modules/" + filepath.Base(m)
		a.file(in, 0o644, data)
		load.WriteString(in + "\n")
	}
	a.file("etc/modules.load", 0o644, []byte(load.String()))

	a.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/bin/false\n"))
	a.file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	a.file("etc/shadow", 0o600, []byte("root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n"))
	a.file("etc/nsswitch.conf", 0o644, []byte("passwd: files\ngroup: files\nshadow: files\n"))
	a.file("etc/ssh/sshd_config", 0o644, []byte(sshdConfig))
	a.dir("root", 0o700)
	a.dir("root/.ssh", 0o700)
	a.file("root/.ssh/authorized_keys", 0o600, []byte(strings.TrimSpace(o.AuthorizedKey)+"\n"))
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "var", "usr/bin"} {
		a.dir(d, 0o755)
	}

	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := a.writeTo(zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// addWithLibs adds a dynamically linked program at name, with each
// shared library ldd names (and the loader) at its own path.
func addWithLibs(a *cpioArchive, prog, name string) error {
	data, err := os.ReadFile(prog)
	if err != nil {
		return err
	}
	a.file(name, 0o755, data)
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %v", prog, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		lib := ""
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0] // the loader
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return fmt.Errorf("%s: library %s not found", prog, f[0])
		default:
			continue // linux-vdso
		}
		data, err := os.ReadFile(lib)
		if err != nil {
			return fmt.Errorf("%s needs %s: %v", prog, lib, err)
		}
		a.file(path.Clean(lib), 0o755, data)
	}
	return nil
}

// requireStatic refuses a dynamically linked busybox: the initramfs has
// only sshd's libraries.
func requireStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	defer f.Close()
	for _, pr := range f.Progs {
		if pr.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is linked dynamically; the VM needs a static busybox (apt-get install busybox-static)", p)
		}
	}
	return nil
}

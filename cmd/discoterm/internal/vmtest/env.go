// Package vmtest boots a real virtual machine for discoterm's end-to-end
// netboot test: a test bridge and a tap, a small initramfs built from
// the machine's own busybox-static and OpenSSH, and QEMU with the iPXE
// boot ROM booting from the network.
package vmtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Env is what booting the VM takes from this machine.
type Env struct {
	QEMU string // qemu-system-x86_64 (Debian qemu-system-x86)
	// ROM is the iPXE boot ROM QEMU loads for a virtio NIC by default
	// (Debian ipxe-qemu); without it the VM cannot boot from the network.
	ROM     string
	Kernel  string // a Debian kernel (linux-image-amd64)
	ModDir  string // its modules
	Busybox string // busybox-static
	Sshd    string // openssh-server
	// KVM: /dev/kvm can be opened and runs a stock kernel; else QEMU
	// emulates the CPU (TCG). KVMWhy says why not.
	KVM    bool
	KVMWhy string
}

// Packages are the Debian packages that provide Env.
const Packages = "qemu-system-x86 ipxe-qemu linux-image-amd64 busybox-static openssh-server"

// FindEnv looks for what the VM needs; the error says what is missing
// and how to install it. KVM is false (not an error) without /dev/kvm.
func FindEnv() (Env, error) {
	var e Env
	var missing []string
	look := func(dst *string, names []string, pkg string) {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				*dst = p
				return
			}
			if st, err := os.Stat(n); err == nil && st.Mode().IsRegular() {
				*dst = n
				return
			}
		}
		missing = append(missing, fmt.Sprintf("%s (%s)", filepath.Base(names[0]), pkg))
	}
	look(&e.QEMU, []string{"qemu-system-x86_64"}, "qemu-system-x86")
	look(&e.ROM, []string{"/usr/lib/ipxe/qemu/efi-virtio.rom"}, "ipxe-qemu")
	look(&e.Busybox, []string{"/bin/busybox", "/usr/bin/busybox"}, "busybox-static")
	look(&e.Sshd, []string{"/usr/sbin/sshd"}, "openssh-server")
	if e.Busybox != "" {
		if err := requireStatic(e.Busybox); err != nil {
			e.Busybox = ""
			missing = append(missing, "a static busybox (busybox-static)")
		}
	}
	e.Kernel, e.ModDir = findKernel()
	if e.Kernel == "" {
		missing = append(missing, "a kernel with its modules, /boot/vmlinuz-V and /lib/modules/V (linux-image-amd64)")
	}
	e.KVM, e.KVMWhy = kvmUsable()
	if len(missing) > 0 {
		return e, errors.New("needs " + strings.Join(missing, ", ") + "; apt-get install " + Packages)
	}
	return e, nil
}

// kvmUsable tells whether QEMU can run a stock Debian kernel under KVM.
// DISCOTERM_VM_ACCEL=kvm or tcg decides. PVM (kvm_pvm, KVM without
// hardware virtualization, as on nested cloud machines) only runs
// guests built for it: a Debian kernel hangs there after its real-mode
// setup, and SeaBIOS and iPXE crawl.
func kvmUsable() (bool, string) {
	switch os.Getenv("DISCOTERM_VM_ACCEL") {
	case "tcg":
		return false, "DISCOTERM_VM_ACCEL=tcg"
	case "kvm":
		return true, ""
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return false, "/dev/kvm is PVM (kvm_pvm), which runs no stock kernel"
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false, "no usable /dev/kvm (" + err.Error() + ")"
	}
	f.Close()
	return true, ""
}

// findKernel is the newest /boot/vmlinuz-V whose /lib/modules/V exists.
func findKernel() (kernel, modDir string) {
	ks, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Strings(ks)
	for i := len(ks) - 1; i >= 0; i-- {
		v := strings.TrimPrefix(filepath.Base(ks[i]), "vmlinuz-")
		md := filepath.Join("/lib/modules", v)
		if st, err := os.Stat(filepath.Join(md, "kernel")); err == nil && st.IsDir() {
			return ks[i], md
		}
	}
	return "", ""
}

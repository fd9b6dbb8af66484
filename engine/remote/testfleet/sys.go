package testfleet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// cmdTimeout bounds every short external command (ip, mount helpers, …).
const cmdTimeout = 20 * time.Second

// cleanEnv is the environment of every command this package starts, so
// nothing of the caller's environment (PATH tricks, LD_*, locale, pyenv…)
// leaks into the hosts.
var cleanEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"USER=root",
	"LOGNAME=root",
}

// run runs a short command with a timeout and returns its combined output;
// the error includes the command line and the output.
func run(ctx context.Context, timeout time.Duration, stdin []byte, name string, args ...string) ([]byte, error) {
	if timeout <= 0 {
		timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = cleanEnv
	cmd.WaitDelay = 2 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		line := name + " " + strings.Join(args, " ")
		if len(line) > 200 {
			line = line[:200] + "…"
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		return out, fmt.Errorf("%s: %w: %s", line, err, bytes.TrimSpace(out))
	}
	return out, nil
}

// ipBatch feeds commands to one `ip -batch -` process (optionally inside a
// netns, with -force to go on after errors).
func ipBatch(ctx context.Context, netns string, force bool, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	var args []string
	if netns != "" {
		args = append(args, "-n", netns)
	}
	if force {
		args = append(args, "-force")
	}
	args = append(args, "-batch", "-")
	timeout := cmdTimeout + time.Duration(len(lines))*100*time.Millisecond
	_, err := run(ctx, timeout, []byte(strings.Join(lines, "\n")+"\n"), "ip", args...)
	return err
}

// inNetns runs fn on an OS thread switched into the network namespace at
// nsPath. /proc/sys/net and netlink sockets opened by fn belong to that
// namespace. The thread is switched back (or, if that fails, discarded).
func inNetns(nsPath string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", nsPath, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime ends it with this goroutine.
			errc <- fmt.Errorf("setns back to the root netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// sysctlPath maps "net.ipv6.conf.eth0.accept_dad" (or the slash form) to its
// /proc/sys path.
func sysctlPath(name string) string {
	if strings.Contains(name, "/") {
		return "/proc/sys/" + strings.TrimPrefix(name, "/")
	}
	return "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
}

func writeSysctl(name, value string) error {
	if err := os.WriteFile(sysctlPath(name), []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

func readSysctl(name string) (string, error) {
	b, err := os.ReadFile(sysctlPath(name))
	return strings.TrimSpace(string(b)), err
}

// newKey returns a fresh ed25519 key: the private key in OpenSSH PEM form and
// the public key as an authorized_keys line (no trailing newline).
func newKey(comment string) (privPEM []byte, pubLine string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	blk, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, "", err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
	if comment != "" {
		line += " " + comment
	}
	return pem.EncodeToMemory(blk), line, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// eui64LinkLocal is the link-local address the kernel derives from mac
// (addr_gen_mode 0).
func eui64LinkLocal(mac [6]byte) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8] = mac[0] ^ 0x02
	a[9], a[10] = mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// procStart returns the start time (clock ticks since boot) of pid and
// whether it is a live (non-zombie) process.
func procStart(pid int) (start uint64, alive bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return start, f[0] != "Z" && f[0] != "X"
}

// sameProc reports whether pid is still the live process that started at start.
func sameProc(pid int, start uint64) bool {
	s, alive := procStart(pid)
	return alive && start != 0 && s == start
}

// waitGone waits until none of pids is a live process.
func waitGone(pids []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, p := range pids {
			if _, alive := procStart(p); alive {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes still alive after %v: %v", timeout, left)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nsInode returns the inode of a namespace file (/run/netns/x, /proc/p/ns/net).
func nsInode(path string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// pidsInNetns returns the live processes whose network namespace is one of
// the given namespace inodes.
func pidsInNetns(inodes map[uint64]bool) []int {
	if len(inodes) == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if ino, ok := nsInode("/proc/" + e.Name() + "/ns/net"); ok && inodes[ino] {
			out = append(out, pid)
		}
	}
	return out
}

// mountsUnder lists mount points at or below dir (from /proc/self/mountinfo).
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		mp := unescapeMount(fs[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmount unmounts dir, lazily if it is busy; "not mounted" is not an error.
func unmount(dir string) error {
	for _, mp := range reverse(mountsUnder(dir)) {
		err := unix.Unmount(mp, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(mp, unix.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("umount %s: %w", mp, err)
		}
	}
	return nil
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func linkExists(name string) bool { return exists("/sys/class/net/" + name) }

func netnsExists(name string) bool { return exists("/run/netns/" + name) }

// writeFileAtomic writes via a temporary file and rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// kill signals pid, but never init, this process or a process in this
// process's (or init's) network namespace: every process of a fleet host
// lives in the host's namespace, so this guards against killing anything
// else through a stale or reused pid.
func kill(pid int, sig syscall.Signal) bool {
	if pid <= 1 || pid == os.Getpid() {
		return false
	}
	ino, ok := nsInode("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if !ok {
		return false
	}
	for _, p := range []string{"/proc/self/ns/net", "/proc/1/ns/net"} {
		if own, ok := nsInode(p); ok && own == ino {
			return false
		}
	}
	return syscall.Kill(pid, sig) == nil
}

// machineCgroup says how this machine mounts the cgroup hierarchy that
// has the v1 option opt ("memory", "name=systemd"): ("cgroup2",
// "/sys/fs/cgroup") where /sys/fs/cgroup is unified, ("v1", its mount
// point) for a v1 hierarchy with opt, or ("", "") for neither.
func machineCgroup(opt string) (kind, root string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		switch {
		case f[4] == "/sys/fs/cgroup" && strings.Contains(l, " - cgroup2 "):
			return "cgroup2", f[4]
		case strings.Contains(l, " - cgroup ") && strings.Contains(","+f[len(f)-1]+",", ","+opt+","):
			kind, root = "v1", f[4]
		}
	}
	return kind, root
}

// machineCgroups says how this machine mounts the memory cgroup, for
// the anchor script: cgroup2, v1 or none.
func machineCgroups() string {
	if kind, _ := machineCgroup("memory"); kind != "" {
		return kind
	}
	return "none"
}

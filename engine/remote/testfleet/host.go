package testfleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var (
	// ExecTimeout bounds Host.Exec when its context has no deadline.
	ExecTimeout = 2 * time.Minute
	// ReadyTimeout bounds waiting for a host's sshd to answer.
	ReadyTimeout = 20 * time.Second
)

// ---- the host's filesystem view ------------------------------------------

// upperMkdir creates rel (e.g. "etc/ssh") in the upper dir, each new
// component with the mode and owner of the directory it shadows in the
// lower layer (overlayfs shows the upper directory's attributes).
func upperMkdir(upper, rel string, opaque bool) error {
	p := upper
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	for i, c := range parts {
		p = filepath.Join(p, c)
		lower := "/" + strings.Join(parts[:i+1], "/")
		if exists(p) {
			continue
		}
		mode, uid, gid := uint32(0o755), 0, 0
		var st unix.Stat_t
		if err := unix.Lstat(lower, &st); err == nil {
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return fmt.Errorf("%s is not a directory on this machine", lower)
			}
			mode, uid, gid = st.Mode&0o7777, int(st.Uid), int(st.Gid)
		}
		if err := unix.Mkdir(p, 0o700); err != nil {
			return err
		}
		if err := unix.Chmod(p, mode); err != nil {
			return err
		}
		if err := unix.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	if opaque {
		// Hide the machine's contents of this directory.
		if err := unix.Setxattr(p, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("opaque %s: %w", rel, err)
		}
	}
	return nil
}

func upperWrite(upper, path string, data []byte, mode os.FileMode) error {
	if err := upperMkdir(upper, filepath.Dir(path), false); err != nil {
		return err
	}
	p := filepath.Join(upper, path)
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

// prepareView writes the host's own files into its upper dir before the
// overlay is mounted.
func (f *Fleet) prepareView(h *Host) error {
	hd := f.hostDir(h)
	upper := f.upperDir(h)
	for _, d := range []string{upper, filepath.Join(hd, "work"), filepath.Join(hd, "merged")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// Private, empty /run (sshd's privilege separation dir), /tmp and
	// /root/.ssh; the machine's stay hidden.
	for _, d := range []string{"run", "tmp", "root/.ssh"} {
		if err := upperMkdir(upper, d, true); err != nil {
			return err
		}
	}
	if err := upperMkdir(upper, "run/sshd", false); err != nil {
		return err
	}
	priv, pub, err := newKey("root@" + h.Name)
	if err != nil {
		return err
	}
	h.HostKey = pub
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, o := range f.Hosts {
		fmt.Fprintf(&hosts, "%s\t%s\n", o.ULA, o.Name)
	}
	files := []struct {
		path string
		data string
		mode os.FileMode
	}{
		{"etc/hostname", h.Name + "\n", 0o644},
		{"etc/hosts", hosts.String(), 0o644},
		{"etc/machine-id", h.MachineID + "\n", 0o444},
		{hostKeyPath, string(priv), 0o600},
		{hostKeyPath + ".pub", pub + "\n", 0o644},
		{sshdConfig, sshdConfigText(f.PQKex), 0o644},
		// A clean, fast login environment for root.
		{"root/.bashrc", "", 0o644},
		{"root/.profile", "", 0o644},
		{"root/.ssh/authorized_keys", f.ClientPubKey + "\n", 0o600},
	}
	if fi, err := os.Lstat("/var/lib/dbus/machine-id"); err == nil && fi.Mode().IsRegular() {
		files = append(files, struct {
			path string
			data string
			mode os.FileMode
		}{"var/lib/dbus/machine-id", h.MachineID + "\n", 0o444})
	}
	for _, fl := range files {
		if err := upperWrite(upper, strings.TrimPrefix(fl.path, "/"), []byte(fl.data), fl.mode); err != nil {
			return err
		}
	}
	if f.Systemd {
		return prepareSystemdView(upper)
	}
	return nil
}

func sshdConfigText(pqKex bool) string {
	if pqKex {
		return sshdConfigBase
	}
	return sshdConfigBase + "KexAlgorithms " + fastKex + "\n"
}

const sshdConfigBase = `# discoterm test fleet host
Port 22
HostKey ` + hostKeyPath + `
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
MaxStartups 200
MaxSessions 100
LogLevel INFO
`

// anchorScript runs inside the host's network namespace, in a new private
// mount namespace and UTS namespace: it mounts the host's view, sets the
// hostname, binds the machine's cgroups, reports "ready" and becomes the anchor process in the chroot.
//
// The new mount namespace starts as a copy of the machine's, including a
// bind mount per network namespace under /run/netns (N per host, N² per
// fleet, and each pins its namespace): detach them first.
const anchorScript = `set -e
umount -l /run/netns 2>/dev/null || true
mount -t overlay overlay -o "lowerdir=/,upperdir=$1,workdir=$2" "$3"
mount -t proc proc "$3/proc"
mount --rbind /dev "$3/dev"
mount --rbind /sys "$3/sys"
# ip netns exec gave this namespace a fresh sysfs without the machine's
# cgroup mounts; a real host has them (per-step peak memory reads them):
# mount the machine's memory hierarchy again ($5: cgroup2, v1 or none).
case $5 in
cgroup2) mount -t cgroup2 cgroup2 "$3/sys/fs/cgroup" 2>/dev/null || true ;;
v1) mount -t tmpfs -o mode=755 cgroup "$3/sys/fs/cgroup" 2>/dev/null &&
  mkdir -p "$3/sys/fs/cgroup/memory" &&
  mount -t cgroup -o memory memory "$3/sys/fs/cgroup/memory" 2>/dev/null || true ;;
esac
printf '%s' "$4" > /proc/sys/kernel/hostname
echo ready
exec chroot "$3" /bin/sleep infinity </dev/null >/dev/null 2>&1
`

// startAnchor creates the host's mount/UTS namespaces and root via the
// anchor process and waits until it is in place.
func (h *Host) startAnchor(ctx context.Context) error {
	f := h.fleet
	hd := f.hostDir(h)
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	args := []string{"netns", "exec", h.Netns,
		"unshare", "-m", "-u", "--propagation", "private",
		"/bin/sh", "-c", anchorScript, "dt-anchor",
		f.upperDir(h), filepath.Join(hd, "work"), filepath.Join(hd, "merged"), h.Name, machineCgroups()}
	if f.Systemd {
		args = h.systemdAnchorArgs()
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = cleanEnv
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	w.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() // reap whenever it ends
	deadline := time.Now().Add(cmdTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	r.SetReadDeadline(deadline)
	var out []byte
	var rerr error
	if f.Systemd {
		// unshare --fork keeps the pipe open while systemd runs: read
		// the line, not to EOF.
		out, rerr = readReady(r)
	} else {
		out, rerr = io.ReadAll(r)
	}
	if rerr != nil || strings.TrimSpace(string(out)) != "ready" {
		cmd.Process.Kill()
		<-done
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			return fmt.Errorf("starting the host's namespaces: timed out (%s)", strings.TrimSpace(string(out)))
		}
		if rerr != nil {
			return fmt.Errorf("starting the host's namespaces: %v: %s", rerr, out)
		}
		return fmt.Errorf("starting the host's namespaces: %s", strings.TrimSpace(string(out)))
	}
	// "ready" and EOF come just before chroot(2): wait until the anchor's
	// root is the host's view, or nsenter -r would see the machine's root.
	// A systemd host's anchor is unshare's child, PID 1 of its namespace.
	pid := cmd.Process.Pid
	if f.Systemd {
		if pid, err = childPid(pid, deadline); err != nil {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("the host's systemd: %w", err)
		}
	}
	merged := filepath.Join(hd, "merged")
	for {
		if r, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err == nil && r == merged {
			break
		}
		if _, alive := procStart(pid); !alive || time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return errors.New("the host's anchor process did not chroot into its view")
		}
		time.Sleep(time.Millisecond)
	}
	start, alive := procStart(pid)
	if !alive {
		return errors.New("the host's anchor process died")
	}
	h.mu.Lock()
	h.Pid, h.PidStart = pid, start
	h.mu.Unlock()
	if f.Systemd {
		return h.waitSystemd(ctx)
	}
	return nil
}

// startSSHD starts sshd inside the host and waits until it answers on the
// host's ULA and link-local address.
func (h *Host) startSSHD(ctx context.Context) error {
	f := h.fleet
	logf, err := os.OpenFile(f.logPath(h), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", append(h.nsenterArgs(), "/usr/sbin/sshd", "-D", "-e", "-f", sshdConfig)...)
	cmd.Env = cleanEnv
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid
	if f.Systemd {
		// nsenter --pid runs sshd as its child and exits with it.
		if pid, err = childPid(pid, time.Now().Add(cmdTimeout)); err != nil {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("starting sshd: %w", err)
		}
	}
	start, _ := procStart(pid)
	h.mu.Lock()
	h.SSHDPid, h.SSHDStart, h.sshdDone = pid, start, done
	h.mu.Unlock()
	return h.waitReady(ctx)
}

// waitReady waits until sshd sends its banner on the ULA and the
// link-local address.
func (h *Host) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	for _, addr := range []string{h.ULA, h.LinkLocalZoned()} {
		if err := h.waitBanner(ctx, addr); err != nil {
			return err
		}
	}
	return nil
}

func (h *Host) waitBanner(ctx context.Context, addr string) error {
	h.mu.Lock()
	done := h.sshdDone
	pid, start := h.SSHDPid, h.SSHDStart
	h.mu.Unlock()
	var last error
	for {
		d := net.Dialer{Timeout: 500 * time.Millisecond}
		c, err := d.DialContext(ctx, "tcp6", net.JoinHostPort(addr, "22"))
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "SSH-2.0-") {
				return nil
			}
			err = fmt.Errorf("no SSH banner (%q, %v)", line, rerr)
		}
		last = err
		dead := false
		if done != nil {
			select {
			case <-done:
				dead = true
			default:
			}
		} else if !sameProc(pid, start) {
			dead = true
		}
		if dead {
			return fmt.Errorf("sshd exited: %s", h.logTail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sshd not answering on %s: %v (%v); log: %s", addr, last, ctx.Err(), h.logTail(10))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (h *Host) logTail(n int) string {
	b, _ := os.ReadFile(h.fleet.logPath(h))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogPath is the file sshd of this host logs to.
func (h *Host) LogPath() string { return h.fleet.logPath(h) }

func (h *Host) anchorAlive() error {
	h.mu.Lock()
	pid, start := h.Pid, h.PidStart
	h.mu.Unlock()
	if pid == 0 || !sameProc(pid, start) {
		return fmt.Errorf("testfleet: host %s is not running", h.Name)
	}
	return nil
}

// ---- operations ------------------------------------------------------------

// Exec runs a command inside the host (its net, mount and UTS namespaces,
// root and cwd /) with a clean root environment and returns the combined
// output; the error includes the output. Without a deadline in ctx it is
// bounded by ExecTimeout.
func (h *Host) Exec(ctx context.Context, args ...string) ([]byte, error) {
	if len(args) == 0 {
		return nil, errors.New("testfleet: Exec without a command")
	}
	if err := h.anchorAlive(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ExecTimeout)
		defer cancel()
	}
	out, err := h.Command(ctx, args...).CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		return out, fmt.Errorf("%s: %s: %w: %s", h.Name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Command returns an unstarted command that runs args inside the host like
// Exec does, for callers that want stdin/stdout streams. ctx kills the
// command's whole process group; unlike Exec, no default timeout applies.
func (h *Host) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append(h.nsenterArgs(), args...)...)
	cmd.Env = append([]string(nil), cleanEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// openInRoot opens path as the host sees it (resolved inside the host's
// root, symlinks included).
func (h *Host) openInRoot(path string, flags int, mode uint32) (*os.File, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("testfleet: %q is not an absolute path", path)
	}
	if err := h.anchorAlive(); err != nil {
		return nil, err
	}
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", h.Pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, path, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: h.Name + ":" + path, Err: err}
	}
	return os.NewFile(uintptr(fd), h.Name+":"+path), nil
}

// ReadFile returns a file as the host sees it. A file missing on the host
// gives an error satisfying errors.Is(err, fs.ErrNotExist).
func (h *Host) ReadFile(path string) ([]byte, error) {
	fl, err := h.openInRoot(path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	return io.ReadAll(fl)
}

// WriteFile writes a file in the host's view (creating or truncating it;
// the parent directory must exist) and sets its mode to mode.
func (h *Host) WriteFile(path string, data []byte, mode os.FileMode) error {
	fl, err := h.openInRoot(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, uint32(mode.Perm()))
	if err != nil {
		return err
	}
	if _, err := fl.Write(data); err != nil {
		fl.Close()
		return err
	}
	if err := fl.Chmod(mode); err != nil {
		fl.Close()
		return err
	}
	return fl.Close()
}

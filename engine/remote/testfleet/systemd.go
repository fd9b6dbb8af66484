package testfleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Hosts with Options.Systemd run the machine's systemd as PID 1 of their own
// PID namespace, container-style: `unshare --pid --fork`, container= in its
// environment, /run and /tmp as tmpfs, the machine's name=systemd (cgroup
// v1) or cgroup2 hierarchy mounted with the host in a cgroup of its own
// (systemdCgroupDir), and only the units of sdUnitDir (SYSTEMD_UNIT_PATH):
// empty targets, so none of the machine's services start; and of the
// host's own /etc/systemd/system, empty at start. sshd and Exec
// enter that PID namespace too: a login sees systemd as PID 1, and
// systemctl/systemd-run reach it over /run/systemd/private.

// systemdBinary is the manager the hosts run.
const systemdBinary = "/lib/systemd/systemd"

// sdUnitDir holds the host's only units (inside its view).
const sdUnitDir = "etc/discoterm-testfleet/units"

// sdLocalUnitDir is the host's /etc/systemd/system: on its unit path
// after sdUnitDir, and empty at start.
const sdLocalUnitDir = "etc/systemd/system"

// sdCgroupParent is the cgroup (in the machine's systemd hierarchy) under
// which each systemd host gets one named after its network namespace.
const sdCgroupParent = "discoterm-testfleet"

// sdTargets are the targets transient units and the manager refer to; all
// empty, so default.target pulls in nothing.
var sdTargets = []string{"default", "sysinit", "basic", "timers", "sockets", "paths", "slices",
	"shutdown", "umount", "final", "time-sync", "time-set", "local-fs", "local-fs-pre", "swap",
	"multi-user", "network", "network-online", "nss-lookup", "remote-fs"}

// sdSystemConf keeps the manager off the machine's other cgroup
// hierarchies (the memory one is mounted for per-step metrics).
const sdSystemConf = `[Manager]
DefaultMemoryAccounting=no
DefaultTasksAccounting=no
DefaultIOAccounting=no
DefaultIPAccounting=no
DefaultCPUAccounting=no
DefaultStandardOutput=null
DefaultStandardError=null
`

// machineSystemdCgroup says where this machine's systemd cgroup hierarchy
// is: ("v1", its mount point) for a name=systemd hierarchy, ("cgroup2",
// "/sys/fs/cgroup") for a unified one, or ("", "") for neither.
func machineSystemdCgroup() (kind, root string) { return machineCgroup("name=systemd") }

// SystemdUsable reports why systemd hosts cannot be made on this machine
// ("" when they can).
func SystemdUsable() string {
	if r := Usable(); r != "" {
		return r
	}
	if fi, err := os.Stat(systemdBinary); err != nil || fi.Mode()&0o111 == 0 {
		return systemdBinary + " not found (apt-get install systemd)"
	}
	for _, c := range []string{"/usr/bin/systemctl", "/usr/bin/systemd-run"} {
		if _, err := os.Stat(c); err != nil {
			return c + " not found (apt-get install systemd)"
		}
	}
	if k, _ := machineSystemdCgroup(); k == "" {
		return "neither a name=systemd cgroup v1 hierarchy nor cgroup2 at /sys/fs/cgroup is mounted"
	}
	return ""
}

// RequireSystemd is Require for fleets with Options.Systemd.
func RequireSystemd(t interface {
	Helper()
	Skipf(string, ...any)
	Fatalf(string, ...any)
}) {
	t.Helper()
	if r := SystemdUsable(); r != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testfleet: %s (CI=true: fleet tests must run)", r)
		}
		t.Skipf("testfleet: systemd hosts: %s", r)
	}
}

// prepareSystemdView adds the manager's units and configuration to the
// host's upper dir.
func prepareSystemdView(upper string) error {
	for _, tg := range sdTargets {
		txt := "[Unit]\nDescription=discoterm test fleet " + tg + "\n"
		if tg == "default" {
			// As on a booted host (multi-user → basic → timers): timers
			// enabled under timers.target are started at boot.
			txt += "Wants=timers.target\n"
		}
		if err := upperWrite(upper, filepath.Join(sdUnitDir, tg+".target"), []byte(txt), 0o644); err != nil {
			return err
		}
	}
	for _, s := range []string{"-.slice", "system.slice"} {
		txt := "[Unit]\nDescription=discoterm test fleet " + s + "\nDefaultDependencies=no\n"
		if err := upperWrite(upper, filepath.Join(sdUnitDir, s), []byte(txt), 0o644); err != nil {
			return err
		}
	}
	// /etc/systemd/system is on the unit path, as on any host (unit
	// files an admin or discoterm installs), but empty: the machine's own
	// (its timers.target.wants among them) are hidden.
	if err := upperMkdir(upper, sdLocalUnitDir, true); err != nil {
		return err
	}
	return upperWrite(upper, "etc/systemd/system.conf.d/discoterm-testfleet.conf", []byte(sdSystemConf), 0o644)
}

// systemdAnchorScript is anchorScript for systemd hosts. It runs as PID 1
// of a new PID namespace (and in new mount and UTS namespaces), mounts the
// view, moves itself into the host's cgroup ($6/$7), reports "ready" and
// execs systemd in the chroot.
const systemdAnchorScript = `set -e
umount -l /run/netns 2>/dev/null || true
mount -t overlay overlay -o "lowerdir=/,upperdir=$1,workdir=$2" "$3"
mount -t proc proc "$3/proc"
mount --rbind /dev "$3/dev"
mount --rbind /sys "$3/sys"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$3/run"
mkdir -m 755 "$3/run/sshd"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$3/tmp"
case $6 in
cgroup2) mount -t cgroup2 cgroup2 "$3/sys/fs/cgroup"
  cg="$3/sys/fs/cgroup/$7" ;;
v1) mount -t tmpfs -o mode=755 cgroup "$3/sys/fs/cgroup"
  mkdir -p "$3/sys/fs/cgroup/systemd"
  mount -t cgroup -o none,name=systemd cgroup "$3/sys/fs/cgroup/systemd"
  cg="$3/sys/fs/cgroup/systemd/$7"
  if [ "$5" = v1 ]; then
    mkdir -p "$3/sys/fs/cgroup/memory" &&
      mount -t cgroup -o memory memory "$3/sys/fs/cgroup/memory" 2>/dev/null || true
  fi ;;
*) echo "no systemd cgroup hierarchy"; exit 1 ;;
esac
mkdir -p "$cg"
echo $$ > "$cg/cgroup.procs"
printf '%s' "$4" > /proc/sys/kernel/hostname
echo ready
exec env -i container=discoterm-testfleet SYSTEMD_UNIT_PATH="/$8:/$9" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  chroot "$3" ` + systemdBinary + ` --log-target=null </dev/null >/dev/null 2>&1
`

// readReady reads the anchor's output up to its "ready" line (or EOF).
func readReady(r io.Reader) ([]byte, error) {
	var out []byte
	b := make([]byte, 512)
	for {
		n, err := r.Read(b)
		out = append(out, b[:n]...)
		if strings.HasSuffix(string(out), "ready\n") {
			return out, nil
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// systemdCgroupDir is the host's cgroup (relative to the hierarchy root).
func (h *Host) systemdCgroupDir() string { return sdCgroupParent + "/" + h.Netns }

// anchorCommand is the command startAnchor runs for a systemd host.
func (h *Host) systemdAnchorArgs() []string {
	f := h.fleet
	hd := f.hostDir(h)
	kind, _ := machineSystemdCgroup()
	return []string{"netns", "exec", h.Netns,
		"unshare", "-m", "-u", "-p", "-f", "--propagation", "private",
		"/bin/sh", "-c", systemdAnchorScript, "dt-anchor",
		f.upperDir(h), filepath.Join(hd, "work"), filepath.Join(hd, "merged"), h.Name, machineCgroups(),
		kind, h.systemdCgroupDir(), sdUnitDir, sdLocalUnitDir}
}

// nsenterArgs enter the host's namespaces, root and cwd / (and its PID
// namespace on a systemd host).
func (h *Host) nsenterArgs() []string {
	a := []string{"-t", strconv.Itoa(h.Pid), "-m", "-u", "-n", "-r", "-w"}
	if h.fleet.Systemd {
		a = append(a, "-p")
	}
	return append(a, "--")
}

// childPid waits until process pid has a child and returns it (unshare
// --fork and nsenter --pid run their command as a child).
func childPid(pid int, deadline time.Time) (int, error) {
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			return 0, fmt.Errorf("process %d: %w", pid, err)
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			return strconv.Atoi(f[0])
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("process %d started no child", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitSystemd waits until the host's manager has reached its default
// target (systemctl is-system-running --wait inside).
func (h *Host) waitSystemd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	sock := fmt.Sprintf("/proc/%d/root/run/systemd/private", h.Pid)
	for !exists(sock) {
		if _, alive := procStart(h.Pid); !alive {
			return errors.New("systemd died while starting")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("systemd did not open /run/systemd/private: %v", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	out, err := h.Command(ctx, "systemctl", "is-system-running", "--wait").CombinedOutput()
	if s := strings.TrimSpace(string(out)); err != nil && s != "degraded" {
		return fmt.Errorf("systemd did not come up: %v: %s", err, s)
	}
	return nil
}

// removeSystemdCgroups removes the cgroups of the fleet's systemd hosts
// (and the manager's below them) from every cgroup hierarchy of the
// machine (systemd also mounts a hybrid cgroup2 one for itself), once their processes are gone. Empty cgroups may stay busy
// for a moment after their last process died: retry for a while.
func (f *Fleet) removeSystemdCgroups() error {
	if !f.Systemd || f.ID == "" || !idRe.MatchString(f.ID) {
		return nil
	}
	roots := cgroupRoots()
	var left []string
	for _, r := range roots {
		parent := filepath.Join(r, sdCgroupParent)
		ents, _ := os.ReadDir(parent)
		for _, e := range ents {
			if m := nsNameRe.FindStringSubmatch(e.Name()); e.IsDir() && m != nil && m[1] == f.ID {
				if err := rmdirTree(filepath.Join(parent, e.Name()), 5*time.Second); err != nil {
					left = append(left, err.Error())
				}
			}
		}
		_ = unix.Rmdir(parent) // fails while another fleet uses it
	}
	if len(left) > 0 {
		return fmt.Errorf("could not remove cgroups: %s", strings.Join(left, "; "))
	}
	return nil
}

// cgroupRoots are the mount points of the machine's cgroup hierarchies.
func cgroupRoots() []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (strings.Contains(l, " - cgroup ") || strings.Contains(l, " - cgroup2 ")) {
			out = append(out, f[4])
		}
	}
	return out
}

// rmdirTree removes a cgroup directory and the cgroups below it, deepest
// first.
func rmdirTree(dir string, wait time.Duration) error {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name()), wait); err != nil {
				return err
			}
		}
	}
	deadline := time.Now().Add(wait)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package remote

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsagePeakLine: the M line's eighth field is the peak memory; "-"
// is unknown (-1), and a program prepared before it existed (seven
// fields) still parses, its peak unknown.
func TestUsagePeakLine(t *testing.T) {
	for in, want := range map[string]int64{
		"M 1 31 3 10 10 0 0 73400320\n": 73400320,
		"M 1 31 3 10 10 0 0 -\n":        -1,
		"M 1 31 3 10 10 0 0\n":          -1,
	} {
		var res ApplyResult
		reply := in + "R 1 ok 0 40 -\nEND 1 " + strings.Repeat("a", 64) + "\n"
		if _, err := readApplyReply(strings.NewReader(reply), Target{Name: "h"}, &Bundle{}, &res, nil); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if u := res.Entries[0].Usage; u == nil || u.PeakMem != want {
			t.Errorf("%q: usage %+v, want peak %d", in, u, want)
		}
	}
	var res ApplyResult
	bad := "M 1 31 3 10 10 0 0 -7\nR 1 ok 0 40 -\nEND 1 " + strings.Repeat("a", 64) + "\n"
	if _, err := readApplyReply(strings.NewReader(bad), Target{Name: "h"}, &Bundle{}, &res, nil); err == nil {
		t.Error("a negative peak parsed")
	}
}

// cgroupRunner runs host programs as localRunner does, with the cgroup
// paths the usage code reads pointed at stand-ins: a mountinfo that says
// ROOT is cgroup2, a /proc/self/cgroup naming /a/b, a plain directory as
// ROOT. What plain directories cannot do (the kernel moving the shell,
// accounting memory) the test's command fakes: it writes memory.peak.
type cgroupRunner struct{ mountinfo, cgroup, root string }

func (c cgroupRunner) Run(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	text, err := io.ReadAll(stdin)
	if err != nil {
		return -1, err
	}
	prog := strings.NewReplacer("/proc/self/mountinfo", c.mountinfo, "/proc/self/cgroup", c.cgroup, "/sys/fs/cgroup", c.root).Replace(string(text))
	x := exec.CommandContext(ctx, "sh", "-c", cmd)
	x.Stdin, x.Stdout, x.Stderr = strings.NewReader(prog), stdout, stderr
	return exitCode(x.Run())
}

// TestUsagePeakFromCgroup: where /sys/fs/cgroup is cgroup2 and the
// shell's parent cgroup hands out the memory controller, each command
// gets its own child cgroup and its memory.peak is the step's peak; where
// the controller is not handed out, the peak is unknown. Against
// stand-ins: the fleet's kernel has cgroup v1 memory (see the report).
func TestUsagePeakFromCgroup(t *testing.T) {
	for _, c := range []struct {
		name, subtree, fstype string
		want                  int64
	}{
		{"cgroup2 with memory", "cpu memory pids", "cgroup2", 12345678},
		{"memory not delegated", "cpu pids", "cgroup2", -1},
		{"not cgroup2", "cpu memory", "tmpfs", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			root := filepath.Join(d, "cg")
			must(t, os.MkdirAll(filepath.Join(root, "a", "b"), 0o755))
			must(t, os.WriteFile(filepath.Join(root, "a", "cgroup.subtree_control"), []byte(c.subtree+"\n"), 0o644))
			mi := filepath.Join(d, "mountinfo")
			must(t, os.WriteFile(mi, []byte("24 1 0:22 / /proc rw - proc proc rw\n31 23 0:28 / "+root+" rw,nosuid shared:9 - "+c.fstype+" cgroup2 rw\n"), 0o644))
			cg := filepath.Join(d, "cgroup")
			must(t, os.WriteFile(cg, []byte("0::/a/b\n"), 0o644))
			f := newFixture(t)
			f.st = &Steps{R: cgroupRunner{mountinfo: mi, cgroup: cg, root: root}}
			fake := "for d in " + quote(filepath.Join(root, "a")) + "/discoterm-*; do [ ! -d \"$d\" ] || echo 12345678 > \"$d/memory.peak\"; done"
			res := f.apply(t, &Bundle{StateDir: f.sd, Branch: "main", Entries: []BundleEntry{{Seq: 1, Hash: strings.Repeat("b", 64), Op: OpExec, Command: fake}}})
			if len(res.Entries) != 1 || res.Entries[0].Result != "ok" || res.Entries[0].Usage == nil {
				t.Fatalf("apply: %+v", res.Entries)
			}
			if got := res.Entries[0].Usage.PeakMem; got != c.want {
				t.Errorf("peak %d, want %d", got, c.want)
			}
			if c.want > 0 {
				// The command's cgroup took the shell's subshell (0 written).
				ms, _ := filepath.Glob(filepath.Join(root, "a", "discoterm-*", "cgroup.procs"))
				if len(ms) != 1 {
					t.Fatalf("cgroups made: %q", ms)
				}
				if b, _ := os.ReadFile(ms[0]); string(b) != "0\n" {
					t.Errorf("cgroup.procs got %q, want 0", b)
				}
			}
		})
	}
}

// TestUsagePeakHere: on this machine's own cgroups the peak is what it
// can honestly be: measured where the memory controller can be written
// (cgroup2 with memory delegated, or a cgroup v1 memory hierarchy), else
// unknown (-1), never a guess. dd's 30 MiB buffer is the floor.
func TestUsagePeakHere(t *testing.T) {
	f := newFixture(t)
	res := f.apply(t, &Bundle{StateDir: f.sd, Branch: "main", Entries: []BundleEntry{{Seq: 1, Hash: strings.Repeat("b", 64), Op: OpExec,
		Command: "dd if=/dev/zero of=/dev/null bs=30M count=1 2>/dev/null"}}})
	u := res.Entries[0].Usage
	if u == nil {
		t.Fatalf("no usage: %+v", res.Entries)
	}
	v2, v1 := false, ""
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		if f[4] == "/sys/fs/cgroup" {
			v2 = strings.Contains(l, " - cgroup2 ")
		}
		if strings.Contains(l, " - cgroup ") && strings.Contains(","+f[len(f)-1]+",", ",memory,") {
			v1 = f[4]
		}
	}
	measurable := v2 // delegation is not checked: a v2 host may still say unknown
	if !v2 && v1 != "" {
		cg, _ := os.ReadFile("/proc/self/cgroup")
		for _, l := range strings.Split(string(cg), "\n") {
			if parts := strings.SplitN(l, ":", 3); len(parts) == 3 && strings.Contains(","+parts[1]+",", ",memory,") {
				_, err := os.Stat(filepath.Join(v1, parts[2], "memory.max_usage_in_bytes"))
				measurable = err == nil && os.Geteuid() == 0
			}
		}
	}
	t.Logf("cgroup2 at /sys/fs/cgroup: %v; cgroup v1 memory at %q; peak %d", v2, v1, u.PeakMem)
	switch {
	case !measurable && u.PeakMem != -1:
		t.Errorf("peak %d without a writable memory controller, want -1 (unknown)", u.PeakMem)
	case measurable && !v2 && u.PeakMem < 30<<20:
		t.Errorf("peak %d B for dd's 30 MiB buffer under cgroup v1: not measured or implausible", u.PeakMem)
	case v2 && u.PeakMem != -1 && u.PeakMem < 30<<20:
		t.Errorf("peak %d B measured for dd's 30 MiB buffer: implausible", u.PeakMem)
	}
}

package remote

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fleet's hosts have no systemd (their PID 1 is the machine's), so
// these tests check the host program's choice and its systemd-run and
// systemctl command lines against stand-ins that record their arguments.
// Whether a real systemd fires the timer on time is not tested here.

// fakeInit is a PID 1 comm file, a /run/systemd/system stand-in and a
// bin directory with recording systemd-run and systemctl.
type fakeInit struct {
	dir, comm, run, bin, log string
	path                     string
}

func newFakeInit(t *testing.T, comm string, withRun, withTools bool) *fakeInit {
	t.Helper()
	d := t.TempDir()
	f := &fakeInit{dir: d, comm: filepath.Join(d, "comm"), run: filepath.Join(d, "run-systemd-system"), bin: filepath.Join(d, "bin"), log: filepath.Join(d, "calls")}
	must(t, os.WriteFile(f.comm, []byte(comm+"\n"), 0o644))
	if withRun {
		must(t, os.Mkdir(f.run, 0o755))
	}
	must(t, os.Mkdir(f.bin, 0o755))
	if !withTools {
		// PATH will be this directory alone (the machine's own
		// systemd-run is in /usr/bin): only the tools the program uses.
		for _, tool := range []string{"sh", "cat", "mkdir", "chmod", "sync", "mv", "rm", "sha256sum", "setsid", "tr", "grep", "sleep", "date"} {
			p, err := exec.LookPath(tool)
			must(t, err)
			must(t, os.Symlink(p, filepath.Join(f.bin, tool)))
		}
	} else {
		// Each call: its name, then one argument a line, then "--".
		rec := "#!/bin/sh\n{ echo \"${0##*/}\"; for a; do printf '%s\\n' \"$a\"; done; echo --; } >> " + quote(f.log) + "\n"
		must(t, os.WriteFile(filepath.Join(f.bin, "systemd-run"), []byte(rec), 0o755))
		must(t, os.WriteFile(filepath.Join(f.bin, "systemctl"), []byte(rec+"[ \"$1\" != is-active ] || [ -e "+quote(filepath.Join(d, "active"))+" ]\n"), 0o755))
		f.path = ":" + os.Getenv("PATH")
	}
	return f
}

// calls is what the stand-ins were called with, one call a string.
func (f *fakeInit) calls(t *testing.T) []string {
	b, err := os.ReadFile(f.log)
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err)
	var out []string
	for _, c := range strings.Split(strings.TrimSuffix(string(b), "--\n"), "--\n") {
		out = append(out, strings.TrimSuffix(c, "\n"))
	}
	return out
}

// Run runs a host program as localRunner does, its PID 1 and systemd
// paths pointed at the stand-ins, their bin first on PATH.
func (f *fakeInit) Run(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	text, err := io.ReadAll(stdin)
	if err != nil {
		return -1, err
	}
	prog := strings.ReplaceAll(string(text), "use_timer /proc/1/comm /run/systemd/system", "use_timer "+quote(f.comm)+" "+quote(f.run))
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Env = append(os.Environ(), "PATH="+f.bin+f.path)
	c.Stdin, c.Stdout, c.Stderr = strings.NewReader(prog), stdout, stderr
	return exitCode(c.Run())
}

// TestPrepareChoosesTimerOnlyUnderSystemd: the host program arms a
// transient systemd timer only where PID 1 is systemd, the host was
// booted by it and systemd-run is there; anywhere else a detached waiter.
func TestPrepareChoosesTimerOnlyUnderSystemd(t *testing.T) {
	if !strings.Contains(library(prepareFiles), "use_timer /proc/1/comm /run/systemd/system") {
		t.Fatal("prepare no longer asks use_timer about /proc/1/comm: update this test's stand-in")
	}
	start := time.Date(2031, 3, 8, 2, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name            string
		comm            string
		withRun, withTl bool
		timer           bool
	}{
		{"systemd", "systemd", true, true, true},
		{"init is not systemd", "init", true, true, false},
		{"container init", "process_api", true, true, false},
		{"systemd comm but not booted by it", "systemd", false, true, false},
		{"systemd without systemd-run", "systemd", true, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fi := newFakeInit(t, c.comm, c.withRun, c.withTl)
			st := &Steps{R: fi}
			sd := filepath.Join(fi.dir, "state")
			b := &Bundle{StateDir: sd, Branch: "main", Entries: []BundleEntry{{Seq: 1, Op: OpExec, Command: "true"}}}
			ctx := context.Background()
			armed, _, err := st.Prepare(ctx, Target{}, b, "p0123abcd", start)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Forget(ctx, Target{}, sd, "p0123abcd")
			if armed.Timer != c.timer {
				t.Fatalf("armed with %v, want timer %v", armed, c.timer)
			}
			calls := fi.calls(t)
			if !c.timer {
				if len(calls) != 0 || armed.Pid <= 0 {
					t.Errorf("waiter %v, yet systemd was called: %q", armed, calls)
				}
				return
			}
			prog := filepath.Join(sd, "prepared", "p0123abcd.sh")
			if len(calls) != 1 {
				t.Fatalf("calls %q, want one systemd-run", calls)
			}
			args := strings.Split(calls[0], "\n")
			want := []string{"systemd-run", "--quiet", "--collect", "--unit=discoterm-prepared-p0123abcd",
				"--on-calendar=2031-03-08 02:00:00 UTC", "--timer-property=AccuracySec=1s", "sh", "-c"}
			if len(args) < len(want) || strings.Join(args[:len(want)], "|") != strings.Join(want, "|") {
				t.Fatalf("systemd-run called as %q, want it to start with %q", args, want)
			}
			// After sh -c: the waiter's code (its lines), its $0, program,
			// sha256, start, base.
			tail := args[len(want):]
			if len(tail) < 6 || tail[len(tail)-5] != "waiter" || tail[len(tail)-4] != prog || tail[len(tail)-2] != strconv.FormatInt(start.Unix(), 10) ||
				tail[len(tail)-1] != strings.TrimSuffix(prog, ".sh") || len(tail[len(tail)-3]) != 64 {
				t.Fatalf("the timer runs %q", tail)
			}
			// The timer counts as waiting while systemctl says it is active,
			// lost once it is not (a transient timer does not outlive a reboot).
			must(t, os.WriteFile(filepath.Join(fi.dir, "active"), nil, 0o644))
			if ps, err := st.Collect(ctx, Target{}, sd); err != nil || len(ps) != 1 || ps[0].State != "waiting" {
				t.Fatalf("collect with the timer active: %+v %v", ps, err)
			}
			must(t, os.Remove(filepath.Join(fi.dir, "active")))
			if ps, err := st.Collect(ctx, Target{}, sd); err != nil || len(ps) != 1 || ps[0].State != "lost" {
				t.Fatalf("collect with the timer gone: %+v %v", ps, err)
			}
			// What the timer runs at its time (then the start is past:
			// as now): the program, once. systemd expands $VAR and ${VAR}
			// in ExecStart= and turns $$ into $: every $ must come doubled
			// (a lone one would be expanded), and the program sees them
			// single.
			code := strings.Join(tail[:len(tail)-5], "\n")
			if strings.Contains(strings.ReplaceAll(code, "$$", ""), "$") {
				t.Fatalf("the timer's code has a $ that systemd would expand:\n%s", code)
			}
			fire := append([]string{"-c", strings.ReplaceAll(code, "$$", "$")}, tail[len(tail)-5:]...)
			fire[len(fire)-2] = strconv.FormatInt(time.Now().Unix(), 10)
			tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if out, err := exec.CommandContext(tctx, "sh", fire...).CombinedOutput(); err != nil {
				t.Fatalf("running what the timer runs: %v %s", err, out)
			}
			ps, err := st.Collect(ctx, Target{}, sd)
			if err != nil || len(ps) != 1 || ps[0].State != "done" || ps[0].Err != "" || len(ps[0].Result.Entries) != 1 || ps[0].Result.Entries[0].Result != "ok" {
				t.Fatalf("collect after the timer ran: %+v %v", ps, err)
			}
			must(t, st.Forget(ctx, Target{}, sd, "p0123abcd"))
			calls = fi.calls(t)
			// The waiter removed "timer" from the pid file when it ran: a
			// forget after the run stops nothing; one before stops the timer.
			for _, c := range calls {
				if strings.HasPrefix(c, "systemctl\nstop") {
					t.Errorf("forget after the run called %q", c)
				}
			}
			_, _, err = st.Prepare(ctx, Target{}, b, "p0123abcd", start)
			must(t, err)
			must(t, st.Forget(ctx, Target{}, sd, "p0123abcd"))
			calls = fi.calls(t)
			if stop := calls[len(calls)-1]; stop != "systemctl\nstop\ndiscoterm-prepared-p0123abcd.timer" {
				t.Errorf("cancel stopped %q, want the plan's timer", stop)
			}
			if left, _ := filepath.Glob(filepath.Join(sd, "prepared", "*")); len(left) > 0 {
				t.Errorf("left after cancel: %q", left)
			}
		})
	}
}

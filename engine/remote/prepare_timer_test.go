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

// units is the stand-in for /etc/systemd/system.
func (f *fakeInit) units() string { return filepath.Join(f.dir, "units") }

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
	prog = strings.ReplaceAll(prog, "\nSDUNITS=/etc/systemd/system\n", "\nSDUNITS="+quote(f.units())+"\n")
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Env = append(os.Environ(), "PATH="+f.bin+f.path)
	c.Stdin, c.Stdout, c.Stderr = strings.NewReader(prog), stdout, stderr
	return exitCode(c.Run())
}

// TestPrepareChoosesTimerOnlyUnderSystemd: the host program arms a
// transient systemd timer only where PID 1 is systemd, the host was
// booted by it and systemd-run is there; anywhere else a detached waiter.
func TestPrepareChoosesTimerOnlyUnderSystemd(t *testing.T) {
	if lib := library(prepareFiles); !strings.Contains(lib, "use_timer /proc/1/comm /run/systemd/system") || !strings.Contains(lib, "\nSDUNITS=/etc/systemd/system\n") {
		t.Fatal("prepare no longer asks use_timer about /proc/1/comm or keeps its units in SDUNITS: update this test's stand-in")
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
			// A state directory whose name systemd would mangle in a unit
			// file unless quoted: %-specifiers, $VAR, quotes, backslash.
			sd := filepath.Join(fi.dir, `state %i $HOME "q" \x`)
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
			unit := "discoterm-prepared-p0123abcd"
			// (Before: prepare's disarm asks whether such units are loaded.)
			if len(calls) < 2 || strings.Join(calls[len(calls)-2:], "|") != "systemctl\ndaemon-reload|systemctl\nstart\n"+unit+".timer" {
				t.Fatalf("calls %q, want daemon-reload then start of the timer", calls)
			}
			// Unit files the host keeps, root 0644, the timer enabled
			// under timers.target: armed again after a reboot.
			ud := fi.units()
			tm := readFile(t, filepath.Join(ud, unit+".timer"))
			for _, l := range []string{"OnCalendar=2031-03-08 02:00:00 UTC", "AccuracySec=1s", "Persistent=false", "RemainAfterElapse=no", "WantedBy=timers.target"} {
				if !strings.Contains(tm, "\n"+l+"\n") {
					t.Errorf("timer unit lacks %s:\n%s", l, tm)
				}
			}
			if l, err := os.Readlink(filepath.Join(ud, "timers.target.wants", unit+".timer")); err != nil || l != "../"+unit+".timer" {
				t.Errorf("timer not enabled under timers.target: %q %v", l, err)
			}
			for _, n := range []string{unit + ".timer", unit + ".service"} {
				if fi, err := os.Stat(filepath.Join(ud, n)); err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("%s: %v %v, want mode 0644", n, fi, err)
				}
			}
			argv := execStart(t, readFile(t, filepath.Join(ud, unit+".service")))
			wait := strings.TrimSuffix(prog, ".sh") + ".wait"
			if len(argv) != 8 || argv[0] != "/bin/sh" || argv[1] != wait || argv[2] != prog || len(argv[3]) != 64 ||
				argv[4] != strconv.FormatInt(start.Unix(), 10) || argv[5] != strings.TrimSuffix(prog, ".sh") || argv[6] != unit || argv[7] != ud {
				t.Fatalf("the service runs %q", argv)
			}
			// The timer counts as waiting while systemctl says it is active,
			// lost once it is not (it missed its window: Persistent=false).
			must(t, os.WriteFile(filepath.Join(fi.dir, "active"), nil, 0o644))
			if ps, err := st.Collect(ctx, Target{}, sd); err != nil || len(ps) != 1 || ps[0].State != "waiting" {
				t.Fatalf("collect with the timer active: %+v %v", ps, err)
			}
			must(t, os.Remove(filepath.Join(fi.dir, "active")))
			if ps, err := st.Collect(ctx, Target{}, sd); err != nil || len(ps) != 1 || ps[0].State != "lost" {
				t.Fatalf("collect with the timer gone: %+v %v", ps, err)
			}
			// What the service runs at its time (then the start is past: as
			// now): the program, once; then it removes its unit files.
			argv[4] = strconv.FormatInt(time.Now().Unix(), 10)
			tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			run := exec.CommandContext(tctx, argv[0], argv[1:]...)
			run.Env = append(os.Environ(), "PATH="+fi.bin+fi.path)
			if out, err := run.CombinedOutput(); err != nil {
				t.Fatalf("running what the service runs: %v %s", err, out)
			}
			if left := unitFiles(t, ud); left != "" {
				t.Errorf("unit files left after the run: %s", left)
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
			n := len(fi.calls(t))
			must(t, st.Forget(ctx, Target{}, sd, "p0123abcd"))
			calls = fi.calls(t)[n:]
			if got := strings.Join(calls, "|"); got != "systemctl\nstop\n"+unit+".timer|systemctl\nis-active\n--quiet\n"+unit+".service|systemctl\ndaemon-reload" {
				t.Errorf("cancel called %q, want the plan's timer stopped, then daemon-reload once its service is not active", calls)
			}
			if left, _ := filepath.Glob(filepath.Join(sd, "prepared", "*")); len(left) > 0 {
				t.Errorf("left after cancel: %q", left)
			}
			if left := unitFiles(t, ud); left != "" {
				t.Errorf("unit files left after cancel: %s", left)
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return string(b)
}

// unitFiles lists what is in a unit directory and its timers.target.wants.
func unitFiles(t *testing.T, dir string) string {
	t.Helper()
	a, _ := filepath.Glob(filepath.Join(dir, "*"))
	b, _ := filepath.Glob(filepath.Join(dir, "timers.target.wants", "*"))
	var out []string
	for _, p := range append(a, b...) {
		if !strings.HasSuffix(p, "timers.target.wants") {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// execStart is the argv systemd makes of a unit's ExecStart= line: words
// split at spaces outside double quotes, \\ and \" unescaped inside them,
// then %% → % and $$ → $. A lone % or $ (which systemd would expand) fails.
func execStart(t *testing.T, unit string) []string {
	t.Helper()
	var line string
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			line = v
		}
	}
	var words []string
	var w strings.Builder
	in, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case in && c == '\\' && i+1 < len(line):
			i++
			if line[i] != '\\' && line[i] != '"' {
				t.Fatalf("ExecStart= has an escape \\%c systemd would unescape: %s", line[i], line)
			}
			w.WriteByte(line[i])
		case c == '"':
			in, have = !in, true
		case c == ' ' && !in:
			if have {
				words = append(words, w.String())
			}
			w.Reset()
			have = false
		default:
			w.WriteByte(c)
			have = true
		}
	}
	if have {
		words = append(words, w.String())
	}
	for i, x := range words {
		for _, sp := range []string{"%", "$"} {
			if strings.Contains(strings.ReplaceAll(x, sp+sp, ""), sp) {
				t.Fatalf("ExecStart= word %q has a lone %s systemd would expand", x, sp)
			}
			x = strings.ReplaceAll(x, sp+sp, sp)
		}
		words[i] = x
	}
	return words
}

// Command demo sets up a practice fleet for discoterm — namespace hosts
// running OpenSSH, a classification file, a store with a journal, some
// hosts behind and some changes staged — and opens the console on it
// (`make demo`). With -screenshots it drives the console in tmux and
// renders PNGs of its views (`make screenshots`). Needs root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
	"golang.org/x/crypto/ssh"
)

func main() {
	dir := flag.String("dir", ".demo", "demo directory (fleet, store, classification file)")
	n := flag.Int("n", 6, "hosts in the practice fleet")
	bin := flag.String("bin", "bin/discoterm", "discoterm binary")
	down := flag.Bool("down", false, "stop the practice fleet and remove the demo directory")
	shots := flag.String("screenshots", "", "render screenshots of the console into this directory, then stop")
	team := flag.Bool("team", false, "two operators' consoles in tmux on one shared NATS store (make demo-team)")
	flag.Parse()
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	binAbs, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	d := &demo{dir: abs, n: *n, bin: binAbs}
	switch {
	case *down:
		err = d.down()
	case *shots != "":
		err = d.screenshots(*shots)
	case *team:
		err = d.team(flag.Args())
	default:
		err = d.run(flag.Args())
	}
	if err != nil {
		fail(err)
	}
}

// q0 quotes one word for sh.
func q0(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}

type demo struct {
	dir   string
	n     int
	bin   string
	fleet *testfleet.Fleet
}

func (d *demo) fleetDir() string { return filepath.Join(d.dir, "fleet") }

// up starts the fleet, or reuses a running one.
func (d *demo) up() error {
	if r := testfleet.Usable(); r != "" {
		return fmt.Errorf("the practice fleet %s; run make demo as root on Linux", r)
	}
	if f, err := testfleet.Load(d.fleetDir()); err == nil && f.Ready && alive(f) {
		d.fleet = f
		return nil
	}
	_ = d.down()
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "starting a practice fleet of %d hosts…\n", d.n)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, err := testfleet.Start(ctx, testfleet.Options{N: d.n, Dir: d.fleetDir(), Detach: true, NamePrefix: "web"})
	if err != nil {
		return err
	}
	d.fleet = f
	return d.seed()
}

func alive(f *testfleet.Fleet) bool {
	_, err := os.Stat("/sys/class/net/" + f.Bridge)
	return err == nil
}

func (d *demo) down() error {
	if d.fleet != nil { // started or loaded by this process: its own handle stops it
		if err := d.fleet.Stop(); err != nil {
			return err
		}
		d.fleet = nil
	} else if f, err := testfleet.Load(d.fleetDir()); err == nil {
		if err := f.Stop(); err != nil {
			return err
		}
	}
	return os.RemoveAll(d.dir)
}

// flags point discoterm at the demo fleet and store.
func (d *demo) flags() []string {
	f := d.fleet
	return []string{"--store", filepath.Join(d.dir, "store.db"), "--known-hosts", f.KnownHosts, "--identity", f.ClientKey,
		"--ssh-config", "none", "--class", filepath.Join(d.dir, "main.cf"), "--iface", f.Bridge, "--operator", "alice@jump1",
		"--allowed-signers", d.allowedSigners()}
}

// allowedSigners lists the fleet's client key, which also signs the demo's
// changesets (--identity is the signing key's fallback), as the one key
// allowed to approve.
func (d *demo) allowedSigners() string {
	p := filepath.Join(d.dir, "allowed_signers")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if s, err := d.fleet.Signer(); err == nil {
		_ = os.WriteFile(p, append([]byte("alice@jump1 "), ssh.MarshalAuthorizedKey(s.PublicKey())...), 0o600)
	}
	return p
}

func (d *demo) env() []string {
	return append(os.Environ(), "HOME="+d.dir, "SSH_AUTH_SOCK=")
}

// batch runs one discoterm verb.
func (d *demo) batch(args ...string) (string, error) {
	cmd := exec.Command(d.bin, append(append(d.flags(), "--batch"), args...)...)
	cmd.Env = d.env()
	cmd.Dir = d.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("discoterm --batch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (d *demo) write(name, content string) string {
	p := filepath.Join(d.dir, name)
	_ = os.WriteFile(p, []byte(content), 0o644)
	return p
}

// seed gives the demo a history: a journal pushed to most hosts, one host
// behind, and a change staged under a lock, ready to review.
func (d *demo) seed() error {
	d.write("main.cf", `# Classification: ISconf main.cf semantics.
DEFAULT
    BRANCH = main
    NTP = ntp.example.net
    SYSLOG = logs.example.net
web1
    NTP = ntp1.example.net
`)
	steps := [][]string{
		{"scan"},
		{"lock", "main", "baseline: motd, ntp, sshd banner"},
		{"snap", d.write("motd", "Welcome to the web fleet.\nChanges go through discoterm; ask #ops before editing by hand.\n"), "--to", "/etc/motd"},
		{"template", d.write("ntp.conf.tmpl", "# managed by discoterm\nserver {{.NTP}} iburst\ndriftfile /var/lib/ntp/ntp.drift\n# host {{.HOSTNAME}}\n"), "--to", "/etc/ntp.conf"},
		{"exec", "--creates", "/etc/ssh/banner", "--", "echo 'authorised use only' > /etc/ssh/banner"},
	}
	for _, s := range steps {
		if _, err := d.batch(s...); err != nil {
			return err
		}
	}
	if err := d.planApprovePush(); err != nil {
		return err
	}
	// A second change reaches all but the last host (it was down), which
	// stays behind by one.
	last := d.fleet.Hosts[len(d.fleet.Hosts)-1]
	for _, s := range [][]string{
		{"lock", "main", "syslog forwarding"},
		{"template", d.write("syslog.tmpl", "*.* @@{{.SYSLOG}}:514\n"), "--to", "/etc/rsyslog.d/50-forward.conf"},
	} {
		if _, err := d.batch(s...); err != nil {
			return err
		}
	}
	var hosts []string
	for _, h := range d.fleet.Hosts[:len(d.fleet.Hosts)-1] {
		hosts = append(hosts, h.Name)
	}
	if err := d.planApprovePush(hosts...); err != nil {
		return err
	}
	// Staged under the lock, ready for review in the console; one host has
	// drifted, so its diff differs from the others'.
	_ = d.fleet.Hosts[1].WriteFile("/etc/motd", []byte("Welcome to the web fleet.\nhand-edited on this host\n"), 0o644)
	for _, s := range [][]string{
		{"lock", "main", "new motd and tighter sshd"},
		{"snap", d.write("motd2", "Welcome to the web fleet.\nChanges go through discoterm; ask #ops before editing by hand.\nMaintenance window: Sundays 02:00-04:00 UTC.\n"), "--to", "/etc/motd"},
		{"exec", "--unless", "grep -q '^MaxAuthTries 3' /etc/ssh/sshd_config", "--", "echo 'MaxAuthTries 3' >> /etc/ssh/sshd_config"},
	} {
		if _, err := d.batch(s...); err != nil {
			return err
		}
	}
	_ = last
	return nil
}

func (d *demo) planApprovePush(hosts ...string) error {
	out, err := d.batch(append([]string{"--json", "plan"}, hosts...)...)
	if err != nil {
		return err
	}
	id := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"type":"plan",`) {
			if i := strings.Index(l, `"plan":"`); i >= 0 {
				id = strings.SplitN(l[i+8:], `"`, 2)[0]
			}
		}
	}
	if id == "" {
		return fmt.Errorf("no plan id in:\n%s", out)
	}
	if _, err := d.batch("approve", id); err != nil {
		return err
	}
	_, err = d.batch("push", id)
	return err
}

// run opens the console on the demo, replacing this process.
func (d *demo) run(args []string) error {
	if err := d.up(); err != nil {
		return err
	}
	bin, err := filepath.Abs(d.bin)
	if err != nil {
		return err
	}
	// Batch verbs beside the console: .demo/discoterm runs the binary with
	// the demo's flags (README "Batch beside the demo").
	wrapper := filepath.Join(d.dir, "discoterm")
	var q []string
	for _, a := range append([]string{bin}, d.flags()...) {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	script := "#!/bin/sh\n# discoterm on the demo fleet and store (written by make demo)\nHOME=" + q0(d.dir) + " SSH_AUTH_SOCK= exec " + strings.Join(q, " ") + ` "$@"` + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return err
	}
	if len(args) == 0 || !slices.Contains(args, "--batch") {
		fmt.Fprintf(os.Stderr, "practice fleet on %s; batch verbs beside it: %s --batch help; stop it with: make demo-down\n", d.fleet.Bridge, wrapper)
	}
	argv := append(append([]string{bin}, d.flags()...), args...)
	if err := os.Chdir(d.dir); err != nil {
		return err
	}
	return syscall.Exec(bin, argv, d.env())
}

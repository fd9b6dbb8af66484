package remote

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

// raceAttacker is what an unprivileged user who owns a directory runs
// against a push into it: a tight loop (no process per step) that moves
// every new .discoterm.* name aside — temporary file or directory,
// whatever the push made — and plants a symlink to /etc/passwd in its
// place (to LINK), and keeps the target itself a symlink to /etc/passwd.
const raceAttacker = `
my ($d, $target, $link) = @ARGV;
$| = 1; print "racing\n";
my $n = 0;
while (1) {
	opendir(my $dh, $d) or next;
	for my $e (readdir $dh) {
		next unless $e =~ /^\.discoterm\./;
		my $p = "$d/$e";
		next if -l $p;
		$n++;
		rename($p, "$d/moved.$$.$n") and symlink($link, $p);
	}
	closedir $dh;
	if (!-l "$d/$target") { rename("$d/$target", "$d/moved.t.$$.$n"); symlink("/etc/passwd", "$d/$target"); }
}
`

// TestFleetTempNameRace: an unprivileged user races pushes into a
// directory she owns (allowed for that entry), swapping a symlink to
// /etc/passwd in at every temporary name the push creates and at the
// target. /etc/passwd keeps its bytes, mode and owner; each entry either
// wrote the target or refused, saying why.
func TestFleetTempNameRace(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	a := &hostApply{t: t, st: &Steps{R: fleetClient(t, f, nil)}, h: f.Hosts[0]}
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("the attacker loop needs perl on the fleet hosts")
	}
	a.sh(`id mallory >/dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh mallory
mkdir -p /srv/race && chown mallory:mallory /srv/race && chmod 755 /srv/race && ln -sfn /etc/passwd /srv/race/conf
sleep 0.01; touch /run/race-start`)
	passwd := func() string { return a.sh("sha256sum /etc/passwd; stat -c '%a %U %G %h %F' /etc/passwd") }
	want, rootWas := passwd(), a.sh("ls -A /root /")

	refused, wrote := 0, 0
	// Symlinks to /etc/passwd (chmod, chown or a write through the temp
	// name would reach it), then to /root (a directory root owns, 0700:
	// only where the shell landed tells it from the private directory).
	for _, link := range []string{"/etc/passwd", "/root"} {
		stop := startAttacker(t, a.h, "/srv/race", "conf", link)
		for i := 0; i < 4; i++ {
			// Mode 4755 and another owner: chown and chmod both run on
			// the staged file, the widest window there is.
			e := fileEntry("/srv/race/conf", "owned\n", 0o4755, "nobody")
			e.AllowUserDir = true
			res := a.push(nil, e)
			if got := passwd(); got != want {
				t.Fatalf("push %d (links to %s): /etc/passwd changed:\n%s\nwas:\n%s", i, link, got, want)
			}
			if len(res.Entries) != 1 {
				t.Fatalf("push %d: %+v", i, res)
			}
			switch r := res.Entries[0]; r.Result {
			case "ok":
				wrote++
			case "failed":
				refused++
				if !strings.Contains(r.Output, "/srv/race") || !strings.Contains(r.Output, "refusing") {
					t.Errorf("push %d refused without saying why: %q", i, r.Output)
				}
				t.Logf("push %d (links to %s) refused: %s", i, link, strings.TrimSpace(r.Output))
			default:
				t.Fatalf("push %d: %+v", i, r)
			}
		}
		stop()
	}
	// Nothing of root's landed anywhere but the directory, and each push
	// that said ok wrote its file there (the attacker moved it aside).
	if got := a.sh("find /etc /srv -maxdepth 1 -cnewer /run/race-start ! -path /srv/race"); got != "" {
		t.Errorf("files changed outside /srv/race during the race:\n%s", got)
	}
	if got := a.sh("find /srv/race -maxdepth 1 -type f -user nobody -perm 4755 -size 6c | wc -l"); got != strconv.Itoa(wrote) {
		t.Errorf("%d pushes wrote the target, %s files are there:\n%s", wrote, got, a.sh("ls -la /srv/race"))
	}
	// (A write redirected into /root would leave f there, or conf in /.)
	if got := a.sh("ls -A /root /"); got != rootWas {
		t.Errorf("/root and / after the race:\n%s\nbefore:\n%s", got, rootWas)
	}
	t.Logf("8 pushes raced: %d refused\n%s", refused, a.sh("ls -la /srv/race"))
}

// startAttacker runs raceAttacker as mallory on h until the returned stop
// is called.
func startAttacker(t *testing.T, h *testfleet.Host, dir, target, link string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := h.Command(ctx, "setpriv", "--reuid=mallory", "--regid=mallory", "--clear-groups", "perl", "-e", raceAttacker, dir, target, link)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() { cancel(); _ = cmd.Wait() }
	t.Cleanup(stop)
	if _, err := out.Read(make([]byte, 7)); err != nil {
		t.Fatalf("the attacker did not start: %v", err)
	}
	return stop
}

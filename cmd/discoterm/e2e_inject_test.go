package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestInjectionOnAFleetHost stages paths, contents, templates, commands,
// guards, owners and branch names made of shell metacharacters and pushes
// them to a real host: each is refused at staging with a clear error, or
// lands literally. Nothing else appears on the host: no /tmp/pwned.
func TestInjectionOnAFleetHost(t *testing.T) {
	rg := newRig(t, 1)
	h := rg.fleet.Hosts[0]
	rg.write("main.cf", "DEFAULT\n    BRANCH = main\n    EVIL = $(touch /tmp/pwned)`touch /tmp/pwned`'\"\n")
	rg.flags = append(rg.flags, "--class", filepath.Join(rg.dir, "main.cf"))
	rg.must("--batch", "add-host", h.ULA)
	if _, err := h.Exec(context.Background(), "mkdir", "-p", "/srv"); err != nil {
		t.Fatal(err)
	}

	// Branch names and owners are refused at staging, naming the problem.
	for _, b := range []string{"$(touch /tmp/pwned)", "`touch /tmp/pwned`", "-x", "a'b", "a\nb"} {
		// (A leading '-' is taken for a flag before it can be a name.)
		if r := rg.run("--batch", "lock", b, "msg"); r.code != exitUsage || !strings.Contains(r.stderr, "branch name") && !strings.Contains(r.stderr, "flag") {
			t.Errorf("lock %q: %s", b, r)
		}
	}
	rg.must("--batch", "lock", "main", "injection")
	src := rg.write("evil", "$(touch /tmp/pwned)\n`touch /tmp/pwned`\n'\"\n")
	for _, o := range []string{"$(touch /tmp/pwned)", "-R", "a'b", "`id`"} {
		if r := rg.run("--batch", "snap", src, "--to", "/srv/o", "--owner="+o); r.code != exitUsage || !strings.Contains(r.stderr, "not a user or group name") {
			t.Errorf("snap --owner %q: %s", o, r)
		}
	}
	if r := rg.run("--batch", "snap", src, "--to", "/srv/a\nb"); r.code != exitUsage || !strings.Contains(r.stderr, "newline") {
		t.Errorf("snap to a path with a newline: %s", r)
	}

	// Paths, contents, commands and guards land literally.
	paths := []string{"/srv/$(touch /tmp/pwned)", "/srv/`touch /tmp/pwned`", "/srv/a'b\"c", "/srv/-rf", "/srv/$HOME *"}
	for _, p := range paths {
		rg.must("--batch", "snap", src, "--to", p)
	}
	rg.must("--batch", "template", rg.write("evil.tmpl", "{{.EVIL}}\n"), "--to", "/srv/tmpl")
	// The creates path exists by now: the entry is skipped, and its
	// "exists" note names it (today's echo ran the path as code).
	rg.must("--batch", "exec", "--creates", paths[0], "--", "touch /srv/never")
	rg.must("--batch", "exec", "--creates", "/srv/`touch /tmp/pwned`x", "--unless", "test -e '/srv/$(touch /tmp/pwned)x'", "--",
		`printf '%s|%s\n' "$EVIL" '$(touch /tmp/pwned)' > /srv/exec-out`)
	r := rg.must("--batch", "--json", "plan")
	id := planID(t, r)
	rg.must("--batch", "approve", id)
	r = rg.must("--batch", "--json", "push", id)
	for _, ph := range r.lines(t, "push.host") {
		if ph["status"] != "done" {
			t.Fatalf("push: %v\n%s", ph, r)
		}
	}
	want := "$(touch /tmp/pwned)\n`touch /tmp/pwned`\n'\"\n"
	for _, p := range paths {
		if got := rg.hostFile(h, p); got != want {
			t.Errorf("%q holds %q", p, got)
		}
	}
	evil := "$(touch /tmp/pwned)`touch /tmp/pwned`'\""
	if got := rg.hostFile(h, "/srv/tmpl"); got != evil+"\n" {
		t.Errorf("template rendered %q", got)
	}
	if got := rg.hostFile(h, "/srv/exec-out"); got != evil+"|$(touch /tmp/pwned)\n" {
		t.Errorf("exec wrote %q", got)
	}
	if got := rg.hostFile(h, "/srv/never"); !strings.Contains(got, "no such file") {
		t.Errorf("the guarded command ran: %q", got)
	}
	if out, err := h.Exec(context.Background(), "sh", "-c", "ls -A /tmp /srv/ /root 2>&1; test ! -e /tmp/pwned"); err != nil {
		t.Fatalf("a metacharacter ran as code on the host: %v\n%s", err, out)
	}
}

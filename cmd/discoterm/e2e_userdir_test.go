package main

import (
	"context"
	"strings"
	"testing"
)

// TestBatchUserDirPerEntry: --allow-user-dir belongs to an entry. Two
// entries target directories an unprivileged user owns; only the one
// staged with --allow-user-dir is written, the other is refused with a
// message naming the directory and the flag. The allowance shows in the
// plan and the journal, and push no longer takes the flag.
func TestBatchUserDirPerEntry(t *testing.T) {
	rg := newRig(t, 2)
	rg.setup()
	for _, h := range rg.fleet.Hosts {
		if out, err := h.Exec(context.Background(), "sh", "-c", `id mallory >/dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh mallory
mkdir -p /srv/a /srv/b && chown mallory /srv/a /srv/b`); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	rg.must("--batch", "lock", "main", "user dirs")
	rg.must("--batch", "snap", rg.write("a.conf", "allowed\n"), "--to", "/srv/a/a.conf", "--allow-user-dir")
	rg.must("--batch", "template", rg.write("b.tmpl", "refused {{.HOSTNAME}}\n"), "--to", "/srv/b/b.conf")

	r := rg.must("--batch", "plan")
	if !strings.Contains(r.stdout, "/srv/a/a.conf (staged)") || strings.Count(r.stdout, "(--allow-user-dir)") != 1 {
		t.Fatalf("the plan must mark the allowed entry, and only it:\n%s", r)
	}
	r = rg.must("--batch", "--json", "plan")
	id := planID(t, r)
	for _, h := range r.lines(t, "plan.host") {
		cs := h["changes"].([]any)
		if cs[0].(map[string]any)["allow_user_dir"] != true || cs[1].(map[string]any)["allow_user_dir"] != nil {
			t.Fatalf("%s: plan changes: %v", h["host"], cs)
		}
	}
	rg.must("--batch", "approve", id)
	r = rg.must("--batch", "log", "main")
	if !strings.Contains(r.stdout, "/srv/a/a.conf  (0644 root:root, 8 bytes, user-writable directory allowed)") || strings.Count(r.stdout, "user-writable directory allowed") != 1 {
		t.Fatalf("log must show the allowance on the entry that has it:\n%s", r)
	}

	if r = rg.run("--batch", "push", id, "--allow-user-dir"); r.code != exitUsage || !strings.Contains(r.stderr, "snap or template --allow-user-dir") {
		t.Fatalf("push --allow-user-dir must say where the flag went: %s", r)
	}
	r = rg.run("--batch", "push", id)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "/srv/b can be changed by a user other than root") || !strings.Contains(r.stdout+r.stderr, "stage the entry with --allow-user-dir") {
		t.Fatalf("push: the unmarked entry must be refused, saying why: %s", r)
	}
	for _, h := range rg.fleet.Hosts {
		if got := rg.hostFile(h, "/srv/a/a.conf"); got != "allowed\n" {
			t.Errorf("%s: the allowed entry: %q", h.Name, got)
		}
		if got := rg.hostFile(h, "/srv/b/b.conf"); !strings.Contains(got, "no such file") {
			t.Errorf("%s: the refused entry was written: %q", h.Name, got)
		}
		if st := rg.hostState(h); st.Position != 1 {
			t.Errorf("%s: position %d, want 1 (stopped at the refused entry)", h.Name, st.Position)
		}
	}
}

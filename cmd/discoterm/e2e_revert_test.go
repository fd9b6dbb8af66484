package main

import (
	"context"
	"strings"
	"testing"
)

// TestRevertOnFleet: entries after seq 2 change, create, remove and take
// over files on node1 and node2; revert node1 node2 --to 2 stages what
// puts back each path (from the journal, or from the copies a push that
// must come back kept), its plan shows the diffs back, and once pushed
// their files are byte for byte, mode and owner, those of node3, which
// never moved past 2. Positions only move forward. Bad requests are
// refused with what to do.
func TestRevertOnFleet(t *testing.T) {
	rg := newRig(t, 4)
	rg.setup()
	n1, n2, n3, n4 := rg.fleet.Hosts[0], rg.fleet.Hosts[1], rg.fleet.Hosts[2], rg.fleet.Hosts[3]
	ctx := context.Background()
	// A file the journal does not know yet, made by hand on every host.
	for _, h := range rg.fleet.Hosts {
		if out, err := h.Exec(ctx, "sh", "-c", "mkdir -p /etc/undo && printf 'd0\\n' > /etc/undo/d.conf && chmod 0604 /etc/undo/d.conf && chown 0:5 /etc/undo/d.conf"); err != nil {
			t.Fatalf("%s: %v %s", h.Name, err, out)
		}
	}
	rg.must("--batch", "lock", "main", "one and two")
	rg.must("--batch", "snap", rg.write("a1", "a1\n"), "--to", "/etc/undo/a.conf", "--mode", "0644")
	rg.must("--batch", "snap", rg.write("b1", "b1\n"), "--to", "/etc/undo/b.conf", "--mode", "0600")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)

	rg.must("--batch", "lock", "main", "three to six")
	rg.must("--batch", "snap", rg.write("a2", "a2\n"), "--to", "/etc/undo/a.conf", "--mode", "0640")
	rg.must("--batch", "snap", rg.write("c1", "c1\n"), "--to", "/etc/undo/c.conf")
	rg.must("--batch", "remove", "/etc/undo/b.conf")
	rg.must("--batch", "snap", rg.write("d4", "d4\n"), "--to", "/etc/undo/d.conf")
	id = planID(t, rg.must("--batch", "--json", "plan", "node1", "node2"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id, "--must-come-back", "2s")
	id = planID(t, rg.must("--batch", "--json", "plan", "node4"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id) // no copies kept on node4
	for _, h := range []string{"node1", "node2", "node4"} {
		if st := rg.hostState(rg.fleet.HostByName(h)); st.Position != 6 {
			t.Fatalf("%s at %d, want 6", h, st.Position)
		}
	}

	// Refused, with what to do.
	rg.must("--batch", "lock", "main", "undo")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"revert", "node3", "--to", "4"}, "never applied there"},
		{[]string{"revert", "node4", "--to", "2"}, "pushed without --must-come-back"},
		{[]string{"revert", "node1", "--to", "6"}, "give a SEQ below 6"},
		{[]string{"revert", "node1"}, "--to"},
	} {
		r := rg.run(append([]string{"--batch"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want an error saying %q: %s", c.args, c.want, r)
		}
	}
	rg.must("--batch", "fork", "web", "--from", "main")
	rg.must("--batch", "migrate", "node4", "web")
	if r := rg.run("--batch", "revert", "node1", "node4", "--to", "2"); r.code != exitUsage || !strings.Contains(r.stderr, "different branches") {
		t.Errorf("revert across branches: %s", r)
	}
	if r := rg.must("--batch", "--json", "staged", "--branch", "main"); len(r.lines(t, "staged")) != 0 {
		t.Fatalf("a refused revert staged something: %s", r)
	}

	r := rg.must("--batch", "--json", "revert", "node1", "node2", "--to", "2")
	staged := r.lines(t, "staged")
	var got []string
	for _, s := range staged {
		e := s["entry"].(map[string]any)
		got = append(got, e["kind"].(string)+" "+e["path"].(string))
	}
	want := []string{"file /etc/undo/a.conf", "remove /etc/undo/c.conf", "file /etc/undo/b.conf", "file /etc/undo/d.conf"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("staged %v, want %v\n%s", got, want, r.stdout)
	}
	// The plan shows the diffs back to seq 2, on the two hosts only.
	hosts := r.lines(t, "plan.host")
	if len(hosts) != 2 {
		t.Fatalf("plan hosts: %v", hosts)
	}
	for _, h := range hosts {
		diffs := ""
		for _, c := range h["changes"].([]any) {
			diffs += c.(map[string]any)["diff"].(string)
		}
		for _, w := range []string{"-a2", "+a1", "-c1", "+b1", "-d4", "+d0"} {
			if !strings.Contains(diffs, w) {
				t.Errorf("%s: plan diffs lack %q:\n%s", h["host"], w, diffs)
			}
		}
	}
	id = planID(t, r)
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)
	for _, h := range []string{"node1", "node2"} {
		hh := rg.fleet.HostByName(h)
		if st := rg.hostState(hh); st.Position != 10 {
			t.Errorf("%s at %d after the revert, want 10: positions only move forward", h, st.Position)
		}
		for _, p := range []string{"/etc/undo/a.conf", "/etc/undo/b.conf", "/etc/undo/c.conf", "/etc/undo/d.conf"} {
			if g, w := hostMeta(t, hh, p), hostMeta(t, n3, p); g != w {
				t.Errorf("%s %s = %s, want node3's %s", h, p, g, w)
			}
		}
	}
	if rg.hostFile(n1, "/etc/undo/d.conf") != "d0\n" || !strings.HasPrefix(hostMeta(t, n2, "/etc/undo/d.conf"), "604 root:") {
		t.Errorf("d.conf: %q %s", rg.hostFile(n1, "/etc/undo/d.conf"), hostMeta(t, n2, "/etc/undo/d.conf"))
	}
	_ = n4
}

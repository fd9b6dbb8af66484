package main

import (
	"context"
	"sort"
	"strings"
	"testing"
)

// TestDriftRepairAdoptOnFleet: hand edits of a managed file (content,
// mode, both) on 3 of 5 real hosts; drift lists exactly those, repair
// puts the journal's version back without moving positions, adopt makes
// one host's edit the journal's, and then nothing drifts.
func TestDriftRepairAdoptOnFleet(t *testing.T) {
	rg := newRig(t, 5)
	rg.setup()
	ctx := context.Background()
	const path = "/etc/discoterm-drift.conf"
	rg.must("--batch", "lock", "main", "managed files")
	rg.must("--batch", "snap", rg.write("drift.conf", "managed = yes\n"), "--to", path, "--mode", "0644")
	rg.must("--batch", "template", rg.write("who.tmpl", "I am {{.HOSTNAME}}\n"), "--to", "/etc/discoterm-who")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)
	if r := rg.run("--batch", "drift"); r.code != 0 || !strings.Contains(r.stdout, "0 of 5 hosts drifted") {
		t.Fatalf("drift of a fresh fleet: %s", r)
	}

	hosts := rg.fleet.Hosts
	edits := map[string]string{
		hosts[0].Name: "printf 'managed = no\\n' > " + path,
		hosts[1].Name: "chmod 0600 " + path,
		hosts[2].Name: "printf 'managed = rogue\\n' > " + path + " && chmod 0640 " + path,
	}
	for _, h := range hosts[:3] {
		if out, err := h.Exec(ctx, "sh", "-c", edits[h.Name]); err != nil {
			t.Fatalf("%s: %v %s", h.Name, err, out)
		}
	}
	r := rg.run("--batch", "--json", "drift")
	if r.code != exitHostsFail {
		t.Fatalf("drift: want exit 3: %s", r)
	}
	got := map[string]string{}
	for _, h := range r.lines(t, "drift.host") {
		paths, _ := h["paths"].([]any)
		var what []string
		for _, p := range paths {
			m := p.(map[string]any)
			var w []string
			for _, x := range m["what"].([]any) {
				w = append(w, x.(string))
			}
			what = append(what, m["path"].(string)+":"+strings.Join(w, ","))
			if h["name"] == hosts[0].Name && !strings.Contains(m["diff"].(string), "+managed = no") {
				t.Errorf("%s diff journal → host: %v", h["name"], m["diff"])
			}
		}
		if len(what) > 0 {
			got[h["name"].(string)] = strings.Join(what, " ")
		}
	}
	want := map[string]string{hosts[0].Name: path + ":content", hosts[1].Name: path + ":mode", hosts[2].Name: path + ":content,mode"}
	if len(got) != 3 || got[hosts[0].Name] != want[hosts[0].Name] || got[hosts[1].Name] != want[hosts[1].Name] || got[hosts[2].Name] != want[hosts[2].Name] {
		t.Fatalf("drift = %v, want %v", got, want)
	}
	if out := rg.must("--batch", "hosts").stdout; !strings.Contains(out, "DRIFT") || strings.Count(out, "1 file") != 3 {
		t.Errorf("hosts view drift column:\n%s", out)
	}

	// Repair the second and third: a plan of those two, positions stay.
	r = rg.must("--batch", "--json", "repair", hosts[1].Name, hosts[2].Name)
	id = planID(t, r)
	if n := len(r.lines(t, "plan.host")); n != 2 {
		t.Fatalf("repair plan hosts: %s", r)
	}
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)
	for _, h := range hosts[1:3] {
		out, err := h.Exec(ctx, "stat", "-c", "%a", path)
		if got := rg.hostFile(h, path); got != "managed = yes\n" || err != nil || strings.TrimSpace(string(out)) != "644" {
			t.Errorf("%s after repair: %q mode %s", h.Name, got, out)
		}
		if st := rg.hostState(h); st.Position != 2 || len(st.Applied) != 2 {
			t.Errorf("%s state after repair: %+v", h.Name, st)
		}
	}

	// Adopt the first host's edit: staged under the lock, pushed to all.
	if r := rg.run("--batch", "adopt", hosts[0].Name); r.code != exitUsage || !strings.Contains(r.stderr, "lock") {
		t.Errorf("adopt without the lock: %s", r)
	}
	rg.must("--batch", "lock", "main", "adopt the hand edit")
	r = rg.must("--batch", "--json", "adopt", hosts[0].Name)
	if st := r.lines(t, "staged"); len(st) != 1 || st[0]["entry"].(map[string]any)["path"] != path {
		t.Fatalf("adopt: %s", r)
	}
	id = planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)
	var contents []string
	for _, h := range hosts {
		contents = append(contents, rg.hostFile(h, path))
	}
	sort.Strings(contents)
	if contents[0] != "managed = no\n" || contents[4] != "managed = no\n" {
		t.Errorf("after adopt every host has the hand edit: %q", contents)
	}
	if r := rg.run("--batch", "drift"); r.code != 0 || !strings.Contains(r.stdout, "0 of 5 hosts drifted") {
		t.Errorf("drift after repair and adopt: %s", r)
	}
	if r := rg.run("--batch", "--json", "plan"); r.code != 0 || strings.Contains(r.stdout, `"pending":1`) {
		t.Errorf("plan after repair and adopt: %s", r)
	}
}

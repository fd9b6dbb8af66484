package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestWavesStopOnFleet pushes an entry that fails on 3 of 20 real hosts
// (its target directory is a read-only bind mount there) with --canary 1
// --wave 5 --max-fail 2: the push runs the canary and waves until the
// failures exceed 2, then stops, and the hosts of the waves not started
// have no change and keep their positions.
func TestWavesStopOnFleet(t *testing.T) {
	rg := newRig(t, 20)
	rg.setup()
	ctx := context.Background()
	// Position 1 everywhere first, so "unchanged" means something.
	rg.must("--batch", "lock", "main", "base")
	rg.must("--batch", "snap", rg.write("base", "base\n"), "--to", "/etc/discoterm-base")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)

	// node2 fails in wave 2, node8 in wave 3: 2 failures, not more than
	// 2; node12 (wave 4) makes 3. node17–node20 are never touched.
	broken := map[string]bool{"node2": true, "node8": true, "node12": true}
	for _, h := range rg.fleet.Hosts {
		script := "mkdir -p /srv/rollout"
		if broken[h.Name] {
			script += " && mount --bind /srv/rollout /srv/rollout && mount -o remount,ro,bind /srv/rollout"
		}
		if out, err := h.Exec(ctx, "sh", "-c", script); err != nil {
			t.Fatalf("%s: %v: %s", h.Name, err, out)
		}
	}
	rg.must("--batch", "lock", "main", "app config")
	rg.must("--batch", "snap", rg.write("app.conf", "wave=1\n"), "--to", "/srv/rollout/app.conf")
	id = planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)

	// Bad input is refused before any host is touched.
	for _, bad := range [][]string{
		{"--max-fail", "0%"}, {"--max-fail", "100%"}, {"--wave", "0"}, {"--wave", "-3"}, {"--wave", "five"},
		{"--canary", "21"}, {"--canary", "-1"}, {"--confirm"},
	} {
		r := rg.run(append([]string{"--batch", "push", id}, bad...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, strings.TrimPrefix(bad[0], "--")) {
			t.Errorf("push %v: want exit 2 naming the flag: %s", bad, r)
		}
	}

	r := rg.run("--batch", "--json", "push", id, "--canary", "1", "--wave", "5", "--max-fail", "2")
	if r.code != exitHostsFail {
		t.Fatalf("push: want exit 3 (stopped by the threshold): %s", r)
	}
	var waves []string
	var stop map[string]any
	for _, w := range r.lines(t, "push.wave") {
		waves = append(waves, fmt.Sprintf("%v %v %v", w["wave"], w["state"], w["failed_total"]))
		if w["state"] == "stopped" {
			stop = w
		}
	}
	want := []string{"1 started 0", "1 ended 0", "2 started 0", "2 ended 1", "3 started 1", "3 ended 2", "4 started 2", "4 ended 3", "5 stopped 3"}
	if !reflect.DeepEqual(waves, want) {
		t.Errorf("wave lines = %v, want %v\n%s", waves, want, r.stdout)
	}
	untouched := []any{"node17", "node18", "node19", "node20"}
	if stop == nil || !reflect.DeepEqual(stop["not_started"], untouched) || !strings.Contains(stop["reason"].(string), "more than --max-fail 2") {
		t.Errorf("stop line = %v", stop)
	}
	status := map[string]string{}
	for _, h := range r.lines(t, "push.host") {
		status[h["name"].(string)] = h["status"].(string)
	}
	for i, h := range rg.fleet.Hosts {
		st := rg.hostState(h)
		conf := rg.hostFile(h, "/srv/rollout/app.conf")
		switch {
		case broken[h.Name]:
			if status[h.Name] != "failed" || st.Position != 1 || conf == "wave=1\n" {
				t.Errorf("%s: %s at %d, conf %q: want failed at 1 without the file", h.Name, status[h.Name], st.Position, conf)
			}
		case i < 16:
			if status[h.Name] != "done" || st.Position != 2 || conf != "wave=1\n" {
				t.Errorf("%s: %s at %d, conf %q: want done at 2", h.Name, status[h.Name], st.Position, conf)
			}
		default:
			if status[h.Name] != "not-started" || st.Position != 1 || len(st.Applied) != 1 || !strings.HasPrefix(conf, "<") {
				t.Errorf("%s: %s at %d (%d applied), conf %q: want untouched at 1", h.Name, status[h.Name], st.Position, len(st.Applied), conf)
			}
		}
	}
	// The store's mirror agrees: the untouched hosts are still at 1.
	for _, h := range rg.must("--batch", "--json", "hosts").lines(t, "host") {
		name := h["name"].(string)
		if want := map[bool]float64{true: 1, false: 2}[broken[name] || name >= "node17" && len(name) == 6]; h["position"].(float64) != want {
			t.Errorf("%s mirrored at %v, want %v", name, h["position"], want)
		}
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serveMetrics starts `discoterm --batch serve-metrics` on a free port and
// returns the URL it says it serves; the process ends with the test.
func (rg *rig) serveMetrics(extra ...string) string {
	rg.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := append(append([]string{}, rg.flags...), append([]string{"--batch", "--json", "serve-metrics", "--listen", "127.0.0.1:0"}, extra...)...)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "HOME="+rg.dir, "SSH_AUTH_SOCK=")
	cmd.Dir = rg.dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		rg.t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		rg.t.Fatal(err)
	}
	rg.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			rg.t.Errorf("serve-metrics did not stop on SIGINT within 10s")
			cancel()
			<-done
		}
		cancel()
	})
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		rg.t.Fatalf("serve-metrics said nothing: %s", stderr.String())
	}
	var ok struct{ Type, Message string }
	if err := json.Unmarshal(sc.Bytes(), &ok); err != nil || ok.Type != "ok" {
		rg.t.Fatalf("serve-metrics first line: %q (%v)\nstderr: %s", sc.Text(), err, stderr.String())
	}
	go func() { // keep the pipe drained
		for sc.Scan() {
		}
	}()
	_, rest, _ := strings.Cut(ok.Message, "http://")
	url, _, _ := strings.Cut(rest, " ")
	return "http://" + url
}

// scrape fetches the metrics over HTTP and parses them with Prometheus'
// own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return fams
}

// sample is the value of the one series of family name whose labels
// include want; ok is false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsMatchStore: after a real scan and push on fleet hosts (one
// of which fails an entry), the scraped values are what `hosts` and
// `report` say; then, served with --scan and catch-up on, the scrape
// counts the catch-up pushes and plans it ran and its scan rounds.
func TestMetricsMatchStore(t *testing.T) {
	rg := newRig(t, 3)
	rg.write("main.cf", "DEFAULT\n    BRANCH = main\n")
	rg.flags = append(rg.flags, "--class", filepath.Join(rg.dir, "main.cf"), "--iface", rg.fleet.Bridge)
	rg.must("--batch", "scan")
	rg.must("--batch", "lock", "main", "metrics test")
	rg.must("--batch", "snap", rg.write("motd", "measured\n"), "--to", "/etc/motd")
	bad := rg.fleet.Hosts[1]
	rg.must("--batch", "exec", "--", fmt.Sprintf(`[ "$(hostname)" != %s ]`, bad.Name))
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	if r := rg.run("--batch", "push", id); r.code != exitHostsFail {
		t.Fatalf("push with one failing host: want exit %d: %s", exitHostsFail, r)
	}

	// A window open all day, every day: the gauges say so, as log does.
	if r := rg.run("--batch", "policy", "main", "--window", "Sat 02:00-04:00 UTX"); r.code != exitUsage || !strings.Contains(r.stderr, "column 17: unknown time zone") {
		t.Fatalf("bad window: %s", r)
	}
	rg.must("--batch", "policy", "main", "--window", "* 00:00-24:00 UTC")
	if r := rg.must("--batch", "hosts"); !strings.Contains(r.stdout, "open until") {
		t.Errorf("hosts shows no open window:\n%s", r.stdout)
	}
	var nextStart time.Time
	for _, j := range rg.must("--batch", "--json", "log", "main").lines(t, "journal") {
		nw, _ := j["next_window"].(map[string]any)
		if nw == nil || nw["open"] != true {
			t.Fatalf("log's next window: %v", j)
		}
		nextStart, _ = time.Parse(time.RFC3339, nw["start"].(string))
	}

	url := rg.serveMetrics()
	fams := scrape(t, url)
	hosts := rg.must("--batch", "--json", "hosts").lines(t, "host")
	report := rg.must("--batch", "--json", "report").lines(t, "result")
	if v, _ := sample(fams, "discoterm_store_up", nil); v != 1 {
		t.Fatalf("discoterm_store_up = %v", v)
	}
	live := map[string]float64{}
	for _, h := range hosts {
		name := h["name"].(string)
		lv, _ := h["liveness"].(string)
		live[lv]++
		labels := map[string]string{"host": name, "id": h["id"].(string)}
		seen, err := time.Parse(time.RFC3339Nano, h["last_seen"].(string))
		if err != nil {
			t.Fatalf("%s last_seen %v: %v", name, h["last_seen"], err)
		}
		if v, ok := sample(fams, "discoterm_host_last_seen_timestamp_seconds", labels); !ok || v != float64(seen.UnixMilli())/1e3 {
			t.Errorf("%s last seen: scraped %v (present %v), hosts says %v", name, v, ok, seen)
		}
		labels["branch"] = "main"
		if v, ok := sample(fams, "discoterm_host_behind_entries", labels); !ok || v != h["behind"].(float64) {
			t.Errorf("%s behind: scraped %v (present %v), hosts says %v", name, v, ok, h["behind"])
		}
		if v, ok := sample(fams, "discoterm_host_position", labels); !ok || v != h["position"].(float64) {
			t.Errorf("%s position: scraped %v (present %v), hosts says %v", name, v, ok, h["position"])
		}
		// The host's last result is "failed" when one of its entries in
		// report failed, else "done".
		want := "done"
		for _, r := range report {
			if r["host_name"] == name && r["result"] == "failed" {
				want = "failed"
			}
		}
		if want != h["last_result"] {
			t.Errorf("%s: report says %s, hosts says %v", name, want, h["last_result"])
		}
		labels["result"] = want
		if v, ok := sample(fams, "discoterm_host_last_push_result", labels); !ok || v != 1 {
			t.Errorf("%s last push result %s: scraped %v (present %v)", name, want, v, ok)
		}
		if (name == bad.Name) != (want == "failed") {
			t.Errorf("%s: result %s; only %s should have failed", name, want, bad.Name)
		}
	}
	for _, lv := range []string{"alive", "lost", "gone"} {
		if v, _ := sample(fams, "discoterm_hosts", map[string]string{"liveness": lv}); v != live[lv] {
			t.Errorf("discoterm_hosts{liveness=%q} = %v, hosts says %v", lv, v, live[lv])
		}
	}
	if v, _ := sample(fams, "discoterm_branch_hosts_behind", map[string]string{"branch": "main"}); v != 1 {
		t.Errorf("hosts behind on main: %v, want 1 (%s stopped at its failing entry)", v, bad.Name)
	}
	if v, _ := sample(fams, "discoterm_branch_window_open", map[string]string{"branch": "main"}); v != 1 {
		t.Errorf("window open on main: %v, want 1", v)
	}
	if v, _ := sample(fams, "discoterm_branch_window_next_start_timestamp_seconds", map[string]string{"branch": "main"}); v != float64(nextStart.Unix()) {
		t.Errorf("window start on main: %v, log says %v", v, nextStart)
	}
	if v, _ := sample(fams, "discoterm_branch_head", map[string]string{"branch": "main"}); v != 2 {
		t.Errorf("head of main: %v, want 2", v)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if n := l.GetName(); n != "host" && n != "id" && n != "branch" && n != "result" && n != "liveness" && n != "outcome" && n != "le" &&
					!strings.HasPrefix(f.GetName(), "go_") && !strings.HasPrefix(f.GetName(), "process_") && !strings.HasPrefix(f.GetName(), "promhttp_") {
					t.Errorf("%s has label %s: the label sets are meant to be bounded", f.GetName(), n)
				}
			}
		}
	}

	// Served with --scan: a new entry committed, catch-up on. The serving
	// process catches the hosts up and measures what it ran.
	rg.must("--batch", "lock", "main", "second")
	rg.must("--batch", "snap", rg.write("issue", "next\n"), "--to", "/etc/issue.discoterm")
	rg.must("--batch", "approve", planID(t, rg.must("--batch", "--json", "plan", rg.fleet.Hosts[0].Name)))
	rg.must("--batch", "policy", "main", "--catch-up", "on", "--parallel-catch-up", "3")
	url = rg.serveMetrics("--scan", "--interval", "1s")
	deadline := time.Now().Add(60 * time.Second)
	for {
		fams = scrape(t, url)
		okHosts, _ := sample(fams, "discoterm_push_hosts_total", map[string]string{"branch": "main", "outcome": "ok"})
		failed, _ := sample(fams, "discoterm_push_hosts_total", map[string]string{"branch": "main", "outcome": "failed"})
		behind, _ := sample(fams, "discoterm_branch_hosts_behind", map[string]string{"branch": "main"})
		if okHosts >= 2 && failed >= 1 && behind == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("catch-up not measured within 60s: ok %v failed %v behind %v", okHosts, failed, behind)
		}
		time.Sleep(200 * time.Millisecond)
	}
	pushes, _ := sample(fams, "discoterm_push_duration_seconds", map[string]string{"branch": "main"})
	plans, _ := sample(fams, "discoterm_plan_duration_seconds", map[string]string{"branch": "main"})
	rounds, _ := sample(fams, "discoterm_scan_rounds_total", nil)
	scans, _ := sample(fams, "discoterm_scan_round_duration_seconds", nil)
	replies, _ := sample(fams, "discoterm_scan_replies_total", nil)
	if pushes < 3 || plans < 3 || rounds < 1 || scans != rounds || replies < 3 {
		t.Errorf("after catching up 3 hosts: %v pushes, %v plans, %v rounds (%v observed), %v replies", pushes, plans, rounds, scans, replies)
	}
	for _, h := range []int{0, 2} {
		if got := rg.hostFile(rg.fleet.Hosts[h], "/etc/issue.discoterm"); got != "next\n" {
			t.Errorf("%s not caught up: %q", rg.fleet.Hosts[h].Name, got)
		}
	}
}

// TestPerStepMetrics: each exec entry reports on the host what its
// command used; a dd of 10 MiB shows at least 10 MiB written and read, a
// busy loop shows CPU, and report shows both in text and JSON.
func TestPerStepMetrics(t *testing.T) {
	rg := newRig(t, 1)
	rg.setup()
	rg.must("--batch", "lock", "main", "per-step metrics")
	rg.must("--batch", "exec", "--", "dd if=/dev/zero of=/var/tmp/dd10 bs=1M count=10 2>/dev/null")
	rg.must("--batch", "exec", "--", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	rg.must("--batch", "snap", rg.write("motd", "x\n"), "--to", "/etc/motd")
	id := planID(t, rg.must("--batch", "--json", "plan"))
	rg.must("--batch", "approve", id)
	rg.must("--batch", "push", id)
	rs := rg.must("--batch", "--json", "report").lines(t, "result")
	if len(rs) != 3 {
		t.Fatalf("want 3 results: %v", rs)
	}
	use := func(r map[string]any) map[string]float64 {
		u, _ := r["usage"].(map[string]any)
		out := map[string]float64{}
		for k, v := range u {
			out[k] = v.(float64)
		}
		return out
	}
	dd, loop, file := use(rs[0]), use(rs[1]), rs[2]
	if dd["write_chars"] < 10<<20 || dd["read_chars"] < 10<<20 || dd["write_chars"] > 11<<20 {
		t.Errorf("dd of 10 MiB: usage %v", dd)
	}
	if loop["user_cpu_ns"]+loop["sys_cpu_ns"] < 0.05e9 || loop["write_chars"] > 64<<10 {
		t.Errorf("busy loop: usage %v", loop)
	}
	if _, ok := file["usage"]; ok {
		t.Errorf("a file entry runs no command, yet has usage: %v", file)
	}
	if out := rg.must("--batch", "report").stdout; !strings.Contains(out, "CPU USER+SYS") || !strings.Contains(out, "10.0 MiB") {
		t.Errorf("report text lacks the metrics:\n%s", out)
	}
	// Peak memory: the fleet's hosts share this machine's cgroups. Where
	// the memory controller can be written (cgroup v1 here; cgroup2 with
	// memory delegated) it is measured; else unknown (-1, "n/a"), never
	// guessed (engine/remote's TestUsagePeakFromCgroup checks the cgroup2
	// logic against stand-ins). dd dirtied 10 MiB of page cache.
	t.Logf("peak memory: dd %v B, busy loop %v B", dd["peak_mem_bytes"], loop["peak_mem_bytes"])
	switch {
	case cgroupV1Memory():
		if dd["peak_mem_bytes"] < 10<<20 || loop["peak_mem_bytes"] <= 0 {
			t.Errorf("under cgroup v1 memory: peak dd %v, loop %v; want dd ≥ 10 MiB, loop measured", dd["peak_mem_bytes"], loop["peak_mem_bytes"])
		}
	case cgroup2():
		if dd["peak_mem_bytes"] != -1 && dd["peak_mem_bytes"] < 1<<20 {
			t.Errorf("dd under cgroup2: peak %v", dd["peak_mem_bytes"])
		}
	default:
		if dd["peak_mem_bytes"] != -1 || loop["peak_mem_bytes"] != -1 {
			t.Errorf("peak memory without a memory cgroup: dd %v, loop %v, want -1", dd["peak_mem_bytes"], loop["peak_mem_bytes"])
		}
	}
	if out := rg.must("--batch", "report").stdout; !strings.Contains(out, "PEAK MEM") || (!cgroup2() && !cgroupV1Memory() && !strings.Contains(out, "n/a")) {
		t.Errorf("report text lacks PEAK MEM:\n%s", out)
	}
}

// cgroupV1Memory reports whether this machine has no cgroup2 at
// /sys/fs/cgroup but a cgroup v1 memory hierarchy.
func cgroupV1Memory() bool {
	if cgroup2() {
		return false
	}
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.Contains(l, " - cgroup ") && strings.Contains(","+f[len(f)-1]+",", ",memory,") {
			return true
		}
	}
	return false
}

// cgroup2 reports whether this machine's /sys/fs/cgroup is cgroup v2.
func cgroup2() bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	v2 := false
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == "/sys/fs/cgroup" {
			v2 = strings.Contains(l, " - cgroup2 ")
		}
	}
	return v2
}

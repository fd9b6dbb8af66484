package metrics

import (
	"context"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/window"
	"github.com/discoterm/discoterm/store"
	"github.com/prometheus/client_golang/prometheus"
)

// The fleet's state, read from the store at each scrape. Per-host series
// carry host (its display name, which may change) and id (its identity,
// which does not), so a renamed host stays one series for a query by id.
var (
	descStoreUp = prometheus.NewDesc("discoterm_store_up",
		"1 when the last scrape could read the store, else 0 (and no fleet series).", nil, nil)
	descHosts = prometheus.NewDesc("discoterm_hosts",
		"Hosts known, by liveness (alive, lost, gone, unscanned).", []string{"liveness"}, nil)
	descUntrusted = prometheus.NewDesc("discoterm_hosts_untrusted",
		"Hosts whose SSH host key nobody trusted yet.", nil, nil)
	descLastSeen = prometheus.NewDesc("discoterm_host_last_seen_timestamp_seconds",
		"When the host last answered a scan (Unix time); per host, only hosts seen.", []string{"host", "id"}, nil)
	descBehind = prometheus.NewDesc("discoterm_host_behind_entries",
		"Entries of its branch the host has not applied yet (head - position); per host on a branch.", []string{"host", "id", "branch"}, nil)
	descPosition = prometheus.NewDesc("discoterm_host_position",
		"Sequence number of the last entry the host applied (its state file, as last read).", []string{"host", "id", "branch"}, nil)
	descLastResult = prometheus.NewDesc("discoterm_host_last_push_result",
		"1 for the result of the host's last push (ok, failed, stale, unreachable, …); per host, only hosts pushed.",
		[]string{"host", "id", "branch", "result"}, nil)
	descLastPush = prometheus.NewDesc("discoterm_host_last_push_timestamp_seconds",
		"When the host was last pushed (Unix time).", []string{"host", "id", "branch"}, nil)
	descDrifted = prometheus.NewDesc("discoterm_host_drifted_paths",
		"Paths the host's last drift check found drifted from the journal (content, mode or owner); per host, only hosts checked.",
		[]string{"host", "id", "branch"}, nil)
	descDriftChecked = prometheus.NewDesc("discoterm_host_drift_checked_timestamp_seconds",
		"When the host's drift was last checked (Unix time).", []string{"host", "id", "branch"}, nil)
	descBranchDrifted = prometheus.NewDesc("discoterm_branch_hosts_drifted",
		"Hosts of the branch whose last drift check found drifted paths.", []string{"branch"}, nil)
	descBranchHosts = prometheus.NewDesc("discoterm_branch_hosts",
		"Hosts following the branch.", []string{"branch"}, nil)
	descBranchBehind = prometheus.NewDesc("discoterm_branch_hosts_behind",
		"Hosts of the branch behind its head.", []string{"branch"}, nil)
	descWindowOpen = prometheus.NewDesc("discoterm_branch_window_open",
		"1 while one of the branch's maintenance windows is open, else 0; only branches with windows.", []string{"branch"}, nil)
	descWindowNext = prometheus.NewDesc("discoterm_branch_window_next_start_timestamp_seconds",
		"Start of the branch's open or next maintenance window (Unix time); only branches with windows.", []string{"branch"}, nil)
	descBranchHead = prometheus.NewDesc("discoterm_branch_head",
		"Sequence number of the branch's last committed entry.", []string{"branch"}, nil)
)

type fleetCollector struct {
	src  Source
	opts Options
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStoreUp, descHosts, descUntrusted, descLastSeen, descBehind, descPosition,
		descLastResult, descLastPush, descBranchHosts, descBranchBehind, descBranchHead, descWindowOpen, descWindowNext, descDrifted, descDriftChecked, descBranchDrifted} {
		ch <- d
	}
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ScrapeTimeout)
	defer cancel()
	hosts, err := c.src.Hosts(ctx)
	branches := map[string]uint64{}
	var bs []store.Branch
	if err == nil {
		bs, err = c.src.Branches()
		for _, b := range bs {
			branches[b.Name] = b.Head
		}
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 1)
	byLiveness := map[string]int{}
	untrusted := 0
	perBranch := map[string]int{}
	behind := map[string]int{}
	drifted := map[string]int{}
	for _, h := range hosts {
		lv := h.Liveness
		if lv == "" {
			lv = "unscanned"
		}
		byLiveness[lv]++
		if !h.Trusted {
			untrusted++
		}
		name, id := label(hostName(h)), label(h.ID)
		if !h.LastSeen.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastSeen, prometheus.GaugeValue, float64(h.LastSeen.UnixMilli())/1e3, name, id)
		}
		br := label(h.Branch)
		if h.Branch != "" {
			perBranch[h.Branch]++
			if h.Behind > 0 {
				behind[h.Branch]++
			}
			ch <- prometheus.MustNewConstMetric(descBehind, prometheus.GaugeValue, float64(max(h.Behind, 0)), name, id, br)
			ch <- prometheus.MustNewConstMetric(descPosition, prometheus.GaugeValue, float64(h.Position), name, id, br)
		}
		if d := h.Drift; d != nil && d.Err == "" && !d.Checked.IsZero() {
			ch <- prometheus.MustNewConstMetric(descDrifted, prometheus.GaugeValue, float64(len(d.Paths)), name, id, br)
			ch <- prometheus.MustNewConstMetric(descDriftChecked, prometheus.GaugeValue, float64(d.Checked.UnixMilli())/1e3, name, id, br)
			if len(d.Paths) > 0 && h.Branch != "" {
				drifted[h.Branch]++
			}
		}
		if h.LastResult != "" {
			ch <- prometheus.MustNewConstMetric(descLastResult, prometheus.GaugeValue, 1, name, id, br, label(h.LastResult))
		}
		if !h.LastPush.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastPush, prometheus.GaugeValue, float64(h.LastPush.UnixMilli())/1e3, name, id, br)
		}
	}
	for _, lv := range Livenesses {
		ch <- prometheus.MustNewConstMetric(descHosts, prometheus.GaugeValue, float64(byLiveness[lv]), lv)
		delete(byLiveness, lv)
	}
	for lv, n := range byLiveness { // a liveness this build does not know: still counted
		ch <- prometheus.MustNewConstMetric(descHosts, prometheus.GaugeValue, float64(n), label(lv))
	}
	ch <- prometheus.MustNewConstMetric(descUntrusted, prometheus.GaugeValue, float64(untrusted))
	for b, head := range branches {
		ch <- prometheus.MustNewConstMetric(descBranchHead, prometheus.GaugeValue, float64(head), label(b))
		ch <- prometheus.MustNewConstMetric(descBranchHosts, prometheus.GaugeValue, float64(perBranch[b]), label(b))
		ch <- prometheus.MustNewConstMetric(descBranchBehind, prometheus.GaugeValue, float64(behind[b]), label(b))
		ch <- prometheus.MustNewConstMetric(descBranchDrifted, prometheus.GaugeValue, float64(drifted[b]), label(b))
	}
	now := c.opts.Now()
	for _, b := range bs {
		if o, ok := nextWindow(b.Windows, now); ok {
			open := 0.0
			if o.Open(now) {
				open = 1
			}
			ch <- prometheus.MustNewConstMetric(descWindowOpen, prometheus.GaugeValue, open, label(b.Name))
			ch <- prometheus.MustNewConstMetric(descWindowNext, prometheus.GaugeValue, float64(o.Start.Unix()), label(b.Name))
		}
	}
}

// nextWindow is the open or next opening of a branch's windows; none when
// it has no windows or they no longer parse (the hosts view says why).
func nextWindow(srcs []string, now time.Time) (window.Opening, bool) {
	if len(srcs) == 0 {
		return window.Opening{}, false
	}
	ws := make([]*window.Window, 0, len(srcs))
	for _, s := range srcs {
		w, err := window.ParseCached(s)
		if err != nil {
			return window.Opening{}, false
		}
		ws = append(ws, w)
	}
	return window.Next(ws, now)
}

func hostName(h engine.HostView) string {
	if h.Name != "" {
		return h.Name
	}
	return h.ID
}

package metrics

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fleetEngine is an engine over a real store holding n hosts on two
// branches, a third of them behind, one host named with invalid UTF-8.
func fleetEngine(tb testing.TB, n int) *engine.Engine {
	tb.Helper()
	st, err := store.Open(filepath.Join(tb.TempDir(), "s.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	err = st.Update(func(tx store.Tx) error {
		for _, b := range []string{"main", "web"} {
			if err := tx.PutBranch(store.Branch{Name: b, Created: now, Windows: []string{"Sat 02:00-04:00 UTC"}}); err != nil {
				return err
			}
		}
		for i := range n {
			h := store.Host{ID: fmt.Sprintf("mid:%04d", i), Name: fmt.Sprintf("node%d", i), Addr: "fe80::1%br0", Trusted: i%10 != 0,
				Branch: []string{"main", "web"}[i%2], Liveness: []string{"alive", "lost", "gone", ""}[i%4],
				LastSeen: now.Add(-time.Duration(i) * time.Second), LastResult: []string{"done", "failed", "stale"}[i%3], LastPush: now}
			if i == 7 {
				h.Name = "evil\xff\xfe"
			}
			if i%5 == 0 { // checked; every tenth host has two drifted paths
				h.Drift = &store.DriftSummary{Checked: now}
				if i%10 == 0 {
					h.Drift.Paths = []string{"/etc/motd", "/etc/issue"}
				}
			}
			if err := tx.PutHost(h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := engine.New(engine.Options{Store: st, Operator: "bench", Clock: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// TestScrapeOfStore: the scrape parses with Prometheus' parser, counts
// every host once by liveness, and a host name that is not UTF-8 does not
// fail the scrape.
func TestScrapeOfStore(t *testing.T) {
	e := fleetEngine(t, 40)
	x := New(e, Options{NoProcess: true, Now: func() time.Time { return time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC) }})
	defer x.Close()
	rec := httptest.NewRecorder()
	x.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, m := range fams["discoterm_hosts"].Metric {
		total += m.Gauge.GetValue()
	}
	if total != 40 {
		t.Errorf("hosts by liveness sum to %v, want 40", total)
	}
	if n := len(fams["discoterm_host_last_seen_timestamp_seconds"].Metric); n != 40 {
		t.Errorf("%d last-seen series, want 40", n)
	}
	for _, m := range fams["discoterm_branch_window_open"].Metric {
		if m.Gauge.GetValue() != 1 {
			t.Errorf("Saturday 03:00 is inside the window: %v", m)
		}
	}
	if n := len(fams["discoterm_host_drifted_paths"].Metric); n != 8 {
		t.Errorf("%d hosts with a drift gauge, want the 8 checked", n)
	}
	drifted := 0.0
	for _, m := range fams["discoterm_branch_hosts_drifted"].Metric {
		drifted += m.Gauge.GetValue()
	}
	if drifted != 4 {
		t.Errorf("%v drifted hosts over the branches, want 4", drifted)
	}
	if v := fams["discoterm_hosts_untrusted"].Metric[0].Gauge.GetValue(); v != 4 {
		t.Errorf("untrusted %v, want 4", v)
	}
}

// BenchmarkScrape: one scrape of a fleet read from a real store.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			e := fleetEngine(b, n)
			x := New(e, Options{NoProcess: true})
			defer x.Close()
			h := x.Handler()
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}

// Package metrics exports what discoterm knows about its fleet to
// Prometheus (github.com/prometheus/client_golang).
//
// Two sources feed it. The fleet's state — hosts by liveness, when each
// was last seen, how far each is behind its branch, each host's last push
// result — is read from the store at every scrape, so it is true whichever
// process (console, batch run, scanner) changed the store. Durations —
// plans, pushes, scan rounds — are observed from the engine's typed events,
// so they cover the operations of the process that serves the metrics
// (the console with --metrics-listen, or serve-metrics with --scan, whose
// catch-up pushes are its own).
//
// Label sets are bounded: a host label only on the per-host series whose
// point is that host (last seen, behind, last result), a branch label
// where a branch is the unit, and never a label per entry, plan or push.
package metrics

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is what the exporter reads: *engine.Engine.
type Source interface {
	Hosts(ctx context.Context) ([]engine.HostView, error)
	Branches() ([]store.Branch, error)
	Subscribe() (<-chan engine.Event, func())
}

// Options tune an Exporter.
type Options struct {
	// ScrapeTimeout bounds reading the store for one scrape; 0 → 5s.
	ScrapeTimeout time.Duration
	// Now is the clock for next-window times; nil → time.Now.
	Now func() time.Time
	// NoProcess leaves out the Go runtime and process collectors (tests
	// that compare whole scrapes).
	NoProcess bool
}

// Livenesses are the values of the liveness label of discoterm_hosts:
// every one is exported, at 0 when no host is in it, so a state that
// empties shows 0 rather than vanishing. "unscanned" is a host the scanner
// never saw (added by address).
var Livenesses = []string{"alive", "lost", "gone", "unscanned"}

// Exporter is a Prometheus registry holding discoterm's metrics.
type Exporter struct {
	reg  *prometheus.Registry
	stop func()
	done chan struct{}

	planDur, pushDur *prometheus.HistogramVec
	pushHosts        *prometheus.CounterVec
	scanDur          prometheus.Histogram
	scanRounds       prometheus.Counter
	scanReplies      prometheus.Gauge
	scanRepliesTotal prometheus.Counter
}

// New registers the metrics and starts observing the source's events;
// Close stops it.
func New(src Source, opts Options) *Exporter {
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	x := &Exporter{reg: prometheus.NewRegistry(), done: make(chan struct{})}
	// Plans and pushes take from well under a second (one host, nothing
	// pending) to minutes (a large fleet on a slow link).
	opBuckets := prometheus.ExponentialBucketsRange(0.05, 600, 14)
	x.planDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "discoterm_plan_duration_seconds",
		Help: "Wall time of plans (dry-runs) run by this process, by branch.", Buckets: opBuckets}, []string{"branch"})
	x.pushDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "discoterm_push_duration_seconds",
		Help: "Wall time of pushes run by this process (catch-up and up included), by branch.", Buckets: opBuckets}, []string{"branch"})
	x.pushHosts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "discoterm_push_hosts_total",
		Help: "Hosts of pushes run by this process, by branch and outcome (ok, failed, stale)."}, []string{"branch", "outcome"})
	x.scanDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "discoterm_scan_round_duration_seconds",
		Help:    "Wall time of scan rounds (probes and listening) run by this process.",
		Buckets: prometheus.ExponentialBucketsRange(0.01, 60, 12)})
	x.scanRounds = prometheus.NewCounter(prometheus.CounterOpts{Name: "discoterm_scan_rounds_total",
		Help: "Scan rounds run by this process."})
	x.scanReplies = prometheus.NewGauge(prometheus.GaugeOpts{Name: "discoterm_scan_replies",
		Help: "Echo replies received in the last scan round."})
	x.scanRepliesTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "discoterm_scan_replies_total",
		Help: "Echo replies received in every scan round of this process."})
	x.reg.MustRegister(x.planDur, x.pushDur, x.pushHosts, x.scanDur, x.scanRounds, x.scanReplies, x.scanRepliesTotal,
		&fleetCollector{src: src, opts: opts})
	if !opts.NoProcess {
		x.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	events, stop := src.Subscribe()
	x.stop = stop
	go x.observe(events)
	return x
}

// observe turns the engine's events into observations until the
// subscription ends.
func (x *Exporter) observe(events <-chan engine.Event) {
	defer close(x.done)
	for ev := range events {
		switch ev := ev.(type) {
		case *engine.PlanDoneEvent:
			x.planDur.WithLabelValues(label(ev.Branch)).Observe(ev.Duration.Seconds())
		case *engine.PushDoneEvent:
			b := label(ev.Branch)
			x.pushDur.WithLabelValues(b).Observe(ev.Duration.Seconds())
			// Failed counts the stale hosts too.
			x.pushHosts.WithLabelValues(b, "ok").Add(float64(max(ev.Hosts-ev.Failed, 0)))
			x.pushHosts.WithLabelValues(b, "failed").Add(float64(max(ev.Failed-ev.Stale, 0)))
			x.pushHosts.WithLabelValues(b, "stale").Add(float64(ev.Stale))
		case *engine.ScanEvent:
			if ev.State != "round" {
				continue
			}
			x.scanRounds.Inc()
			x.scanDur.Observe(ev.Duration.Seconds())
			x.scanReplies.Set(float64(ev.Replies))
			x.scanRepliesTotal.Add(float64(ev.Replies))
		}
	}
}

// Registry is the exporter's registry, for a face that adds its own.
func (x *Exporter) Registry() *prometheus.Registry { return x.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (x *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(x.reg, promhttp.HandlerOpts{Registry: x.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Close ends the subscription to the engine's events.
func (x *Exporter) Close() {
	x.stop()
	<-x.done
}

// Serve serves the exporter on ln at /metrics (and a pointer at /) until
// ctx ends, then shuts the server down.
func Serve(ctx context.Context, ln net.Listener, x *Exporter) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", x.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("discoterm metrics: /metrics\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != http.ErrServerClosed {
		return err
	}
	return nil
}

// label makes a value from the store or a host safe as a label value:
// valid UTF-8 (client_golang refuses a series otherwise, failing the
// scrape) and at most 128 bytes (a host names itself).
func label(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > 128 {
		s = strings.ToValidUTF8(s[:128], "")
	}
	return s
}

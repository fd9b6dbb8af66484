package ui

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/ui/uitest"
)

// countingWriter counts the bytes the program writes to its terminal.
type countingWriter struct{ n atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// BenchmarkLiveScanTerminalBytes measures what a live scan of 1,000 hosts
// costs the operator's (possibly remote) terminal at 200×50: the real
// program and renderer, a scan round every second (five times the default
// rate) refreshing every host's last-seen time and RTT, for three seconds.
// It reports bytes written per second after the first full frame.
func BenchmarkLiveScanTerminalBytes(b *testing.B) {
	for b.Loop() {
		f := uitest.New(uitest.Options{Hosts: 1000, Clock: time.Now})
		m, err := NewModel(f, Options{Theme: "dark", Now: time.Now})
		if err != nil {
			b.Fatal(err)
		}
		out := &countingWriter{}
		ctx, cancel := context.WithCancel(context.Background())
		p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithOutput(out), tea.WithInput(nil),
			tea.WithWindowSize(200, 50), tea.WithColorProfile(colorprofile.ANSI256), tea.WithoutSignals())
		done := make(chan struct{})
		go func() { _, _ = p.Run(); close(done) }()
		time.Sleep(500 * time.Millisecond) // first full frame
		start, before := time.Now(), out.n.Load()
		hosts, _ := f.Hosts(ctx)
		for round := 1; round <= 3; round++ {
			now := time.Now()
			for i := range hosts {
				f.SetHost(hosts[i].ID, func(h *engine.HostView) {
					h.LastSeen, h.RTT, h.Liveness = now, time.Duration(100+round*7+i%50)*time.Microsecond, "alive"
				})
			}
			f.Emit(&engine.ScanEvent{Header: engine.Header{Message: "round"}, State: "round", Round: uint64(round)})
			time.Sleep(time.Second)
		}
		elapsed := time.Since(start)
		bytes := out.n.Load() - before
		cancel()
		<-done
		m.Close()
		b.ReportMetric(float64(bytes)/elapsed.Seconds(), "terminal-bytes/s")
	}
}

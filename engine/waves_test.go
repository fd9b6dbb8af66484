package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

func amount(s string) *store.Amount {
	a, err := engine.ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return &a
}

func intp(n int) *int { return &n }

// failOn makes the exec entry "exit 1" with guard --unless healthy fail on
// the named fake hosts and be skipped (ok) everywhere else.
func failOn(v *testEnv, addrs ...string) engine.StageRequest {
	for _, a := range addrs {
		v.fr.with(a, func(h *fakeHost) {
			if h.unless == nil {
				h.unless = map[string]int{}
			}
			h.unless["healthy"] = 1
		})
	}
	return execReq("exit 1", journal.Guard{Unless: "healthy"})
}

// waveEvents collects the wave events published until stop is called.
func waveEvents(e *engine.Engine) func() []*engine.WaveEvent {
	ch, cancel := e.Subscribe()
	done := make(chan []*engine.WaveEvent)
	go func() {
		var out []*engine.WaveEvent
		for ev := range ch {
			if w, ok := ev.(*engine.WaveEvent); ok {
				out = append(out, w)
			}
		}
		done <- out
	}()
	return func() []*engine.WaveEvent { cancel(); return <-done }
}

func TestWavesStopAfterThresholdCrossed(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("web", 20)
	p := v.commit("main", fileReq("/etc/motd", "hello\n"), failOn(v, addrs[2], addrs[3], addrs[4]))
	events := waveEvents(v.eng)
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{Canary: intp(1), Wave: amount("5"), MaxFail: amount("2")})
	evs := events()
	if !errors.Is(err, engine.ErrHostsFail) || !strings.Contains(err.Error(), "stopped after wave 2 of 5") {
		t.Fatalf("push error = %v, want a stop after wave 2 (exit 3)", err)
	}
	wantWaves := []engine.WaveResult{
		{Wave: 1, Canary: true, Hosts: []string{"web01"}},
		{Wave: 2, Hosts: []string{"web02", "web03", "web04", "web05", "web06"}, Failed: 3},
	}
	if !reflect.DeepEqual(r.Waves, wantWaves) {
		t.Errorf("waves = %+v, want %+v", r.Waves, wantWaves)
	}
	for i, h := range r.Hosts {
		switch {
		case i >= 2 && i <= 4:
			if h.Status != engine.PushFailed || h.To != 1 {
				t.Errorf("%s: %s at %d, want failed at 1", h.Name, h.Status, h.To)
			}
		case i < 6:
			if h.Status != engine.PushDone || h.To != 2 {
				t.Errorf("%s: %s at %d, want done at 2", h.Name, h.Status, h.To)
			}
		default:
			// Untouched: no change on the host, the mirror unmoved.
			if h.Status != engine.PushNotStarted || !strings.Contains(h.Err, "stopped after wave 2") {
				t.Errorf("%s: %s (%s), want not-started naming the stop", h.Name, h.Status, h.Err)
			}
			if _, ok := v.fr.file(addrs[i], "/etc/motd"); ok || v.fr.counts(addrs[i]).applies != 0 {
				t.Errorf("%s was touched", h.Name)
			}
			if hv := v.hostView(h.Name); hv.Position != 0 {
				t.Errorf("%s position %d, want 0", h.Name, hv.Position)
			}
		}
	}
	if ns := r.NotStarted(); len(ns) != 14 || ns[0] != "web07" {
		t.Errorf("not started = %v", ns)
	}
	var states []string
	for _, ev := range evs {
		states = append(states, fmt.Sprintf("%d %s", ev.Wave, ev.State))
	}
	want := []string{"1 started", "1 ended", "2 started", "2 ended", "3 stopped"}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("wave events = %v, want %v", states, want)
	}
	if last := evs[len(evs)-1]; len(last.NotStarted) != 14 || last.MaxFail != 2 || last.Reason == "" {
		t.Errorf("stop event = %+v", last)
	}
}

func TestWavesMaxFailZeroStopsAtFirstFailure(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("web", 6)
	p := v.commit("main", failOn(v, addrs[0]))
	// Branch defaults apply when the push gives no flags.
	if err := v.eng.SetRollout("main", store.Rollout{Canary: 1, Wave: amount("50%"), MaxFail: amount("0")}); err != nil {
		t.Fatal(err)
	}
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrHostsFail) {
		t.Fatalf("err = %v", err)
	}
	if len(r.Waves) != 1 || len(r.NotStarted()) != 5 {
		t.Errorf("waves %+v, not started %v: the canary's failure must stop the push", r.Waves, r.NotStarted())
	}
}

func TestWavesAllGoodRunEveryWave(t *testing.T) {
	v := newEnv(t)
	v.addHosts("web", 7)
	p := v.commit("main", fileReq("/etc/motd", "x\n"))
	r := v.push(p, engine.PushOptions{Canary: intp(2), Wave: amount("40%"), MaxFail: amount("10%")})
	var sizes []int
	for _, w := range r.Waves {
		sizes = append(sizes, len(w.Hosts))
	}
	// 40 % of 7 rounds up to 3: canary 2, then 3, then the last 2.
	if !reflect.DeepEqual(sizes, []int{2, 3, 2}) || r.Stopped != "" || r.Failed() != 0 {
		t.Errorf("wave sizes %v, stopped %q, failed %d", sizes, r.Stopped, r.Failed())
	}
}

func TestWavesAliveWithin(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("web", 3)
	p := v.commit("main", fileReq("/etc/motd", "x\n"))
	// web02 was last heard of an hour ago.
	err := v.st.Update(func(tx store.Tx) error {
		hs, err := tx.Hosts()
		if err != nil {
			return err
		}
		for _, h := range hs {
			if h.Name == "web02" {
				h.LastSeen, h.StateSeen = time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)
			} else {
				h.LastSeen = time.Now()
			}
			if err := tx.PutHost(h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := v.eng.Push(context.Background(), p.ID, engine.PushOptions{AliveWithin: 5 * time.Minute})
	if h := r.Hosts[1]; h.Status != engine.PushNotStarted || !strings.Contains(h.Err, "not seen alive within --alive-within 5m0s") {
		t.Errorf("web02: %s %q", h.Status, h.Err)
	}
	if v.fr.counts(addrs[1]).applies != 0 || r.Hosts[0].Status != engine.PushDone || r.Hosts[2].Status != engine.PushDone {
		t.Errorf("hosts: %+v", r.Hosts)
	}
}

func TestWavesConfirmStops(t *testing.T) {
	v := newEnv(t)
	addrs := v.addHosts("web", 4)
	p := v.commit("main", fileReq("/etc/motd", "x\n"))
	var asked []int
	r, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{Canary: intp(1), Wave: amount("1"),
		Confirm: func(_ context.Context, next *engine.WaveEvent) (bool, error) {
			asked = append(asked, next.Wave)
			return next.Wave < 3, nil // continue to wave 2, stop before 3
		}})
	if !errors.Is(err, engine.ErrHostsFail) || !reflect.DeepEqual(asked, []int{2, 3}) {
		t.Fatalf("err %v, asked %v", err, asked)
	}
	if !strings.Contains(r.Stopped, "stopped by alice after wave 2") || v.fr.counts(addrs[2]).applies != 0 {
		t.Errorf("stopped %q; web03 applies %d", r.Stopped, v.fr.counts(addrs[2]).applies)
	}
}

func TestRolloutBadInput(t *testing.T) {
	v := newEnv(t)
	v.addHosts("web", 3)
	p := v.commit("main", fileReq("/etc/motd", "x\n"))
	for _, tc := range []struct {
		opts engine.PushOptions
		want string
	}{
		{engine.PushOptions{Canary: intp(4)}, "--canary 4 is more hosts than the plan has (3)"},
		{engine.PushOptions{Canary: intp(-1)}, "negative"},
		{engine.PushOptions{MaxFail: amount("0%")}, "say --max-fail 0"},
		{engine.PushOptions{MaxFail: amount("100%")}, "never stops"},
		{engine.PushOptions{Wave: amount("0")}, "a wave of no hosts"},
	} {
		_, err := v.eng.Push(context.Background(), p.ID, tc.opts)
		if !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want usage error with %q", tc.opts, err, tc.want)
		}
	}
	// Refused before any host: the plan can still be pushed.
	v.push(p, engine.PushOptions{})
	for _, s := range []string{"", "-1", "x", "5%%", "101%", "1.5", "+3", "%"} {
		if _, err := engine.ParseAmount(s); err == nil {
			t.Errorf("ParseAmount(%q) accepted", s)
		}
	}
	if a, err := engine.ParseAmount(" 20% "); err != nil || a != (store.Amount{N: 20, Percent: true}) {
		t.Errorf("ParseAmount(20%%) = %+v, %v", a, err)
	}
}

// FuzzParseAmount: any text is either refused or an amount that formats
// back to what it parsed.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"5", "20%", "0", "100%", "-1", "101%", "x", "", "%", "1e3", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := engine.ParseAmount(s)
		if err != nil {
			return
		}
		if a.N < 0 || a.Percent && a.N > 100 {
			t.Fatalf("%q parsed to %+v", s, a)
		}
		if b, err := engine.ParseAmount(engine.FormatAmount(a)); err != nil || b != a {
			t.Fatalf("%q: %+v does not round-trip: %+v %v", s, a, b, err)
		}
	})
}

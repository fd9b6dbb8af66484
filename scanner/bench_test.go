package scanner

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Discovery benchmarks on a test fleet. ns/op is dominated by the listen window and says
// little; the figures are the custom metrics:
//
//	ms-to-last-reply  first probe to the first reply of the last host found
//	hosts-found       distinct hosts in the round (of the fleet's N)
//
// "cold" flushes the neighbour tables on both sides before each round (a scanner starting on a
// link, hosts booting); "warm" is the steady state of Run. "ping" counts the distinct
// responders of ping on the same link, as the operator would check by hand.
//
//	rounds-to-all     cold only: rounds until every host was found (first included)
//
//	sudo go test ./scanner -run '^$' -bench Discovery -benchtime 5x
//
// By hand, larger fleets and the kernel's default backlog (testfleet raises
// net.core.netdev_max_backlog for fleets over 30 hosts; it is restored afterwards):
//
//	SCANNER_BENCH_HOSTS=100,200 SCANNER_BENCH_BACKLOG=1000 sudo go test ./scanner -run '^$' -bench Discovery/.*/cold -benchtime 3x
func BenchmarkDiscovery(b *testing.B) {
	sizes := []int{10, 50}
	if env := os.Getenv("SCANNER_BENCH_HOSTS"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("SCANNER_BENCH_HOSTS=%q: %v", env, err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			f := startFleet(b, fleetOptions{N: n})
			if v := os.Getenv("SCANNER_BENCH_BACKLOG"); v != "" {
				sysctlSet(b, "net.core.netdev_max_backlog", v)
				b.Log(sh(b, "sysctl", "net.core.netdev_max_backlog"))
			}
			b.Run("cold", func(b *testing.B) { benchRounds(b, f, true) })
			b.Run("warm", func(b *testing.B) { benchRounds(b, f, false) })
			for _, cmd := range []string{"ping -6 -c1 -w2", "ping -6 -w2"} {
				b.Run(strings.ReplaceAll(cmd, " ", "_"), func(b *testing.B) { benchPing(b, f, cmd) })
			}
		})
	}
}

func benchRounds(b *testing.B, f *fleet, cold bool) {
	var s *Scanner
	var totalMS, found, rounds float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if cold || s == nil {
			if s != nil {
				s.Close()
			}
			if cold {
				f.flushNeighbours(b)
			}
			s = newScanner(b, f, Options{Window: DefaultWindow})
			if !cold {
				round(b, s) // warm up
			}
		}
		b.StartTimer()
		res := round(b, s)
		b.StopTimer()
		totalMS += float64(res.LastReply) / float64(time.Millisecond)
		seen := sightedMACs(nil, res.Sightings)
		found += float64(fleetHostsIn(f, seen))
		if cold { // how many rounds until everyone was seen
			for rounds++; fleetHostsIn(f, seen) < len(f.Hosts) && res.Round < 10; rounds++ {
				res = round(b, s)
				sightedMACs(seen, res.Sightings)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(totalMS/float64(b.N), "ms-to-last-reply")
	b.ReportMetric(found/float64(b.N), "hosts-found")
	if cold {
		b.ReportMetric(rounds/float64(b.N), "rounds-to-all")
	}
}

func benchPing(b *testing.B, f *fleet, cmd string) {
	own := ownAddrs()
	var found float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f.flushNeighbours(b)
		b.StartTimer()
		args := append(strings.Fields(cmd), "ff02::1%"+f.Bridge)
		out, _ := exec.Command(args[0], args[1:]...).Output() // exit 1 when replies are missing
		responders := map[netip.Addr]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[2] != "from" {
				continue
			}
			if a, err := netip.ParseAddr(strings.TrimSuffix(fields[3], ":")); err == nil && !own[a.WithZone("")] {
				responders[a.WithZone("")] = true
			}
		}
		found += float64(len(responders))
	}
	b.ReportMetric(found/float64(b.N), "hosts-found")
}

func sightedMACs(into map[string]bool, sgs []Sighting) map[string]bool {
	if into == nil {
		into = map[string]bool{}
	}
	for _, sg := range sgs {
		into[sg.MAC] = true
	}
	return into
}

func fleetHostsIn(f *fleet, macs map[string]bool) int {
	n := 0
	for _, h := range f.Hosts {
		if macs[h.MAC] {
			n++
		}
	}
	return n
}

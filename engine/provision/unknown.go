package provision

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/discoterm/discoterm/engine/machines"
)

// Unknown machines (provision --unknown) get a short discovery boot: an
// address from a small pool, the discovery profile (PROFILES/discover),
// whose initrd reports the machine's MAC and hardware to /report and
// powers off. Nothing is registered: the operator reads the report and
// runs machine add.

// DiscoverProfile is the boot profile unknown machines get.
const DiscoverProfile = "discover"

// UnknownPool hands unknown MACs an address each, from the top of the
// server's subnet down (PoolSize addresses), never one a machine file
// registers or the server's own.
type UnknownPool struct {
	Server   netip.Prefix // the server's address and prefix
	Machines func() ([]machines.Machine, error)
	Lease    time.Duration // default 10m
	Clock    func() time.Time

	mu     sync.Mutex
	leases map[string]poolLease // MAC → lease
}

type poolLease struct {
	addr netip.Addr
	till time.Time
}

// PoolSize is how many addresses discovery boots may use at once.
const PoolSize = 32

func (p *UnknownPool) now() time.Time {
	if p.Clock != nil {
		return p.Clock()
	}
	return time.Now()
}

// Lease is the address of mac, the one it had if its lease runs, else a
// free one; false when the pool is exhausted.
func (p *UnknownPool) LeaseFor(mac net.HardwareAddr) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leases == nil {
		p.leases = map[string]poolLease{}
	}
	lease := p.Lease
	if lease <= 0 {
		lease = 10 * time.Minute
	}
	now := p.now()
	if l, ok := p.leases[mac.String()]; ok && now.Before(l.till) {
		l.till = now.Add(lease)
		p.leases[mac.String()] = l
		return l.addr, true
	}
	taken := map[netip.Addr]bool{p.Server.Addr(): true}
	if ms, err := p.Machines(); err == nil {
		for _, m := range ms {
			taken[m.IP] = true
		}
	}
	for k, l := range p.leases {
		if now.Before(l.till) {
			taken[l.addr] = true
		} else {
			delete(p.leases, k)
		}
	}
	pfx := p.Server.Masked()
	last := lastAddr(pfx)
	a := last.Prev() // not the broadcast address
	for i := 0; i < PoolSize && a.IsValid() && pfx.Contains(a) && a != pfx.Addr(); i, a = i+1, a.Prev() {
		if !taken[a] {
			p.leases[mac.String()] = poolLease{addr: a, till: now.Add(lease)}
			return a, true
		}
	}
	return netip.Addr{}, false
}

// MACOf is the unknown MAC an address is leased to.
func (p *UnknownPool) MACOf(a netip.Addr) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for mac, l := range p.leases {
		if l.addr == a && now.Before(l.till) {
			return mac, true
		}
	}
	return "", false
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	return netip.AddrFrom4(b)
}

// Report is what a discovery boot says of an unknown machine.
type Report struct {
	MAC      string
	Addr     netip.Addr
	Hardware map[string]string // key → value, checked and capped
}

// Caps on a report: it is untrusted text from an unknown machine.
const (
	MaxReportBytes  = 16 << 10
	MaxReportFields = 32
	maxReportValue  = 200
)

// ParseReport reads "key value" or "key=value" lines; keys are 1 to 32 of
// a-z, 0-9, '_' and '-'. Lines that are not are skipped; values are cut
// at 200 bytes.
func ParseReport(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxReportBytes {
		return nil, fmt.Errorf("report of %d bytes or more is too large (at most %d)", len(data), MaxReportBytes)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() && len(out) < MaxReportFields {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(k, " \t") {
			k, v, _ = strings.Cut(line, " ")
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !reportKey(k) {
			continue
		}
		if len(v) > maxReportValue {
			v = v[:maxReportValue]
		}
		out[k] = v
	}
	return out, nil
}

func reportKey(k string) bool {
	if len(k) < 1 || len(k) > 32 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// ReportKeys lists a report's keys sorted, for stable messages.
func ReportKeys(h map[string]string) []string {
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// serveDiscovery answers an unknown machine of the pool: its discovery
// script, the discovery profile's kernel and initrd, and /report.
func serveDiscovery(o HTTPOptions, w http.ResponseWriter, r *http.Request, req *HTTPRequest, mac string, fail func(int, error)) {
	pdir := filepath.Join(o.Profiles, DiscoverProfile)
	req.MAC = mac
	switch p := r.URL.Path; {
	case p == "/discover.ipxe":
		script, err := discoverScript(pdir, o.Server, mac, req.Client)
		if err != nil {
			fail(http.StatusInternalServerError, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(script)
	case p == "/profile/"+DiscoverProfile+"/"+ProfileKernel || p == "/profile/"+DiscoverProfile+"/"+ProfileInitrd:
		http.ServeFile(w, r, filepath.Join(pdir, filepath.Base(p)))
	case p == "/report" && r.Method == http.MethodPost:
		hw, err := ParseReport(r.Body)
		if err != nil {
			fail(http.StatusRequestEntityTooLarge, err)
			return
		}
		req.Report = &Report{MAC: mac, Addr: req.Client, Hardware: hw}
		w.Write([]byte("reported; nothing is registered\n"))
	default:
		fail(http.StatusNotFound, fmt.Errorf("not a discovery boot file"))
	}
}

// discoverScript is the discovery profile's iPXE script; its cmdline
// template gets .MAC, .IP, .Server and .ReportURL.
func discoverScript(profile, server, mac string, ip netip.Addr) ([]byte, error) {
	tpl, err := cmdlineTemplate(profile)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(server)
	var cmdline bytes.Buffer
	if err := tpl.Execute(&cmdline, map[string]string{"MAC": mac, "IP": ip.String(), "Server": host, "ReportURL": "http://" + server + "/report"}); err != nil {
		return nil, fmt.Errorf("boot profile %s: cmdline: %v", profile, err)
	}
	line := strings.Join(strings.Fields(cmdline.String()), " ")
	base := "http://" + server + "/profile/" + DiscoverProfile + "/"
	return fmt.Appendf(nil, "#!ipxe\nkernel %s%s %s\ninitrd %s%s\nboot\n", base, ProfileKernel, line, base, ProfileInitrd), nil
}

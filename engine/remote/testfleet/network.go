package testfleet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// setupNetwork creates the bridge, namespaces and veths and configures the
// root side; the namespace side is done per host in startHost.
func (f *Fleet) setupNetwork(ctx context.Context) error {
	var b1 []string
	for _, h := range f.Hosts {
		b1 = append(b1, "netns add "+h.Netns)
	}
	b1 = append(b1, fmt.Sprintf("link add %s address %s type bridge mcast_snooping 0", f.Bridge, f.BridgeMAC))
	for _, h := range f.Hosts {
		b1 = append(b1, fmt.Sprintf("link add %s type veth peer name eth0 address %s netns %s", h.Veth, h.MAC, h.Netns))
	}
	if err := ipBatch(ctx, "", false, b1); err != nil {
		return err
	}
	// Root side: the bridge takes explicit addresses (no DAD, no
	// autoconfigured one); the bridge ports carry no IPv6 of their own.
	sys := [][2]string{
		{"net.ipv6.conf." + f.Bridge + ".accept_dad", "0"},
		{"net.ipv6.conf." + f.Bridge + ".addr_gen_mode", "1"},
	}
	for _, h := range f.Hosts {
		sys = append(sys, [2]string{"net.ipv6.conf." + h.Veth + ".disable_ipv6", "1"})
	}
	for _, s := range sys {
		if err := writeSysctl(s[0], s[1]); err != nil {
			return err
		}
	}
	var b2 []string
	for _, h := range f.Hosts {
		b2 = append(b2, fmt.Sprintf("link set %s master %s up", h.Veth, f.Bridge))
	}
	b2 = append(b2,
		"link set "+f.Bridge+" up",
		fmt.Sprintf("addr add %s/64 dev %s nodad", f.BridgeLinkLocal, f.Bridge),
		fmt.Sprintf("addr add %s/64 dev %s nodad", f.BridgeULA, f.Bridge),
		// No delayed ACKs on the fleet's routes (see quickackRoutes).
		fmt.Sprintf("route replace %s dev %s proto kernel metric 256 quickack 1", f.Prefix, f.Bridge),
	)
	return ipBatch(ctx, "", false, b2)
}

// forHosts runs fn for every host with at most par at once; the first error
// cancels the rest.
func (f *Fleet) forHosts(ctx context.Context, par int, fn func(*Host) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, h := range f.Hosts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(h); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", h.Name, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// quickackRoutes adds a host route with delayed ACKs off for every host's
// ULA and link-local address in the root namespace. SSH's small
// request/response writes otherwise stall ~40 ms (Nagle + delayed ACK)
// several times per login. Host routes, because the kernel re-creates the
// bridge's fe80::/64 route (without the attribute) when its carrier comes.
func (f *Fleet) quickackRoutes(ctx context.Context) error {
	var b []string
	for _, h := range f.Hosts {
		b = append(b,
			fmt.Sprintf("route replace %s/128 dev %s quickack 1", h.ULA, f.Bridge),
			fmt.Sprintf("route replace %s/128 dev %s quickack 1", h.LinkLocal, f.Bridge))
	}
	return ipBatch(ctx, "", false, b)
}

func (f *Fleet) startHost(ctx context.Context, h *Host) error {
	if err := f.prepareView(h); err != nil {
		return fmt.Errorf("preparing the filesystem view: %w", err)
	}
	if err := h.startAnchor(ctx); err != nil {
		return err
	}
	return h.startSSHD(ctx)
}

// configureNetns sets the namespace's sysctls and addresses and learns the
// link-local address.
func (h *Host) configureNetns(ctx context.Context) error {
	nsPath := "/run/netns/" + h.Netns
	secret := ""
	if h.StablePrivacy {
		var a [16]byte
		copy(a[:], randBytes(16))
		secret = netip.AddrFrom16(a).String()
	}
	err := inNetns(nsPath, func() error {
		sys := [][2]string{
			{"net.ipv6.conf.all.accept_dad", "0"},
			{"net.ipv6.conf.default.accept_dad", "0"},
			{"net.ipv6.conf.eth0.accept_dad", "0"},
			{"net.ipv6.icmp.echo_ignore_multicast", "0"},
			// Keep the ULA when the link goes down (Host.Down/Up).
			{"net.ipv6.conf.eth0.keep_addr_on_down", "1"},
		}
		if secret != "" {
			sys = append(sys,
				[2]string{"net.ipv6.conf.eth0.stable_secret", secret},
				[2]string{"net.ipv6.conf.eth0.addr_gen_mode", "2"})
		}
		for _, s := range sys {
			if err := writeSysctl(s[0], s[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := ipBatch(ctx, h.Netns, false, []string{
		"link set lo up",
		"addr add " + h.ULA + "/64 dev eth0 nodad",
		"link set eth0 up",
		// No delayed ACKs on the fleet's link (see quickackRoutes).
		"route replace " + h.fleet.Prefix + " dev eth0 proto kernel metric 256 quickack 1",
		"route replace fe80::/64 dev eth0 proto kernel metric 256 quickack 1",
		"route replace " + h.fleet.BridgeULA + "/128 dev eth0 quickack 1",
		"route replace " + h.fleet.BridgeLinkLocal + "/128 dev eth0 quickack 1",
	}); err != nil {
		return err
	}
	ll, err := h.readLinkLocal()
	if err != nil {
		return err
	}
	if h.LinkLocal != "" && h.LinkLocal != ll {
		return fmt.Errorf("link-local is %s, expected EUI-64 %s", ll, h.LinkLocal)
	}
	h.LinkLocal = ll
	return nil
}

// readLinkLocal returns eth0's link-local address inside the namespace,
// waiting briefly for the kernel to assign it.
func (h *Host) readLinkLocal() (string, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		var ll string
		err := inNetns("/run/netns/"+h.Netns, func() error {
			out, err := os.ReadFile("/proc/thread-self/net/if_inet6") // not /proc/net: that is the main thread's netns
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(out), "\n") {
				fs := strings.Fields(line)
				// addr ifindex prefixlen scope flags name
				if len(fs) == 6 && fs[5] == "eth0" && fs[3] == "20" {
					flags, _ := strconv.ParseUint(fs[4], 16, 32)
					if flags&(0x40|0x02) != 0 { // tentative, dadfailed
						continue
					}
					a, err := parseHexAddr(fs[0])
					if err != nil {
						return err
					}
					ll = a.String()
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if ll != "" {
			return ll, nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("eth0 got no usable link-local address")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func parseHexAddr(s string) (netip.Addr, error) {
	if len(s) != 32 {
		return netip.Addr{}, fmt.Errorf("bad address %q", s)
	}
	var a [16]byte
	for i := range 16 {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return netip.Addr{}, err
		}
		a[i] = byte(v)
	}
	return netip.AddrFrom16(a), nil
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

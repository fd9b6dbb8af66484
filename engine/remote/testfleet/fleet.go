// Package testfleet makes a fleet of real test hosts on this machine and
// tears it down again: each host is a network namespace on a veth pair to a
// Linux bridge in the root namespace, with IPv6 link-local and ULA
// addresses, its own hostname, machine-id and SSH host key, and a real
// OpenSSH sshd running on a private copy-on-write view of the whole
// filesystem (overlayfs, lowerdir=/, upper dir on a per-fleet tmpfs).
//
// Typical use in a test:
//
//	f := testfleet.StartT(t, testfleet.Options{N: 3})
//	out, err := f.Hosts[0].Exec(ctx, "hostname")
//	// ssh $(f.Hosts[0].SSHArgs()) hostname   (OpenSSH client)
//
// Needs root, iproute2, util-linux (unshare, nsenter), openssh-server and
// overlayfs; Require skips (or fails under CI=true) when they are missing.
//
// Layout of a fleet with id XXXX (4 hex digits, unique on the machine):
// bridge dtbXXXX (fe80::d7:XXff:feXX:0 and fdd7:XXXX::1), hosts in network
// namespaces dtXXXXh<N> on veths dtXXXXv<N> (eth0 inside, MAC
// 02:d7:XX:XX:<N>, EUI-64 link-local unless StablePrivacy, ULA
// fdd7:XXXX::<N+1>). The fleet directory holds fleet.json, the client key
// id_ed25519, known_hosts, ssh_config, log/<host>.log (sshd) and fs/, a
// tmpfs with every host's overlay upper dir (a host's changes to the
// machine's files are visible there).
//
// Each host has an anchor process ("sleep infinity", Host.Pid) that holds
// its mount/UTS/network namespaces and chroot; sshd and Exec enter them
// with nsenter. With Options.Systemd the anchor is instead the machine's
// systemd, PID 1 of the host's own PID namespace (systemd.go). Every fleet is recorded under RegistryDir before any of
// its resources exist, with a lock its owner holds; Start sweeps fleets
// whose owner died, and `testfleet down -all` removes detached ones.
package testfleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// Options configure Start.
type Options struct {
	N             int    // hosts (1…4000)
	Dir           string // fleet directory; "" → a new temporary directory
	NamePrefix    string // hostnames are "<prefix><N>"; default "node" (node1, node2, …)
	StablePrivacy []int  // 1-based host numbers that get stable-privacy link-local addresses
	NoKnownHosts  bool   // don't write the known_hosts file

	// Detach makes a fleet that outlives this process (`testfleet up`):
	// Sweep leaves it alone while its bridge exists; remove it with Stop on
	// Load(dir) or `testfleet down`.
	Detach bool
	// RaiseLimits raises net.core.netdev_max_backlog and the root
	// namespace's IPv6 neighbour-table thresholds for the fleet's lifetime
	// (restored when the last fleet needing them stops). Automatic for
	// more than LimitsThreshold hosts.
	RaiseLimits bool
	// Parallel bounds concurrent host setup; 0 → 8.
	Parallel int
	// PQKex keeps OpenSSH's default post-quantum key exchange
	// (sntrup761x25519) on the hosts' sshd. By default it is removed from
	// sshd's list: it costs an OpenSSH client ~70 ms of CPU per login on a
	// small machine, and Go's x/crypto/ssh does not offer it anyway.
	PQKex bool
	// Systemd makes hosts whose PID 1 (of their own PID namespace) is the
	// machine's systemd, with no services but sshd (see systemd.go);
	// RequireSystemd skips tests where that cannot work.
	Systemd bool
}

// Fleet is a running fleet. Its exported fields are what fleet.json holds.
type Fleet struct {
	ID              string  `json:"id"`
	Bridge          string  `json:"bridge"`
	Dir             string  `json:"dir"`
	BridgeMAC       string  `json:"bridge_mac"`
	BridgeLinkLocal string  `json:"bridge_link_local"` // fe80::… (no zone)
	BridgeULA       string  `json:"bridge_ula"`        // fd…::1
	Prefix          string  `json:"prefix"`            // the fleet's ULA /64
	ClientKey       string  `json:"client_key"`        // private key (OpenSSH format) for root on every host
	ClientPubKey    string  `json:"client_pub_key"`    // its authorized_keys line
	KnownHosts      string  `json:"known_hosts"`       // "" with NoKnownHosts
	SSHConfig       string  `json:"ssh_config"`        // ssh -F file: Host <name> entries, key, known_hosts
	Hosts           []*Host `json:"hosts"`

	OwnerPID     int  `json:"owner_pid"`
	Detached     bool `json:"detached,omitempty"`
	Ready        bool `json:"ready"`         // Start completed
	OwnDir       bool `json:"own_dir"`       // Dir was created by Start (removed whole by Stop)
	Mounted      bool `json:"mounted"`       // the tmpfs is (or may be) mounted
	RaisedLimits bool `json:"raised_limits"` // see Options.RaiseLimits
	PQKex        bool `json:"pq_kex,omitempty"`
	Systemd      bool `json:"systemd,omitempty"`
	NumHosts     int  `json:"num_hosts"` // planned host count

	mu      sync.Mutex
	lock    *os.File // registry flock (owner only)
	stopped bool
}

// Host is one test host.
type Host struct {
	N             int    `json:"n"`
	Name          string `json:"name"`
	Netns         string `json:"netns"`
	Veth          string `json:"veth"` // the root-namespace end (a bridge port); eth0 inside
	MAC           string `json:"mac"`  // of eth0 inside the namespace
	LinkLocal     string `json:"link_local"`
	ULA           string `json:"ula"`
	MachineID     string `json:"machine_id"`
	HostKey       string `json:"host_key"` // authorized_keys-format public host key
	StablePrivacy bool   `json:"stable_privacy,omitempty"`

	// Pid is the host's anchor process ("sleep infinity" in the chroot): it
	// holds the host's mount/UTS/net namespaces and root, so Exec works
	// while sshd is stopped.
	Pid       int    `json:"pid"`
	PidStart  uint64 `json:"pid_start"`
	SSHDPid   int    `json:"sshd_pid"`
	SSHDStart uint64 `json:"sshd_start"`

	fleet    *Fleet
	mu       sync.Mutex
	sshdDone chan struct{} // closed when the sshd we started exits (nil if not our child)
}

const (
	sshdConfig  = "/etc/ssh/sshd_config.discoterm"
	hostKeyPath = "/etc/ssh/ssh_host_ed25519_key"
)

// ---- naming ----------------------------------------------------------------

func (f *Fleet) plan(id string) {
	f.ID = id
	f.Bridge = "dtb" + id
	idb, _ := strconv.ParseUint(id, 16, 16)
	mac := [6]byte{0x02, 0xd7, byte(idb >> 8), byte(idb), 0, 0}
	f.BridgeMAC = macString(mac)
	f.BridgeLinkLocal = eui64LinkLocal(mac).String()
	p := netip.MustParseAddr("fdd7:" + id + "::")
	f.Prefix = netip.PrefixFrom(p, 64).String()
	f.BridgeULA = ulaHost(p, 1).String()
	f.OwnerPID = os.Getpid()
	f.Mounted = false
}

func ulaHost(prefix netip.Addr, v uint32) netip.Addr {
	a := prefix.As16()
	a[12], a[13], a[14], a[15] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return netip.AddrFrom16(a)
}

func (f *Fleet) newHost(n int, prefix string, stable bool) *Host {
	idb, _ := strconv.ParseUint(f.ID, 16, 16)
	mac := [6]byte{0x02, 0xd7, byte(idb >> 8), byte(idb), byte(n >> 8), byte(n)}
	h := &Host{
		N:             n,
		Name:          prefix + strconv.Itoa(n),
		Netns:         fmt.Sprintf("dt%sh%d", f.ID, n),
		Veth:          fmt.Sprintf("dt%sv%d", f.ID, n),
		MAC:           macString(mac),
		ULA:           ulaHost(netip.MustParsePrefix(f.Prefix).Addr(), uint32(n+1)).String(),
		MachineID:     randHex(16),
		StablePrivacy: stable,
		fleet:         f,
	}
	if !stable {
		h.LinkLocal = eui64LinkLocal(mac).String()
	}
	return h
}

// LinkLocalZoned is the host's link-local address with the bridge as zone.
func (h *Host) LinkLocalZoned() string { return h.LinkLocal + "%" + h.fleet.Bridge }

// HostKeyFingerprint is the SHA256:… fingerprint of the host key.
func (h *Host) HostKeyFingerprint() string {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(h.HostKey))
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(pk)
}

// Fleet returns the fleet the host belongs to.
func (h *Host) Fleet() *Fleet { return h.fleet }

// dirEntries are the names a fleet creates in its directory.
var dirEntries = []string{"fleet.json", "id_ed25519", "id_ed25519.pub", "known_hosts", "ssh_config", "log", "fs"}

func (f *Fleet) fsDir() string           { return filepath.Join(f.Dir, "fs") }
func (f *Fleet) logPath(h *Host) string  { return filepath.Join(f.Dir, "log", h.Name+".log") }
func (f *Fleet) hostDir(h *Host) string  { return filepath.Join(f.fsDir(), h.Name) }
func (f *Fleet) upperDir(h *Host) string { return filepath.Join(f.hostDir(h), "upper") }
func (f *Fleet) fleetJSON() string       { return filepath.Join(f.Dir, "fleet.json") }
func (h *Host) String() string           { return h.Name }

// HostByName returns the host with that hostname, or nil.
func (f *Fleet) HostByName(name string) *Host {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// SSHArgs returns arguments for the system OpenSSH client that log in as
// root on h by its ULA with strict host key checking, e.g.
// exec.Command("ssh", append(h.SSHArgs(), "hostname")...).
func (h *Host) SSHArgs() []string {
	f := h.fleet
	args := []string{"-F", "/dev/null", "-i", f.ClientKey, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}
	if f.KnownHosts != "" {
		args = append(args, "-o", "UserKnownHostsFile="+f.KnownHosts, "-o", "StrictHostKeyChecking=yes")
	} else {
		args = append(args, "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no")
	}
	return append(args, "root@"+h.ULA)
}

// Signer returns the fleet's client key for golang.org/x/crypto/ssh.
func (f *Fleet) Signer() (ssh.Signer, error) {
	b, err := os.ReadFile(f.ClientKey)
	if err != nil {
		return nil, err
	}
	return ssh.ParsePrivateKey(b)
}

// ---- state -----------------------------------------------------------------

func (f *Fleet) marshal() []byte {
	for _, h := range f.Hosts {
		h.mu.Lock()
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	for _, h := range f.Hosts {
		h.mu.Unlock()
	}
	return append(b, '\n')
}

// saveState writes fleet.json to the fleet dir and the registry.
func (f *Fleet) saveState() error {
	b := f.marshal()
	var errs []error
	if f.Dir != "" && exists(f.Dir) {
		errs = append(errs, writeFileAtomic(f.fleetJSON(), b, 0o644))
	}
	if f.ID != "" && exists(f.registryDir()) {
		errs = append(errs, writeFileAtomic(filepath.Join(f.registryDir(), "fleet.json"), b, 0o644))
	}
	return errors.Join(errs...)
}

// Load reconstructs a fleet from DIR/fleet.json (e.g. for `testfleet down`).
func Load(dir string) (*Fleet, error) {
	return readState(filepath.Join(dir, "fleet.json"))
}

// ---- start -----------------------------------------------------------------

// Start makes a fleet: registers it, creates bridge, namespaces, veths and
// addresses, prepares every host's view and starts its sshd, and returns
// when every sshd answers on its ULA and link-local address. On error
// nothing is left behind. It first runs Sweep to remove dead fleets.
func Start(ctx context.Context, opts Options) (f *Fleet, err error) {
	if opts.N < 1 || opts.N > 4000 {
		return nil, fmt.Errorf("testfleet: N=%d out of range 1…4000", opts.N)
	}
	for _, n := range opts.StablePrivacy {
		if n < 1 || n > opts.N {
			return nil, fmt.Errorf("testfleet: StablePrivacy host %d out of range 1…%d", n, opts.N)
		}
	}
	prefix := opts.NamePrefix
	if prefix == "" {
		prefix = "node"
	}
	if strings.ContainsAny(prefix, " \t\n/%,:") {
		return nil, fmt.Errorf("testfleet: bad NamePrefix %q", prefix)
	}
	if opts.Dir != "" {
		d, err := filepath.Abs(opts.Dir)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(d, ",:\\ \t\n") {
			return nil, fmt.Errorf("testfleet: Dir %q must not contain , : \\ or spaces (overlayfs options)", d)
		}
		opts.Dir = d
	}
	_ = Sweep() // best effort; leftovers of others never block a new fleet

	if opts.Systemd {
		if r := SystemdUsable(); r != "" {
			return nil, fmt.Errorf("testfleet: systemd hosts: %s", r)
		}
	}
	f = &Fleet{Detached: opts.Detach, NumHosts: opts.N, PQKex: opts.PQKex, Systemd: opts.Systemd}
	if err := register(f); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if terr := f.teardown(); terr != nil {
				err = fmt.Errorf("%w (and cleaning up: %v)", err, terr)
			}
			f = nil
		}
	}()
	for n := 1; n <= opts.N; n++ {
		f.Hosts = append(f.Hosts, f.newHost(n, prefix, slices.Contains(opts.StablePrivacy, n)))
	}
	// Record the planned resources before creating any of them.
	if err := f.saveState(); err != nil {
		return f, err
	}
	if err := f.makeDir(opts.Dir); err != nil {
		return f, err
	}
	if opts.RaiseLimits || opts.N > LimitsThreshold {
		if err := f.raiseLimits(); err != nil {
			return f, fmt.Errorf("raising limits: %w", err)
		}
	}
	if err := f.setupNetwork(ctx); err != nil {
		return f, err
	}
	par := opts.Parallel
	if par <= 0 {
		par = 8
	}
	if err := f.forHosts(ctx, par, func(h *Host) error { return h.configureNetns(ctx) }); err != nil {
		return f, err
	}
	if err := f.quickackRoutes(ctx); err != nil {
		return f, err
	}
	if err := f.forHosts(ctx, par, func(h *Host) error { return f.startHost(ctx, h) }); err != nil {
		return f, err
	}
	if err := f.writeClientFiles(opts.NoKnownHosts); err != nil {
		return f, err
	}
	f.Ready = true
	if err := f.saveState(); err != nil {
		return f, err
	}
	return f, nil
}

func (f *Fleet) makeDir(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "dtfleet-"+f.ID+"-")
		if err != nil {
			return err
		}
		f.Dir, f.OwnDir = d, true
	} else {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			f.OwnDir = true
		} else if err != nil {
			return err
		} else if exists(filepath.Join(dir, "fleet.json")) {
			return fmt.Errorf("testfleet: %s already holds a fleet (fleet.json); `testfleet down -dir %s` first", dir, dir)
		} else {
			// Stop removes these from a directory it did not create: they
			// must be ours.
			for _, n := range dirEntries {
				if exists(filepath.Join(dir, n)) {
					return fmt.Errorf("testfleet: %s already has %s; use an empty or new directory", dir, n)
				}
			}
		}
		f.Dir = dir
	}
	if err := os.Chmod(f.Dir, 0o755); err != nil && f.OwnDir {
		return err
	}
	f.Mounted = true
	if err := f.saveState(); err != nil {
		return err
	}
	for _, d := range []string{f.fsDir(), filepath.Join(f.Dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("tmpfs", f.fsDir(), "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", f.fsDir(), err)
	}
	priv, pub, err := newKey("discoterm-testfleet-" + f.ID)
	if err != nil {
		return err
	}
	f.ClientKey = filepath.Join(f.Dir, "id_ed25519")
	f.ClientPubKey = pub
	if err := os.WriteFile(f.ClientKey, priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(f.ClientKey+".pub", []byte(pub+"\n"), 0o644)
}

// writeClientFiles writes known_hosts and ssh_config.
func (f *Fleet) writeClientFiles(noKnownHosts bool) error {
	if !noKnownHosts {
		var b strings.Builder
		for _, h := range f.Hosts {
			fields := strings.Fields(h.HostKey)
			fmt.Fprintf(&b, "%s,%s,%s %s %s\n", h.ULA, h.LinkLocalZoned(), h.Name, fields[0], fields[1])
		}
		f.KnownHosts = filepath.Join(f.Dir, "known_hosts")
		if err := os.WriteFile(f.KnownHosts, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# discoterm test fleet %s: ssh -F %s <host>\n", f.ID, filepath.Join(f.Dir, "ssh_config"))
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "Host %s\n  HostName %s\n", h.Name, h.ULA)
	}
	fmt.Fprintf(&b, "Host *\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n  BatchMode yes\n", f.ClientKey)
	if f.KnownHosts != "" {
		fmt.Fprintf(&b, "  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n", f.KnownHosts)
	} else {
		b.WriteString("  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n")
	}
	f.SSHConfig = filepath.Join(f.Dir, "ssh_config")
	return os.WriteFile(f.SSHConfig, []byte(b.String()), 0o644)
}

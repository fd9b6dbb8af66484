package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/provision"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/textsafe"
)

// BootEvent is one netboot request and what was answered: the machine's
// boot history (PXElator's audit).
type BootEvent struct {
	Header
	Service string `json:"service"` // dhcp, tftp, http
	MAC     string `json:"mac,omitempty"`
	Machine string `json:"machine,omitempty"` // "" for an unregistered MAC
	Request string `json:"request"`           // DISCOVER, REQUEST, a TFTP file name
	Answer  string `json:"answer,omitempty"`  // OFFER, ACK, sent; "" ignored
	Addr    string `json:"addr,omitempty"`
	Err     string `json:"error,omitempty"`
	// Hardware is what an unknown machine's discovery boot reported
	// (provision --unknown): untrusted text, escaped by the faces.
	Hardware map[string]string `json:"hardware,omitempty"`
	// Client is what sent a DHCP request: ipxe, pxe (boot firmware) or os
	// (the booted system's own DHCP client: the same boot).
	Client string `json:"client,omitempty"`
}

// ProvisionOptions start the boot services on one interface.
type ProvisionOptions struct {
	Interface string
	BootDir   string // served read-only by TFTP
	// Force starts beside another DHCP server found on the link.
	Force bool
	// HTTPPort serves the iPXE scripts and profiles; 0: 80. Profiles
	// are BootDir/profiles/NAME.
	HTTPPort int
	// ProbeWait is how long the probe for another DHCP server listens;
	// default 2s.
	ProbeWait time.Duration
	// Unknown offers unknown MACs the discovery boot (profile
	// BootDir/profiles/discover), which reports their MAC and hardware
	// and registers nothing.
	Unknown bool
	// SSHDTimeout is how long a machine that booted may take before its
	// sshd answers (provision_watch.go); default DefaultSSHDTimeout.
	SSHDTimeout time.Duration
}

// Provision runs DHCPv4 (registered MACs only) and TFTP on one interface
// until ctx ends; every request is a BootEvent.
func (e *Engine) Provision(ctx context.Context, o ProvisionOptions) error {
	dir := e.Machines()
	if dir.Path == "" {
		return fmt.Errorf("%w: no machines directory: give --machines DIR", ErrUsage)
	}
	ms, err := dir.Load()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	hist := &bootHistory{dir: e.historyDir()}
	emitBoot := func(ev *BootEvent) {
		e.emit(ev)
		hist.add(ev)
	}
	if o.BootDir == "" {
		return fmt.Errorf("%w: provision needs --boot-dir DIR (the files TFTP serves)", ErrUsage)
	}
	profiles := filepath.Join(o.BootDir, "profiles")
	for _, m := range ms {
		if m.Boot != "" {
			if err := provision.CheckProfile(filepath.Join(profiles, m.Boot)); err != nil {
				return fmt.Errorf("%w: machine %s: %v", ErrUsage, m.Name, err)
			}
		}
	}
	var pool *provision.UnknownPool
	if o.Unknown {
		if err := provision.CheckProfile(filepath.Join(profiles, provision.DiscoverProfile)); err != nil {
			return fmt.Errorf("%w: --unknown boots unknown machines into the discovery profile: %v (its cmdline gets {{.ReportURL}}, where its initrd posts the MAC and hardware)", ErrUsage, err)
		}
		pool = &provision.UnknownPool{Clock: e.opts.Clock}
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	keyDir := e.keyDir()
	for _, m := range ms {
		if m.Boot == "" || !m.IP.IsValid() {
			continue
		}
		k, err := provision.EnsureHostKey(keyDir, m.Name)
		if err != nil {
			return err
		}
		if e.opts.KeyTrust == nil {
			e.logf(LevelWarn, "provision: no known_hosts to record %s's host key in; its first SSH contact will ask", m.Name)
			continue
		}
		if err := e.opts.KeyTrust.TrustHostKey(remote.Target{Addr: m.IP.String(), Port: 22, Name: m.Name}, k.Public); err != nil {
			return fmt.Errorf("trusting the host key made for %s: %v", m.Name, err)
		}
	}
	wait := o.ProbeWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	if !o.Force {
		other, err := provision.ProbeOtherDHCP(ctx, o.Interface, wait)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		if other != nil {
			return fmt.Errorf("%w: another DHCP server (%s) answers on %s; discoterm will not hand out leases beside it: stop it, or give --force", ErrUsage, other, o.Interface)
		}
	}
	srv, err := provision.NewDHCPServer(provision.DHCPOptions{Interface: o.Interface, Machines: dir.Load, Clock: e.opts.Clock, HTTPPort: o.HTTPPort, Unknown: pool,
		OnRequest: func(r provision.DHCPRequest) {
			if r.Machine == "" && !r.Logged && !r.Discovery {
				return // an unknown MAC is logged once an hour
			}
			ev := &BootEvent{Header: Header{Level: LevelInfo}, Service: "dhcp", MAC: r.MAC.String(), Machine: r.Machine, Request: r.Type, Answer: r.Answer, Client: r.Client}
			if r.Addr.IsValid() {
				ev.Addr = r.Addr.String()
			}
			switch {
			case r.Discovery && r.Answer != "":
				ev.Message = fmt.Sprintf("dhcp: %s from unknown MAC %s: %s %s, discovery boot %s (it reports its hardware; nothing is registered)", r.Type, r.MAC, r.Answer, r.Addr, textsafe.Line(r.BootFile))
			case r.Discovery:
				ev.Message = fmt.Sprintf("dhcp: %s from unknown MAC %s not answered", r.Type, r.MAC)
			case r.Machine == "":
				ev.Level = LevelWarn
				ev.Message = fmt.Sprintf("dhcp: %s from unregistered MAC %s ignored (register it: machine add %s --name NAME --ip ADDR; logged once an hour)", r.Type, r.MAC, r.MAC)
			case r.Answer == "":
				ev.Message = fmt.Sprintf("dhcp: %s from %s (%s) not answered", r.Type, r.Machine, r.MAC)
			default:
				ev.Message = fmt.Sprintf("dhcp: %s from %s (%s): %s %s, boot %s", r.Type, r.Machine, r.MAC, r.Answer, r.Addr, textsafe.Line(r.BootFile))
			}
			emitBoot(ev)
		}})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	ifc, _ := net.InterfaceByName(o.Interface)
	var ip net.IP
	if addrs, err := ifc.Addrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				ip = n.IP
				break
			}
		}
	}
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(ip.String(), "69"))
	if err != nil {
		return fmt.Errorf("%w: TFTP on %s: %v", ErrUsage, o.Interface, err)
	}
	defer conn.Close()
	tftp := &provision.TFTPServer{Root: o.BootDir, OnRequest: func(r provision.TFTPRequest) {
		ev := &BootEvent{Header: Header{Level: LevelInfo}, Service: "tftp", Request: textsafe.Line(r.File), Answer: "sent"}
		if ua, ok := r.Client.(*net.UDPAddr); ok {
			ev.Addr = ua.IP.String()
			if a, ok := netip.AddrFromSlice(ua.IP.To4()); ok {
				if ms, err := dir.Load(); err == nil {
					for _, m := range ms {
						if m.IP == a {
							ev.Machine, ev.MAC = m.Name, m.MAC.String()
						}
					}
				}
			}
		}
		who := ev.Machine
		if who == "" {
			who = ev.Addr
		}
		if r.Err != nil {
			ev.Level, ev.Answer, ev.Err = LevelWarn, "", r.Err.Error()
			ev.Message = fmt.Sprintf("tftp: %s asked for %q: %v", who, ev.Request, r.Err)
		} else {
			ev.Message = fmt.Sprintf("tftp: %s fetched %q (%d bytes, blksize %d)", who, ev.Request, r.Bytes, r.Blksize)
		}
		emitBoot(ev)
	}}
	hln, err := net.Listen("tcp4", net.JoinHostPort(ip.String(), strconv.Itoa(o.HTTPPort)))
	if err != nil {
		return fmt.Errorf("%w: HTTP on %s: %v; give another --http-port", ErrUsage, o.Interface, err)
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: provision.NewHTTPHandler(provision.HTTPOptions{
		Profiles: profiles, Server: hln.Addr().String(), Machines: dir.Load, KeyDir: keyDir, Tokens: &provision.Tokens{}, Unknown: pool,
		OnRequest: func(r provision.HTTPRequest) {
			ev := &BootEvent{Header: Header{Level: LevelInfo}, Service: "http", Machine: r.Machine, MAC: r.MAC, Request: textsafe.Line(r.Path),
				Answer: strconv.Itoa(r.Status), Addr: r.Client.String()}
			ev.Message = fmt.Sprintf("http: %s GET %s: %d", r.Client, ev.Request, r.Status)
			if r.Report != nil {
				ev.Hardware = r.Report.Hardware
				ev.Message = discoveredMessage(r.Report)
			}
			if r.Err != nil {
				ev.Level, ev.Err = LevelWarn, r.Err.Error()
			}
			emitBoot(ev)
		}})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Router solicitations are answered beside the three services; a
	// failure there only makes iPXE boots slower (provision_ra.go).
	raDone := make(chan struct{})
	go func() { defer close(raDone); e.answerRouterSolicits(ctx, o.Interface, dir.Load, emitBoot) }()
	defer func() { cancel(); <-raDone }()
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(ctx) }()
	go func() { errc <- tftp.Serve(ctx, conn) }()
	go func() {
		err := hs.Serve(hln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	context.AfterFunc(ctx, func() { hs.Close() })
	if o.SSHDTimeout <= 0 {
		o.SSHDTimeout = DefaultSSHDTimeout
	}
	watched := make(chan struct{})
	go func() { e.watchSSHD(ctx, o.SSHDTimeout, emitBoot); close(watched) }()
	defer func() { <-watched }()
	unknown := "unknown MACs ignored"
	if o.Unknown {
		unknown = "unknown MACs get the discovery boot"
	}
	e.logf(LevelInfo, "provisioning on %s (%s): DHCP for the machines in %s (%s), TFTP from %s", o.Interface, ip, dir.Path, unknown, o.BootDir)
	err = <-errc
	cancel()
	for range 2 {
		if err2 := <-errc; err == nil {
			err = err2
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// discoveredMessage says what a discovery boot reported, and how to
// register the machine; nothing is registered.
func discoveredMessage(r *provision.Report) string {
	var hw []string
	for _, k := range provision.ReportKeys(r.Hardware) {
		hw = append(hw, k+"="+textsafe.Line(r.Hardware[k]))
	}
	return fmt.Sprintf("discovered unknown machine %s at %s: %s; nothing is registered (register it: machine add %s --name NAME --ip ADDR)",
		r.MAC, r.Addr, orDefault(strings.Join(hw, " "), "no hardware reported"), r.MAC)
}

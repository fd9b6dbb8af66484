package verbs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/machines"
)

// GroupMachines holds the netboot verbs.
const GroupMachines = "machines (netboot)"

// MachineSource is a backend that knows the machines directory
// (--machines DIR). *engine.Engine is one.
type MachineSource interface {
	Machines() machines.Dir
}

// BootHistorySource is a backend that keeps the machines' boot history.
type BootHistorySource interface {
	BootHistory(machine string) ([]engine.BootEvent, error)
}

var _ BootHistorySource = (*engine.Engine)(nil)

// BootHistory is a machine's DHCP, TFTP and HTTP requests, oldest first.
type BootHistory struct {
	Machine string
	Events  []engine.BootEvent
}

// Summary implements Result.
func (r BootHistory) Summary() string {
	if len(r.Events) == 0 {
		return "no boot requests of " + r.Machine + " yet"
	}
	return count(len(r.Events), "boot request") + " of " + r.Machine
}

var _ MachineSource = (*engine.Engine)(nil)

func machineVerbs() []*Verb {
	return []*Verb{
		{Name: "machine", Group: GroupMachines, Help: "netboot machines as plain files: machine add MAC --name N | list | rm MACHINE | edit MACHINE | history MACHINE | key MACHINE",
			Args: []Arg{{Name: "ACTION"}, {Name: "MACHINE", Optional: true}},
			Flags: []Flag{{Name: "name", Type: String, Value: "NAME", Help: "add, edit: hostname, also the file's name"},
				{Name: "ip", Type: String, Value: "ADDR", Help: "add, edit: fixed IPv4 address DHCP hands it (\"none\" clears)"},
				{Name: "branch", Type: String, Value: "B", Help: "add, edit: branch it joins once it is up (\"none\" clears)"},
				{Name: "boot", Type: String, Value: "PROFILE", Help: "add, edit: boot profile (\"none\" clears)"}},
			Run: runMachine},
		{Name: "provision", Group: GroupServe, Help: "netboot: DHCPv4 for registered machines and TFTP from --boot-dir on one interface, until interrupted",
			Flags: []Flag{{Name: "iface", Type: List, Value: "IF", Required: true, Help: "the one interface to serve (it needs an IPv4 address)"},
				{Name: "boot-dir", Type: String, Value: "DIR", Required: true, Help: "directory TFTP serves read-only (iPXE's undionly.kpxe, ipxe.efi)"},
				{Name: "force", Type: Bool, Help: "start even though another DHCP server answers on the link"},
				{Name: "http-port", Type: Int, Value: "N", Help: "port of the iPXE scripts and boot profiles (BOOT-DIR/profiles/NAME) (default 80)"},
				{Name: "unknown", Type: Bool, Help: "offer unknown MACs the discovery boot (BOOT-DIR/profiles/discover): it reports their MAC and hardware; nothing is registered"},
				{Name: "sshd-timeout", Type: Duration, Value: "D", Help: "report a machine that booted but whose sshd has not answered after D (default 5m)"},
				{Name: "for", Type: Duration, Value: "DURATION", Help: "stop after DURATION (default: until interrupted)"}},
			Run: runProvision},
	}
}

// Provisioner is a backend that can run the netboot services.
type Provisioner interface {
	Provision(ctx context.Context, o engine.ProvisionOptions) error
}

var _ Provisioner = (*engine.Engine)(nil)

func runProvision(ctx context.Context, b Backend, c *Call) (Result, error) {
	p, ok := b.(Provisioner)
	if !ok {
		return nil, errors.New("this face cannot run the netboot services")
	}
	ifs := c.List("iface")
	if len(ifs) != 1 {
		return nil, usagef("provision serves one interface: give --iface IF once")
	}
	if d := c.Dur("for"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	err := p.Provision(ctx, engine.ProvisionOptions{Interface: ifs[0], BootDir: c.Str("boot-dir"), Force: c.Bool("force"), HTTPPort: c.Int("http-port"),
		SSHDTimeout: c.Dur("sshd-timeout"), Unknown: c.Bool("unknown")})
	if err != nil {
		return nil, err
	}
	return Done{"provision", "stopped provisioning on " + ifs[0]}, nil
}

// MachineList is machines registered (machine list), or the one a machine
// verb added, changed or removed.
type MachineList struct {
	Action   string // list, add, edit, rm
	Machines []machines.Machine
	Dir      string
	// Views are the machines with their stages (list, from a backend that
	// is a MachineViewer); nil otherwise.
	Views []engine.MachineView
}

// MachineKeyResult is the host key made for a machine (machine key).
type MachineKeyResult struct{ engine.MachineKey }

// Summary implements Result.
func (r MachineKeyResult) Summary() string {
	return fmt.Sprintf("host key of %s: %s %s (private key %s, 0600; provision hands it over once)", r.Machine, r.Fingerprint, r.Public, r.File)
}

// MachineViewer is a backend that derives the machines' stages.
type MachineViewer interface {
	MachineViews(ctx context.Context) ([]engine.MachineView, error)
}

var _ MachineViewer = (*engine.Engine)(nil)

// MachineKeySource is a backend that makes the machines' host keys.
type MachineKeySource interface {
	MachineHostKey(name string) (engine.MachineKey, error)
}

var _ MachineKeySource = (*engine.Engine)(nil)

// Summary implements Result.
func (r MachineList) Summary() string {
	if r.Action != "list" && len(r.Machines) == 1 {
		m := r.Machines[0]
		verb := map[string]string{"add": "added", "edit": "changed", "rm": "removed"}[r.Action]
		return fmt.Sprintf("%s machine %s (%s): %s", verb, m.Name, m.MAC, m.File)
	}
	if len(r.Machines) == 0 {
		return "no machines in " + r.Dir + "; register one with: machine add MAC --name NAME"
	}
	return count(len(r.Machines), "machine")
}

func runMachine(ctx context.Context, b Backend, c *Call) (Result, error) {
	src, ok := b.(MachineSource)
	if !ok {
		return nil, errors.New("this face has no machines directory")
	}
	d := src.Machines()
	if d.Path == "" {
		return nil, usagef("no machines directory: give --machines DIR")
	}
	key := c.Arg(1)
	needKey := func(action string) error {
		if key == "" {
			return usagef("machine %s needs the machine: its MAC or name (see machine list)", action)
		}
		return nil
	}
	noFlags := func(action string) error {
		for _, f := range []string{"name", "ip", "branch", "boot"} {
			if c.Has(f) {
				return usagef("machine %s takes no --%s; only add and edit do", action, f)
			}
		}
		return nil
	}
	one := func(action string, m machines.Machine, err error) (Result, error) {
		if err != nil {
			if errors.Is(err, machines.ErrNotFound) {
				return nil, fmt.Errorf("%w: %v", engine.ErrNotFound, err)
			}
			return nil, asUsage(err)
		}
		return MachineList{Action: action, Machines: []machines.Machine{m}, Dir: d.Path}, nil
	}
	switch action := c.Arg(0); action {
	case "list", "ls":
		if key != "" {
			return nil, usagef("machine list takes no MACHINE")
		}
		if err := noFlags("list"); err != nil {
			return nil, err
		}
		ms, err := d.Load()
		if err != nil {
			return nil, asUsage(err)
		}
		r := MachineList{Action: "list", Machines: ms, Dir: d.Path}
		if mv, ok := b.(MachineViewer); ok && len(ms) > 0 {
			if r.Views, err = mv.MachineViews(ctx); err != nil {
				return nil, err
			}
		}
		return r, nil
	case "key":
		if err := needKey("key"); err != nil {
			return nil, err
		}
		if err := noFlags("key"); err != nil {
			return nil, err
		}
		ks, ok := b.(MachineKeySource)
		if !ok {
			return nil, errors.New("this face makes no host keys")
		}
		k, err := ks.MachineHostKey(key)
		if err != nil {
			return nil, err
		}
		return MachineKeyResult{k}, nil
	case "add":
		if key == "" {
			return nil, usagef("machine add needs the MAC: machine add 52:54:00:12:34:56 --name web7")
		}
		if !c.Has("name") {
			return nil, usagef("machine add needs --name NAME (its hostname)")
		}
		hw, err := machines.ParseMAC(key)
		if err != nil {
			return nil, asUsage(err)
		}
		m := machines.Machine{MAC: hw}
		if err := applyMachineFlags(c, &m); err != nil {
			return nil, err
		}
		m, err = d.Add(m)
		return one("add", m, err)
	case "edit":
		if err := needKey("edit"); err != nil {
			return nil, err
		}
		var ferr error
		m, err := d.Edit(key, func(m *machines.Machine) { ferr = applyMachineFlags(c, m) })
		if ferr != nil {
			return nil, ferr
		}
		return one("edit", m, err)
	case "rm", "remove":
		if err := needKey("rm"); err != nil {
			return nil, err
		}
		if err := noFlags("rm"); err != nil {
			return nil, err
		}
		m, err := d.Remove(key)
		return one("rm", m, err)
	case "history":
		if err := needKey("history"); err != nil {
			return nil, err
		}
		m, err := d.Find(key)
		if err != nil {
			_, err = one("history", m, err)
			return nil, err
		}
		hs, ok := b.(BootHistorySource)
		if !ok {
			return nil, errors.New("this face keeps no boot history")
		}
		evs, err := hs.BootHistory(m.Name)
		return BootHistory{Machine: m.Name, Events: evs}, err
	default:
		return nil, usagef("machine: unknown action %q; give add, list, rm, edit, history or key", action)
	}
}

func applyMachineFlags(c *Call, m *machines.Machine) error {
	clear := func(v string) bool { return v == "none" }
	if c.Has("name") {
		m.Name = c.Str("name")
	}
	if c.Has("ip") {
		if v := c.Str("ip"); clear(v) {
			m.IP = netip.Addr{}
		} else {
			a, err := machines.ParseIPv4(v)
			if err != nil {
				return asUsage(fmt.Errorf("--ip: %v", err))
			}
			m.IP = a
		}
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{"branch", &m.Branch}, {"boot", &m.Boot}} {
		if c.Has(f.name) {
			*f.to = c.Str(f.name)
			if clear(*f.to) {
				*f.to = ""
			}
		}
	}
	return nil
}

package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine/machines"
	"github.com/discoterm/discoterm/engine/provision"
	"github.com/discoterm/discoterm/engine/remote"
	"golang.org/x/crypto/ssh"
)

// The hand-over: a netboot machine that answers on the link is found by
// the scanner (its MAC), matched with its machine file, and must present
// the host key discoterm made for it before it ever booted. Then it is a
// trusted host under the machine's name, on the machine's branch
// (classify.AddMachine), and its branch's journal is replayed on it from
// the start (ISconf's one base), whatever the branch's catch-up policy:
// registering a machine with a branch is the operator's decision to build
// it so.

// handover is the registered machine a scanned MAC belongs to and the
// host key it must present.
type handover struct {
	m       machines.Machine
	fp, typ string // the key's SHA256 fingerprint and algorithm
	keyFile string
}

// keyDir holds the host keys discoterm makes for machines: secrets,
// beside the machines directory, never in it (the machine files are meant
// for git).
func (e *Engine) keyDir() string {
	return filepath.Join(filepath.Dir(filepath.Clean(e.opts.MachinesDir)), "netboot-keys")
}

// MachineKey is the host key discoterm made for a machine.
type MachineKey struct {
	Machine     string `json:"machine"`
	Fingerprint string `json:"fingerprint"` // SHA256:…
	Public      string `json:"public_key"`  // authorized_keys form
	File        string `json:"file"`        // the private key (0600)
}

// MachineHostKey is the host key discoterm made for a machine, made now
// if it was not yet (as provision does for every machine it may boot):
// for images built another way that must present it.
func (e *Engine) MachineHostKey(name string) (MachineKey, error) {
	if e.opts.MachinesDir == "" {
		return MachineKey{}, fmt.Errorf("%w: no machines directory: give --machines DIR", ErrUsage)
	}
	m, err := e.Machines().Find(name)
	if err != nil {
		return MachineKey{}, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	k, err := provision.EnsureHostKey(e.keyDir(), m.Name)
	if err != nil {
		return MachineKey{}, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.Public))
	if err != nil {
		return MachineKey{}, err
	}
	return MachineKey{Machine: m.Name, Fingerprint: ssh.FingerprintSHA256(pub), Public: k.Public, File: filepath.Join(e.keyDir(), m.Name)}, nil
}

// machineHandover is the machine registered with mac whose host key
// discoterm has made; nil when there is none (the host is learned as any
// scanned host: never trusted on first use).
func (e *Engine) machineHandover(mac string) *handover {
	if e.opts.MachinesDir == "" || mac == "" {
		return nil
	}
	ms, err := e.Machines().Load()
	if err != nil {
		return nil
	}
	for _, m := range ms {
		if !strings.EqualFold(m.MAC.String(), mac) {
			continue
		}
		p := filepath.Join(e.keyDir(), m.Name)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			e.logf(LevelWarn, "machine %s: host key %s: %v; remove it and a new one is made", m.Name, p, err)
			return nil
		}
		pub := signer.PublicKey()
		return &handover{m: m, fp: ssh.FingerprintSHA256(pub), typ: pub.Type(), keyFile: p}
	}
	return nil
}

// bind makes t a target that must present the machine's key, at any
// address.
func (ho *handover) bind(t *remote.Target) {
	t.Name, t.HostKey, t.HostKeyType = ho.m.Name, ho.fp, ho.typ
}

// refusedMachine is a host answering with a registered machine's MAC but
// not with the key discoterm made for that machine.
type refusedMachine struct {
	msg string
	err *remote.HostKeyError
}

func (r *refusedMachine) Error() string { return r.msg }
func (r *refusedMachine) Unwrap() error { return r.err }

// refused explains a probe refused for presenting another key.
func (ho *handover) refused(err error, addr string) error {
	var hke *remote.HostKeyError
	if !errors.As(err, &hke) || !hke.Changed {
		return err
	}
	return &refusedMachine{err: hke, msg: fmt.Sprintf("HOST KEY OF MACHINE %s IS NOT ITS OWN — the host at %s answers with its MAC %s but presented %s, and %s registers that MAC with the key discoterm made for it, %s; "+
		"refusing it like a changed key (an impostor claiming the MAC, or a machine not booted by provision). If it was installed another way, give it its key (%s: machine key %s)",
		ho.m.Name, addr, ho.m.MAC, hke.Presented, ho.m.File, ho.fp, ho.keyFile, ho.m.Name)}
}

// refusedMarker is in the message of every refusedMachine, so a stage
// derived from the host's last error can tell a refusal.
const refusedMarker = "IS NOT ITS OWN"

// A netboot machine answers pings before its sshd is up: iPXE does, and
// so does its kernel while the initramfs gets its lease and its key. A
// learn that failed then (SSH refused, not a refused key) is retried
// after machineRetry, not a minute later, for as long as a boot may take
// to start sshd (DefaultSSHDTimeout); then once a minute like any host.
const machineRetry = 2 * time.Second

// bootingMachine notes that the registered machine with mac answered but
// its SSH failed (called from learn's goroutines).
func (d *discovery) bootingMachine(mac string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.soon[mac] = true
}

// retrySoon brings forward the next learn of the machines noted this
// round; it runs after the round's learns, which set the minute's wait.
func (d *discovery) retrySoon(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for mac := range d.soon {
		since, ok := d.booting[mac]
		if !ok {
			since, d.booting[mac] = now, now
		}
		if now.Sub(since) < DefaultSSHDTimeout {
			d.retry[mac] = now.Add(machineRetry)
		}
		delete(d.soon, mac)
	}
	for mac := range d.booting {
		if d.learned[mac] {
			delete(d.booting, mac)
		}
	}
}

// forgetBoot ends the machine's boot of bootingMachine: it went silent.
func (d *discovery) forgetBoot(mac string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.booting, mac)
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

// Remote is how the engine reaches hosts. *remote.Client implements it over
// SSH; unit tests may use an in-process fake.
type Remote interface {
	// Probe is one round trip: facts, state file, stat+hash of paths, guards.
	Probe(ctx context.Context, t remote.Target, req remote.ProbeRequest) (*remote.ProbeResult, error)
	// Fetch is one round trip: the contents of the given regular files.
	Fetch(ctx context.Context, t remote.Target, paths []string) (map[string][]byte, error)
	// Apply uploads a bundle and applies it in one remote step, reporting each
	// entry's result as it finishes.
	Apply(ctx context.Context, t remote.Target, b *remote.Bundle, report func(remote.EntryReport)) (*remote.ApplyResult, error)
	// Sandbox is one round trip: pending entries carried out in a
	// copy-on-write sandbox of the host, and what each exec changed there.
	Sandbox(ctx context.Context, t remote.Target, req remote.SandboxRequest) (*remote.SandboxResult, error)
}

// DefaultOperator names the person acting: the Unix user running
// discoterm (user@hostname), or $DISCOTERM_OPERATOR vouched for by it (see
// LocalOperator).
func DefaultOperator() string { return LocalOperator(os.Getenv("DISCOTERM_OPERATOR")) }

// LocalOperator is who acts on a local store. The Unix user is what the
// operating system vouches for, so it is always part of the name: a name
// given with --operator (or $DISCOTERM_OPERATOR) that is not that user is
// recorded as "alice (via root)", so nobody can act as someone else
// without it showing. (On a NATS store the credential names the operator.)
func LocalOperator(claimed string) string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	self := name
	if h, _ := os.Hostname(); h != "" {
		self = name + "@" + h
	}
	claimed = strings.TrimSpace(claimed)
	switch claimed {
	case "", name, self:
		return self
	}
	return claimed + " (via " + name + ")"
}

// KeyTrust lets an operator decide about a host key that is not yet known.
// *remote.Client implements it.
type KeyTrust interface {
	// ScanHostKey connects without trusting and returns the key offered.
	ScanHostKey(ctx context.Context, t remote.Target) (fingerprint, authorizedKeyLine string, err error)
	// TrustHostKey records the key in known_hosts.
	TrustHostKey(t remote.Target, authorizedKeyLine string) error
	// PresentedKey is the key on t's connection; New when it was accepted
	// on first use for that connection only (--accept-new), to be recorded
	// with TrustHostKey once the host's identity checks out.
	PresentedKey(t remote.Target) (remote.PresentedKey, bool)
	// Forget drops t's connection (one whose key was not trusted after all).
	Forget(t remote.Target)
}

// ScanHostKey shows the key an address offers, for the operator to check
// before trusting it.
func (e *Engine) ScanHostKey(ctx context.Context, addr string, port int, user string) (fingerprint, keyLine string, err error) {
	if e.opts.KeyTrust == nil {
		return "", "", errors.New("no SSH transport to scan host keys with")
	}
	return e.opts.KeyTrust.ScanHostKey(ctx, remote.Target{Addr: addr, Port: port, User: user, Name: addr})
}

// TrustHostKey records an operator's decision to trust a key, in
// known_hosts, and notes it in the audit trail.
func (e *Engine) TrustHostKey(addr string, port int, keyLine, fingerprint string) error {
	if e.opts.KeyTrust == nil {
		return errors.New("no SSH transport to record host keys with")
	}
	if err := e.opts.KeyTrust.TrustHostKey(remote.Target{Addr: addr, Port: port, Name: addr}, keyLine); err != nil {
		return err
	}
	if err := e.opts.Store.Update(func(tx store.Tx) error {
		return tx.AddAudit(store.AuditRecord{Time: e.now(), Actor: e.opts.Operator, Action: "trust-key", Message: addr + " " + fingerprint})
	}); err != nil {
		return fmt.Errorf("the key is trusted in known_hosts, but recording it in the audit trail failed: %w", err)
	}
	e.logf(LevelInfo, "trusted host key %s for %s", fingerprint, addr)
	return nil
}

// TrustHost accepts the host key of a host the scanner listed as
// untrusted, after the operator checked its fingerprint: the key the host
// offers now must still be the one shown. The host is then learned over
// SSH like any other (machine-id, name, state).
func (e *Engine) TrustHost(host, fingerprint string) error {
	var h store.Host
	refused := ""
	if err := e.opts.Store.View(func(tx store.Tx) error {
		var err error
		if h, err = findHost(tx, host); err != nil {
			return err
		}
		all, err := tx.Hosts()
		refused = identityRefusal(h, all)
		return err
	}); err != nil {
		return err
	}
	if refused != "" {
		return fmt.Errorf("%s: %s; nothing was trusted", displayName(h), refused)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.HostTimeout)
	defer cancel()
	fp, line, err := e.ScanHostKey(ctx, h.Addr, h.Port, h.User)
	if err != nil {
		return err
	}
	if fingerprint != "" && fp != fingerprint {
		return fmt.Errorf("%s now offers key %s, not the %s you accepted; nothing was trusted", displayName(h), fp, fingerprint)
	}
	// A registered netboot machine is its made key (handover.go): another
	// key for its MAC is refused here too, not trusted by hand.
	if ho := e.machineHandover(h.MAC); ho != nil && ho.fp != fp {
		return &refusedMachine{msg: fmt.Sprintf("%s answers with the MAC of machine %s (%s) but offers %s, not the key discoterm made for it, %s; nothing was trusted. To trust another key for it, remove the machine (machine rm %s) or give it its key (%s)",
			displayName(h), ho.m.Name, ho.m.File, fp, ho.fp, ho.m.Name, ho.keyFile), err: &remote.HostKeyError{Host: h.Addr, Name: ho.m.Name, Presented: fp, Known: []string{ho.fp}, Changed: true, Bound: true}}
	}
	if err := e.TrustHostKey(h.Addr, h.Port, line, fp); err != nil {
		return err
	}
	v, err := e.AddHost(ctx, AddHostRequest{Addr: h.Addr, Port: h.Port, User: h.User, Name: h.Name})
	if err != nil {
		return err
	}
	if v.ID != h.ID {
		// The placeholder record (keyed by MAC) gives way to the real one.
		var cur store.Host
		err := e.opts.Store.Update(func(tx store.Tx) error {
			var err error
			cur, err = tx.Host(v.ID)
			if err != nil {
				return err
			}
			if cur.MAC == "" {
				cur.MAC = h.MAC
			}
			if cur.BoundMAC == "" {
				cur.BoundMAC = cur.MAC
			}
			cur.LastSeen, cur.Liveness, cur.RTT, cur.Iface = h.LastSeen, h.Liveness, h.RTT, h.Iface
			if err := tx.PutHost(cur); err != nil {
				return err
			}
			return tx.DeleteHost(h.ID)
		})
		if err != nil {
			return fmt.Errorf("trusted %s, but replacing its placeholder record failed: %w", displayName(v.Host), err)
		}
		e.emitHost(cur, HostTrusted, LevelInfo, "trusted and learned "+displayName(cur))
	}
	return nil
}

package testfleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ---- stop ------------------------------------------------------------------

// Stop kills every process of the fleet's hosts (sshd, sessions, Exec'd
// commands), deletes namespaces, veths and bridge, unmounts the tmpfs,
// removes the fleet dir and registry entry, and restores raised limits.
// It is idempotent. A fleet from Load can be stopped unless a live
// process still owns it.
func (f *Fleet) Stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return nil
	}
	if f.lock == nil && f.ID != "" && exists(f.registryDir()) {
		l, err := lockFile(filepath.Join(f.registryDir(), "lock"), false, false)
		if err != nil {
			return fmt.Errorf("testfleet: fleet %s is owned by running process %d", f.ID, f.OwnerPID)
		}
		f.lock = l
	}
	if err := f.teardown(); err != nil {
		return err
	}
	f.stopped = true
	return nil
}

// teardown removes everything of the fleet that exists, best effort, and
// reports what it could not remove. The caller holds the registry lock (or
// the fleet has no registry entry). Only fleet-specific names are touched.
func (f *Fleet) teardown() error {
	var errs []error
	nss := map[string]bool{}
	links := map[string]bool{}
	for _, h := range f.Hosts {
		nss[h.Netns] = true
		links[h.Veth] = true
	}
	if f.ID != "" && idRe.MatchString(f.ID) {
		links["dtb"+f.ID] = true
		// Also anything else carrying the id (partial starts, lost state).
		if ents, err := os.ReadDir("/run/netns"); err == nil {
			for _, e := range ents {
				if m := nsNameRe.FindStringSubmatch(e.Name()); m != nil && m[1] == f.ID {
					nss[e.Name()] = true
				}
			}
		}
		if ents, err := os.ReadDir("/sys/class/net"); err == nil {
			for _, e := range ents {
				if m := linkRe.FindStringSubmatch(e.Name()); m != nil && m[1]+m[2] == f.ID {
					links[e.Name()] = true
				}
			}
		}
	}

	// 1. Processes: everything inside the namespaces, plus recorded pids
	// that are provably ours (same start time).
	inodes := map[uint64]bool{}
	for ns := range nss {
		if ino, ok := nsInode("/run/netns/" + ns); ok {
			inodes[ino] = true
		}
	}
	pids := pidsInNetns(inodes)
	for _, h := range f.Hosts {
		if h.SSHDPid > 0 && sameProc(h.SSHDPid, h.SSHDStart) {
			pids = append(pids, h.SSHDPid)
		}
		if h.Pid > 0 && sameProc(h.Pid, h.PidStart) {
			pids = append(pids, h.Pid)
		}
	}
	var killed []int
	for _, p := range pids {
		if kill(p, unix.SIGKILL) {
			killed = append(killed, p)
		}
	}
	if err := waitGone(killed, 10*time.Second); err != nil {
		errs = append(errs, err)
	}
	if err := f.removeSystemdCgroups(); err != nil {
		errs = append(errs, err)
	}

	// 2. Namespaces, then links. Deleting a namespace is quick and the
	// kernel then destroys its veths in one batch (one RCU grace period
	// for all), where deleting each veth takes ~20 ms; so delete the
	// namespaces, wait a little for the veths to go, and delete only the
	// stragglers (and the bridge) explicitly.
	var batch []string
	for ns := range nss {
		if netnsExists(ns) {
			batch = append(batch, "netns del "+ns)
		}
	}
	nsErr := ipBatch(context.Background(), "", true, batch)
	veths := func() []string {
		var out []string
		for l := range links {
			if l != f.Bridge && linkExists(l) {
				out = append(out, l)
			}
		}
		return out
	}
	for deadline := time.Now().Add(2 * time.Second); len(veths()) > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	batch = nil
	for _, l := range veths() {
		batch = append(batch, "link del "+l)
	}
	if linkExists(f.Bridge) {
		batch = append(batch, "link del "+f.Bridge)
	}
	linkErr := ipBatch(context.Background(), "", true, batch)
	var left []string
	for l := range links {
		if linkExists(l) {
			left = append(left, l)
		}
	}
	for ns := range nss {
		if netnsExists(ns) {
			left = append(left, "netns "+ns)
		}
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("could not remove %v: %v", left, errors.Join(nsErr, linkErr)))
	}

	// 3. Filesystem.
	if f.Dir != "" {
		if err := unmount(f.fsDir()); err != nil {
			errs = append(errs, err)
		}
		if m := mountsUnder(f.Dir); len(m) > 0 {
			errs = append(errs, fmt.Errorf("still mounted, not removing %s: %v", f.Dir, m))
		} else if f.OwnDir {
			if err := os.RemoveAll(f.Dir); err != nil {
				errs = append(errs, err)
			}
		} else {
			for _, n := range dirEntries {
				if err := os.RemoveAll(filepath.Join(f.Dir, n)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}

	// 4. Limits, registry.
	if f.RaisedLimits {
		if err := f.restoreLimits(); err != nil {
			errs = append(errs, fmt.Errorf("restoring limits: %w", err))
		}
	}
	if len(errs) > 0 {
		// Keep the registry entry so a later Sweep can retry.
		if f.ID != "" {
			_ = f.saveStateRegistryOnly()
		}
		if f.lock != nil {
			f.lock.Close()
			f.lock = nil
		}
		return errors.Join(errs...)
	}
	if f.ID != "" && idRe.MatchString(f.ID) {
		if err := os.RemoveAll(f.registryDir()); err != nil {
			errs = append(errs, err)
		}
	}
	if f.lock != nil {
		f.lock.Close()
		f.lock = nil
	}
	return errors.Join(errs...)
}

func (f *Fleet) saveStateRegistryOnly() error {
	if !exists(f.registryDir()) {
		return nil
	}
	return writeFileAtomic(filepath.Join(f.registryDir(), "fleet.json"), f.marshal(), 0o644)
}

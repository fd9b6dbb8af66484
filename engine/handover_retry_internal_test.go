package engine

import (
	"testing"
	"time"
)

// TestRetrySoon: a registered machine whose SSH failed (it answers pings
// before its sshd is up) is probed again after machineRetry, for as long
// as a boot may take; then, and for every other host, a minute later.
func TestRetrySoon(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	d := &discovery{retry: map[string]time.Time{}, learned: map[string]bool{}, booting: map[string]time.Time{}, soon: map[string]bool{}}
	const m, other = "52:54:00:94:00:10", "52:54:00:94:00:11"
	fail := func(now time.Time, machine bool) {
		for _, mac := range []string{m, other} {
			d.retry[mac] = now.Add(time.Minute) // what round sets before a learn
		}
		if machine {
			d.bootingMachine(m)
		}
		d.retrySoon(now)
	}
	fail(t0, true)
	if got := d.retry[m]; !got.Equal(t0.Add(machineRetry)) {
		t.Errorf("booting machine retried at %v, want %v", got, t0.Add(machineRetry))
	}
	if got := d.retry[other]; !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("another host retried at %v, want a minute later", got)
	}
	late := t0.Add(DefaultSSHDTimeout - time.Second)
	if fail(late, true); !d.retry[m].Equal(late.Add(machineRetry)) {
		t.Errorf("still booting: retried at %v", d.retry[m])
	}
	after := t0.Add(DefaultSSHDTimeout)
	if fail(after, true); !d.retry[m].Equal(after.Add(time.Minute)) {
		t.Errorf("no sshd after %v: retried at %v, want a minute later", DefaultSSHDTimeout, d.retry[m])
	}
	// Silent (rebooting): its next boot is retried soon again.
	d.forgetBoot(m)
	again := after.Add(time.Hour)
	if fail(again, true); !d.retry[m].Equal(again.Add(machineRetry)) {
		t.Errorf("after going silent: retried at %v", d.retry[m])
	}
	after = again.Add(DefaultSSHDTimeout)
	fail(after, true)
	// Learned: the next boot's failures are retried soon again.
	d.learned[m] = true
	d.retrySoon(after)
	delete(d.learned, m)
	next := after.Add(time.Hour)
	if fail(next, true); !d.retry[m].Equal(next.Add(machineRetry)) {
		t.Errorf("after a hand-over, the next boot: retried at %v", d.retry[m])
	}
}

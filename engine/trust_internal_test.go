package engine

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/store"
)

// TestTrustCandidates: only an untrusted host offering a key that nothing
// contradicts may be trusted in bulk; a changed key, a claim on a trusted
// host's MAC, a trusted host and a host with no key are refused, each
// saying why.
func TestTrustCandidates(t *testing.T) {
	real := store.Host{ID: "mid:aa", Name: "db1", Addr: "fd00::1", MAC: "52:54:00:00:00:01", BoundMAC: "52:54:00:00:00:01", HostKey: "SHA256:real", Trusted: true,
		LastError: "HOST KEY OF db1 HAS CHANGED — it was trusted with key SHA256:real but the host at fe80::9%br0 presented SHA256:imp"}
	fresh := store.Host{ID: "mac:52:54:00:00:00:02", Addr: "fe80::2%br0", MAC: "52:54:00:00:00:02", HostKey: "SHA256:fresh"}
	changed := store.Host{ID: "mac:52:54:00:00:00:03", Addr: "fe80::3%br0", MAC: "52:54:00:00:00:03",
		LastError: "HOST KEY OF fe80::3%br0 HAS CHANGED — known_hosts has SHA256:old but the host presented SHA256:new"}
	claim := store.Host{ID: "mac:52:54:00:00:00:01", Addr: "fe80::9%br0", MAC: "52:54:00:00:00:01", HostKey: "SHA256:imp"}
	silent := store.Host{ID: "mac:52:54:00:00:00:04", Addr: "fe80::4%br0", MAC: "52:54:00:00:00:04"}
	var all []HostView
	for _, h := range []store.Host{real, fresh, changed, claim, silent} {
		all = append(all, HostView{Host: h})
	}
	got := TrustCandidates(all, all)
	want := []struct{ id, refused string }{
		{real.ID, "trusted already, bound to key SHA256:real (last error: HOST KEY OF db1 HAS CHANGED"},
		{fresh.ID, ""},
		{changed.ID, "it offered no key that can be accepted: HOST KEY OF fe80::3%br0 HAS CHANGED"},
		{claim.ID, "it answers from MAC 52:54:00:00:00:01, which db1 was trusted at with key SHA256:real"},
		{silent.ID, "it offered no key that can be accepted"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d candidates for %d hosts", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || (w.refused == "") != (g.Refused == "") || !strings.HasPrefix(g.Refused, w.refused) {
			t.Errorf("%s: refused %q, want %q…", w.id, g.Refused, w.refused)
		}
	}
	if got[1].Fingerprint != "SHA256:fresh" || got[1].MAC != fresh.MAC || got[1].Addr != fresh.Addr {
		t.Errorf("the trustable host is shown as %+v", got[1])
	}

	// The engine refuses the claim itself, whichever face asks.
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := New(Options{Store: st, Remote: &failingRemote{}, Operator: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tx store.Tx) error {
		for _, h := range []store.Host{real, claim} {
			if err := tx.PutHost(h); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{claim.ID, real.ID} {
		err := e.TrustHost(id, "SHA256:imp")
		if err == nil || !strings.Contains(err.Error(), "nothing was trusted") || strings.Contains(err.Error(), "no SSH transport") {
			t.Errorf("TrustHost %s: %v", id, err)
		}
	}
}

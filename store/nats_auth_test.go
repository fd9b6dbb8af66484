package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discoterm/discoterm/store/natstest"
)

// TestNATSCredentialNamesOperator: with a credential, the operator is the
// name the server authenticated, whatever the caller claims; a forged or
// missing credential is refused with a message naming the file.
func TestNATSCredentialNamesOperator(t *testing.T) {
	o := natstest.StartOperator(t)
	creds := o.Creds(t, "carol")
	s, err := OpenNATS(NATSOptions{URL: o.URL + "/team", CredsFile: creds, Operator: "mallory"})
	if err != nil {
		t.Fatalf("OpenNATS with a credential: %v", err)
	}
	defer s.Close()
	if got := s.(Identity).Operator(); got != "carol" {
		t.Errorf("Operator() = %q, want carol (from the credential)", got)
	}
	mustUpdate(t, s, func(tx Tx) error { return tx.PutLock(Lock{Branch: "main", Holder: "carol"}) })

	// Without a credential the server in operator mode refuses.
	if _, err := OpenNATS(NATSOptions{URL: o.URL + "/team"}); err == nil || !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("no credential: %v", err)
	}
	// A credential signed by an account the server does not know.
	other := natstest.StartOperator(t).Creds(t, "carol")
	if _, err := OpenNATS(NATSOptions{URL: o.URL + "/team", CredsFile: other}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a credential of another operator: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.creds")
	_ = os.WriteFile(junk, []byte("not a credential"), 0o600)
	if _, err := OpenNATS(NATSOptions{URL: o.URL, CredsFile: junk}); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk credential: %v", err)
	}
	if _, err := OpenNATS(NATSOptions{URL: o.URL, CredsFile: "/nonexistent.creds"}); err == nil || !strings.Contains(err.Error(), "/nonexistent.creds") {
		t.Errorf("missing credential: %v", err)
	}
}

// TestNATSTLS: a tls:// store works with the server's CA, and without it
// the certificate is refused with a clear error (nothing falls back to
// plain text).
func TestNATSTLS(t *testing.T) {
	url, ca := natstest.StartTLS(t)
	s, err := OpenNATS(NATSOptions{URL: url + "/secure", CAFile: ca})
	if err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	defer s.Close()
	mustUpdate(t, s, func(tx Tx) error { return tx.PutHost(Host{ID: "h1"}) })
	_, err = OpenNATS(NATSOptions{URL: url + "/secure"})
	if err == nil || !strings.Contains(err.Error(), "cannot connect") || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: %v", err)
	}
	// The same server asked for in plain text refuses the connection.
	plain := "nats://" + strings.TrimPrefix(url, "tls://")
	if _, err := OpenNATS(NATSOptions{URL: plain + "/secure", Timeout: 2 * time.Second}); err == nil {
		t.Error("a nats:// connection to a TLS-only server succeeded")
	}
}

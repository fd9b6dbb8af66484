package engine

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testSigner makes a signing key and an allowed_signers file listing it
// for op, for engines built directly in internal tests.
func testSigner(t testing.TB, op string) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(path, append([]byte(op+" "), ssh.MarshalAuthorizedKey(k.PublicKey())...), 0o600); err != nil {
		t.Fatal(err)
	}
	return k, path
}

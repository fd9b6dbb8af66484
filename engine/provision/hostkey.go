package provision

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// HostKey is the SSH host key discoterm made for a machine before it
// ever booted: the private key is handed over once; the public key is
// trusted from the start, so the first contact needs no trust on first
// use.
type HostKey struct {
	Private []byte // OpenSSH PEM
	Public  string // authorized_keys line, without a newline
}

// EnsureHostKey reads dir/NAME (0600), making it first if it is not there.
func EnsureHostKey(dir, name string) (HostKey, error) {
	p := filepath.Join(dir, name)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return HostKey{}, gerr
		}
		blk, merr := ssh.MarshalPrivateKey(priv, "discoterm host key of "+name)
		if merr != nil {
			return HostKey{}, merr
		}
		data = pem.EncodeToMemory(blk)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return HostKey{}, fmt.Errorf("host keys: %v", err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return HostKey{}, fmt.Errorf("host keys: %v", err)
		}
	} else if err != nil {
		return HostKey{}, fmt.Errorf("host key of %s: %v", name, err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return HostKey{}, fmt.Errorf("host key %s: %v; remove it and a new one is made", p, err)
	}
	return HostKey{Private: data, Public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))}, nil
}

// Tokens are the one-time tokens of a provisioning run: one per machine,
// spent by the first fetch of its key.
type Tokens struct {
	mu     sync.Mutex
	byName map[string]string
}

// Issue is a fresh token for the machine (replacing one not spent).
func (t *Tokens) Issue(name string) string {
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byName == nil {
		t.byName = map[string]string{}
	}
	t.byName[name] = tok
	return tok
}

// Spend tells whether tok is the machine's unspent token, and spends it.
func (t *Tokens) Spend(name, tok string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	want, ok := t.byName[name]
	if !ok || tok == "" || want != tok {
		return false
	}
	delete(t.byName, name)
	return true
}

// Peek is the machine's unspent token ("" when spent or never issued).
func (t *Tokens) Peek(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byName[name]
}

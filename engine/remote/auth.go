package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AuthError is returned when the host accepted none of our keys.
type AuthError struct {
	Host  string   // the target as shown to the operator
	User  string   // remote user we tried to log in as
	Tried []string // identities offered, in order ("agent: comment (SHA256:…)", "/root/.ssh/id_ed25519 (SHA256:…)")
	Agent string   // what became of the agent: "3 keys from /run/…/agent.sock", "not used", "SSH_AUTH_SOCK not set", …
	Notes []string // identities not offered and why (encrypted, unreadable, missing)
	Err   error    // the library's error
}

func (e *AuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s accepted none of our keys", e.User, e.Host)
	if len(e.Tried) == 0 {
		b.WriteString(": we had no key to offer")
	} else {
		fmt.Fprintf(&b, " (tried %s)", strings.Join(e.Tried, ", "))
	}
	fmt.Fprintf(&b, "; agent: %s", e.Agent)
	if len(e.Notes) > 0 {
		fmt.Fprintf(&b, "; %s", strings.Join(e.Notes, "; "))
	}
	fmt.Fprintf(&b, ". Add one of these public keys to ~%s/.ssh/authorized_keys on the host, "+
		"load the right key into ssh-agent, or name it with IdentityFile in ~/.ssh/config", e.User)
	if e.Err != nil {
		fmt.Fprintf(&b, " [%v]", e.Err)
	}
	return b.String()
}

func (e *AuthError) Unwrap() error { return e.Err }

// identity is one private key file, parsed once.
type identity struct {
	signer    ssh.Signer
	pub       ssh.PublicKey // also set for encrypted keys that carry their public half
	encrypted bool
	missing   bool
	err       error
}

// keyring loads identity files (cached by path) and, per handshake, the
// agent's keys.
type keyring struct {
	useAgent bool
	explicit []string // Options.IdentityFiles ("" = defaults)
	defaults []string

	mu    sync.Mutex
	cache map[string]*identity
}

func newKeyring(useAgent bool, explicit []string) *keyring {
	k := &keyring{useAgent: useAgent, explicit: explicit, cache: map[string]*identity{}}
	if home, err := os.UserHomeDir(); err == nil {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			k.defaults = append(k.defaults, filepath.Join(home, ".ssh", n))
		}
	}
	return k
}

func (k *keyring) load(path string) *identity {
	k.mu.Lock()
	defer k.mu.Unlock()
	if id, ok := k.cache[path]; ok {
		return id
	}
	id := &identity{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		id.missing = true
	case err != nil:
		id.err = err
	default:
		s, err := ssh.ParsePrivateKey(data)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			id.encrypted, id.pub = true, pm.PublicKey
		case err != nil:
			id.err = err
		default:
			id.signer, id.pub = s, s.PublicKey()
		}
	}
	k.cache[path] = id
	return id
}

// authAttempt records what one handshake offered, for AuthError.
type authAttempt struct {
	mu     sync.Mutex
	tried  []string
	agent  string
	notes  []string
	closer io.Closer
}

func (a *authAttempt) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closer != nil {
		a.closer.Close()
		a.closer = nil
	}
}

// method returns the publickey auth method for one handshake. configFiles
// are the IdentityFile entries from ssh config for the target. As in
// OpenSSH, the default identity files are used only when neither the options
// nor the config name any. Agent keys come first.
func (k *keyring) method(configFiles []string) (ssh.AuthMethod, *authAttempt) {
	att := &authAttempt{agent: "not used"}
	files := append(append([]string{}, k.explicit...), configFiles...)
	usingDefaults := len(files) == 0
	if usingDefaults {
		files = k.defaults
	}
	get := func() ([]ssh.Signer, error) {
		var signers []ssh.Signer
		var agentKeys []ssh.PublicKey
		if k.useAgent {
			sock := os.Getenv("SSH_AUTH_SOCK")
			if sock == "" {
				att.setAgent("SSH_AUTH_SOCK not set")
			} else if conn, err := net.Dial("unix", sock); err != nil {
				att.setAgent(fmt.Sprintf("cannot connect to %s: %v", sock, err))
			} else {
				att.mu.Lock()
				att.closer = conn
				att.mu.Unlock()
				ac := agent.NewClient(conn)
				ss, err := ac.Signers()
				if err != nil {
					att.setAgent(fmt.Sprintf("agent at %s failed: %v", sock, err))
				} else {
					att.setAgent(fmt.Sprintf("%d key(s) from %s", len(ss), sock))
					keys, _ := ac.List()
					for _, s := range ss {
						label := "agent key " + ssh.FingerprintSHA256(s.PublicKey())
						for _, kk := range keys {
							if bytes.Equal(kk.Blob, s.PublicKey().Marshal()) && kk.Comment != "" {
								label = "agent key " + kk.Comment + " (" + ssh.FingerprintSHA256(s.PublicKey()) + ")"
							}
						}
						signers = append(signers, s)
						agentKeys = append(agentKeys, s.PublicKey())
						att.addTried(label)
					}
				}
			}
		}
		inAgent := func(p ssh.PublicKey) bool {
			if p == nil {
				return false
			}
			for _, a := range agentKeys {
				if bytes.Equal(a.Marshal(), p.Marshal()) {
					return true
				}
			}
			return false
		}
		for _, f := range files {
			id := k.load(f)
			switch {
			case id.missing:
				if !usingDefaults {
					att.addNote(f + " does not exist")
				}
			case id.err != nil:
				att.addNote(fmt.Sprintf("%s unusable: %v", f, id.err))
			case id.encrypted:
				if !inAgent(id.pub) {
					att.addNote(f + " is passphrase-protected (discoterm does not prompt; load it with ssh-add)")
				}
			case inAgent(id.pub):
				// already offered through the agent
			default:
				signers = append(signers, id.signer)
				att.addTried(f + " (" + ssh.FingerprintSHA256(id.pub) + ")")
			}
		}
		return signers, nil
	}
	return ssh.PublicKeysCallback(get), att
}

func (a *authAttempt) setAgent(s string) {
	a.mu.Lock()
	a.agent = s
	a.mu.Unlock()
}

func (a *authAttempt) addTried(s string) {
	a.mu.Lock()
	a.tried = append(a.tried, s)
	a.mu.Unlock()
}

func (a *authAttempt) addNote(s string) {
	a.mu.Lock()
	a.notes = append(a.notes, s)
	a.mu.Unlock()
}

func (a *authAttempt) snapshot() (tried []string, agent string, notes []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.tried...), a.agent, append([]string(nil), a.notes...)
}

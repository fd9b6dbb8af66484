package remote

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SigningKey finds the key an operator signs changesets with, and says
// which it is ("agent: comment (SHA256:…)" or the file and fingerprint).
//
//   - file, when named: that private key; if it is passphrase-protected,
//     the agent's copy of it (by its public half).
//   - else the agent's first key, when SSH_AUTH_SOCK is set.
//   - else the first of fallbacks (identity files) that loads without a
//     passphrase.
//
// No key at all is not an error here (signer nil): approve says what to do.
func SigningKey(file string, fallbacks []string) (ssh.Signer, string, error) {
	agentKeys := func() ([]ssh.Signer, []*agent.Key, error) {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, nil, nil
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("ssh-agent at %s: %w", sock, err)
		}
		// The connection stays open: the signers use it.
		ac := agent.NewClient(conn)
		ss, err := ac.Signers()
		if err != nil {
			return nil, nil, fmt.Errorf("ssh-agent: %w", err)
		}
		ks, _ := ac.List()
		return ss, ks, nil
	}
	describe := func(s ssh.Signer, ks []*agent.Key) string {
		for _, k := range ks {
			if bytes.Equal(k.Marshal(), s.PublicKey().Marshal()) {
				return fmt.Sprintf("agent: %s (%s)", k.Comment, ssh.FingerprintSHA256(s.PublicKey()))
			}
		}
		return "agent: " + ssh.FingerprintSHA256(s.PublicKey())
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("signing key: %w", err)
		}
		s, err := ssh.ParsePrivateKey(data)
		var pm *ssh.PassphraseMissingError
		switch {
		case err == nil:
			return s, file + " (" + ssh.FingerprintSHA256(s.PublicKey()) + ")", nil
		case errors.As(err, &pm) && pm.PublicKey != nil:
			ss, ks, aerr := agentKeys()
			for _, a := range ss {
				if bytes.Equal(a.PublicKey().Marshal(), pm.PublicKey.Marshal()) {
					return a, describe(a, ks), nil
				}
			}
			if aerr != nil {
				return nil, "", fmt.Errorf("signing key %s needs its passphrase: load it with ssh-add (%v)", file, aerr)
			}
			return nil, "", fmt.Errorf("signing key %s needs its passphrase: load it into ssh-agent with: ssh-add %s", file, file)
		default:
			return nil, "", fmt.Errorf("signing key %s: %w", file, err)
		}
	}
	ss, ks, err := agentKeys()
	if err != nil {
		return nil, "", err
	}
	if len(ss) > 0 {
		return ss[0], describe(ss[0], ks), nil
	}
	for _, f := range fallbacks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if s, err := ssh.ParsePrivateKey(data); err == nil {
			return s, f + " (" + ssh.FingerprintSHA256(s.PublicKey()) + ")", nil
		}
	}
	return nil, "", nil
}

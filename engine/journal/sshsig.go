package journal

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SSH signatures in OpenSSH's SSHSIG format (PROTOCOL.sshsig), the one
// `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify` checks, so an
// operator can verify a changeset by hand with nothing but OpenSSH.

// Namespace is the SSHSIG namespace of journal signatures: a signature
// made for discoterm cannot be replayed as one for git or email, and the
// other way round.
const Namespace = "discoterm"

const (
	sigMagic   = "SSHSIG"
	sigVersion = 1
	sigHash    = "sha512"
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
	// maxArmored bounds a signature read from a store: an RSA-16384
	// signature is about 5 KiB armored.
	maxArmored = 16 << 10
)

// signedData is the blob that is actually signed: the message is hashed
// and framed with the namespace.
func signedData(namespace string, message []byte) []byte {
	h := sha512.Sum512(message)
	var b []byte
	b = append(b, sigMagic...)
	b = sshString(b, []byte(namespace))
	b = sshString(b, nil) // reserved
	b = sshString(b, []byte(sigHash))
	b = sshString(b, h[:])
	return b
}

func sshString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// SignSSH signs message for namespace with signer and returns the armored
// SSHSIG text. RSA keys sign with rsa-sha2-512, as ssh-keygen does (SHA-1
// "ssh-rsa" signatures are refused by verifiers).
func SignSSH(signer ssh.Signer, namespace string, message []byte) (string, error) {
	data := signedData(namespace, message)
	var sig *ssh.Signature
	var err error
	if signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		as, ok := signer.(ssh.AlgorithmSigner)
		if !ok {
			return "", errors.New("this RSA key cannot make rsa-sha2-512 signatures; use an ed25519 key")
		}
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return "", fmt.Errorf("signing with %s: %w", ssh.FingerprintSHA256(signer.PublicKey()), err)
	}
	var blob []byte
	blob = append(blob, sigMagic...)
	blob = binary.BigEndian.AppendUint32(blob, sigVersion)
	blob = sshString(blob, signer.PublicKey().Marshal())
	blob = sshString(blob, []byte(namespace))
	blob = sshString(blob, nil)
	blob = sshString(blob, []byte(sigHash))
	blob = sshString(blob, ssh.Marshal(sig))
	enc := base64.StdEncoding.EncodeToString(blob)
	var out strings.Builder
	out.WriteString(armorBegin + "\n")
	for len(enc) > 70 {
		out.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	out.WriteString(enc + "\n" + armorEnd + "\n")
	return out.String(), nil
}

// SSHSignature is a parsed SSHSIG.
type SSHSignature struct {
	Key       ssh.PublicKey
	Namespace string
	Hash      string
	Sig       *ssh.Signature
}

// ParseSSHSignature decodes armored SSHSIG text. It never panics on bad
// input: a store is not trusted to hold well-formed signatures.
func ParseSSHSignature(armored string) (*SSHSignature, error) {
	if len(armored) > maxArmored {
		return nil, fmt.Errorf("signature is %d bytes, more than any SSH signature", len(armored))
	}
	s := strings.TrimSpace(armored)
	if len(s) < len(armorBegin)+len(armorEnd) || !strings.HasPrefix(s, armorBegin) || !strings.HasSuffix(s, armorEnd) {
		return nil, errors.New("not an SSH signature (no BEGIN/END SSH SIGNATURE lines)")
	}
	body := strings.Join(strings.Fields(s[len(armorBegin):len(s)-len(armorEnd)]), "")
	blob, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("SSH signature is not valid base64: %w", err)
	}
	r := sigReader{b: blob}
	if magic := r.fixed(len(sigMagic)); string(magic) != sigMagic {
		return nil, errors.New("SSH signature does not start with SSHSIG")
	}
	if v := r.uint32(); v != sigVersion {
		return nil, fmt.Errorf("SSH signature version %d; only version 1 is known", v)
	}
	keyBlob, ns, _, hash, sigBlob := r.str(), r.str(), r.str(), r.str(), r.str()
	if r.err != nil || len(r.b) != 0 {
		return nil, errors.New("SSH signature is truncated or has trailing data")
	}
	key, err := ssh.ParsePublicKey(keyBlob)
	if err != nil {
		return nil, fmt.Errorf("SSH signature's public key: %w", err)
	}
	sig := new(ssh.Signature)
	if err := ssh.Unmarshal(sigBlob, sig); err != nil {
		return nil, fmt.Errorf("SSH signature's signature blob: %w", err)
	}
	return &SSHSignature{Key: key, Namespace: string(ns), Hash: string(hash), Sig: sig}, nil
}

// Verify checks that s signs message in namespace.
func (s *SSHSignature) Verify(namespace string, message []byte) error {
	if s.Namespace != namespace {
		return fmt.Errorf("signature is for namespace %q, not %q", s.Namespace, namespace)
	}
	if s.Hash != "sha512" && s.Hash != "sha256" {
		return fmt.Errorf("signature uses hash %q; sha512 or sha256 expected", s.Hash)
	}
	if s.Sig.Format == ssh.KeyAlgoRSA {
		return errors.New("signature uses SHA-1 (ssh-rsa); re-sign with rsa-sha2-512 or an ed25519 key")
	}
	var h []byte
	if s.Hash == "sha512" {
		sum := sha512.Sum512(message)
		h = sum[:]
	} else {
		sum := sha256.Sum256(message)
		h = sum[:]
	}
	var data []byte
	data = append(data, sigMagic...)
	data = sshString(data, []byte(namespace))
	data = sshString(data, nil)
	data = sshString(data, []byte(s.Hash))
	data = sshString(data, h)
	if err := s.Key.Verify(data, s.Sig); err != nil {
		return fmt.Errorf("signature by %s does not match the signed text: %w", ssh.FingerprintSHA256(s.Key), err)
	}
	return nil
}

// sigReader reads SSH wire-format fields, recording the first error
// instead of panicking.
type sigReader struct {
	b   []byte
	err error
}

func (r *sigReader) fixed(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errors.New("short")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *sigReader) uint32() uint32 {
	b := r.fixed(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *sigReader) str() []byte {
	n := r.uint32()
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.err = errors.New("short")
		return nil
	}
	return bytes.Clone(r.fixed(int(n)))
}

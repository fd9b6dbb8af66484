package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is returned when a host's key is not known or does not match
// known_hosts. Callers can also use errors.As with *knownhosts.KeyError.
type HostKeyError struct {
	Host      string   // the host as written in known_hosts: "10.0.0.5", "[10.0.0.5]:2222", "fe80::1%br0"
	Name      string   // the target's name, for messages ("" or same as Host when none)
	Presented string   // SHA256:… fingerprint of the key the host presented
	KeyLine   string   // the presented key in authorized_keys form, for TrustHostKey
	Known     []string // SHA256:… fingerprints known_hosts lists for the host
	KnownAt   []string // file:line of each known key
	Changed   bool     // known_hosts has keys for the host and none matches
	Revoked   bool     // the presented key is marked @revoked
	// Bound: the host's identity is bound to the Known key (the key it
	// was trusted with), whatever known_hosts says for this address.
	Bound bool
	Why   string // how the host came to be taken for the Known one, when not by address
	Err   error  // the underlying knownhosts error
}

func (e *HostKeyError) who() string {
	if e.Name == "" || e.Name == e.Host || strings.HasPrefix(e.Host, "["+e.Name+"]:") {
		return e.Host
	}
	return e.Name + " (" + e.Host + ")"
}

func (e *HostKeyError) why() string {
	if e.Why == "" {
		return ""
	}
	return " (" + e.Why + ")"
}

func (e *HostKeyError) nameOr() string {
	if e.Name != "" {
		return e.Name
	}
	return e.Host
}

func (e *HostKeyError) Error() string {
	switch {
	case e.Revoked:
		return fmt.Sprintf("host key of %s (%s) is marked @revoked in %s; refusing",
			e.who(), e.Presented, strings.Join(e.KnownAt, ", "))
	case e.Bound:
		return fmt.Sprintf("HOST KEY OF %s HAS CHANGED — it was trusted with key %s but the host at %s presented %s; "+
			"refusing (an impostor, or a man-in-the-middle). If %s was rebuilt with a new key, remove it from the hosts "+
			"and add it again to trust the new key", e.who(), strings.Join(e.Known, ", "), e.Host, e.Presented, e.nameOr()) + e.why()
	case e.Changed:
		var rm []string
		for _, f := range knownFiles(e.KnownAt) {
			rm = append(rm, "ssh-keygen -R "+shellQuote(e.Host)+" -f "+shellQuote(f))
		}
		return fmt.Sprintf("HOST KEY OF %s HAS CHANGED — known_hosts has %s but the host presented %s; "+
			"refusing (possible man-in-the-middle). If the host was rebuilt, remove the old key with: %s",
			e.who(), strings.Join(e.Known, ", "), e.Presented, strings.Join(rm, "; "))
	default:
		return fmt.Sprintf("host key of %s is not known (%s); check the fingerprint and accept it "+
			"(TUI dialog, or --accept-new in batch)", e.who(), e.Presented)
	}
}

func (e *HostKeyError) Unwrap() error { return e.Err }

// knownFiles returns the distinct file names of file:line references.
func knownFiles(at []string) []string {
	var out []string
	for _, a := range at {
		f := a
		if i := strings.LastIndexByte(a, ':'); i > 0 {
			f = a[:i]
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+,=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// knownHosts is the set of known_hosts files. The first one is where new keys
// are written; the parsed form is cached and re-read when a file changes.
type knownHosts struct {
	files []string

	mu  sync.Mutex
	sig string
	cb  ssh.HostKeyCallback
	err error

	wmu sync.Mutex // serialises appends
}

func newKnownHosts(files []string) *knownHosts { return &knownHosts{files: files} }

// callback returns a host key callback over the files that exist.
func (k *knownHosts) callback() (ssh.HostKeyCallback, error) {
	var sig strings.Builder
	var existing []string
	for _, f := range k.files {
		fi, err := os.Stat(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		existing = append(existing, f)
		fmt.Fprintf(&sig, "%s\x00%d\x00%d\x00", f, fi.Size(), fi.ModTime().UnixNano())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cb != nil && k.sig == sig.String() {
		return k.cb, k.err
	}
	if len(existing) == 0 {
		k.cb = func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }
		k.err = nil
	} else {
		k.cb, k.err = knownhosts.New(existing...)
		if k.err != nil {
			k.err = fmt.Errorf("cannot read known_hosts (fix or remove the line named here): %w", k.err)
		}
	}
	k.sig = sig.String()
	return k.cb, k.err
}

// probeKey is a syntactically valid key that is never a real host key: asking
// the database about it lists every key known for an address.
var probeKey = func() ssh.PublicKey {
	blob := make([]byte, 0, 51)
	blob = appendSSHString(blob, []byte(ssh.KeyAlgoED25519))
	blob = appendSSHString(blob, make([]byte, 32))
	k, err := ssh.ParsePublicKey(blob)
	if err != nil {
		panic(err)
	}
	return k
}()

func appendSSHString(b, s []byte) []byte {
	n := len(s)
	b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(b, s...)
}

// known returns the keys known_hosts lists for hostport (host:port as
// dialled).
func (k *knownHosts) known(hostport string) ([]knownhosts.KnownKey, error) {
	cb, err := k.callback()
	if err != nil {
		return nil, err
	}
	err = cb(hostport, fakeAddr(hostport), probeKey)
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		return ke.Want, nil
	}
	return nil, nil
}

// algorithms returns the host key algorithms to offer for hostport: those of
// the keys known for it, so that a server with several host keys presents
// one we can verify. nil when nothing is known (library default).
func (k *knownHosts) algorithms(hostport string) []string {
	keys, err := k.known(hostport)
	if err != nil {
		return nil
	}
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			if !slices.Contains(algos, x) {
				algos = append(algos, x)
			}
		}
	}
	for _, kk := range keys {
		switch t := kk.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

// appendLine appends a known_hosts line for hostport to the first file,
// creating it (0600) and its directory (0700) when needed. k.wmu is held.
func (k *knownHosts) appendLine(hostport string, key ssh.PublicKey) error {
	if len(k.files) == 0 {
		return errors.New("no known_hosts file to write to")
	}
	path := k.files[0]
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("cannot record host key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("cannot record host key: %w", err)
	}
	line := knownhosts.Line([]string{hostport}, key) + "\n"
	// Do not glue the new line onto a last line without a newline.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("cannot record host key in %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot record host key in %s: %w", path, err)
	}
	k.invalidate()
	return nil
}

func (k *knownHosts) invalidate() {
	k.mu.Lock()
	k.cb = nil // force a re-read even if size and mtime look the same
	k.mu.Unlock()
}

// trust records key for hostport unless it is already known. It refuses
// when known_hosts holds other keys for hostport (a changed key is removed
// by the operator, not overridden) or the key is revoked.
func (k *knownHosts) trust(hostport, name string, key ssh.PublicKey) error {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	k.invalidate()
	err := k.verify(hostport, name, fakeAddr(hostport), key)
	var hk *HostKeyError
	if errors.As(err, &hk) && !hk.Changed && !hk.Revoked {
		return k.appendLine(hostport, key)
	}
	return err
}

// check verifies key for hostport. With acceptNew an unknown host's key is
// recorded and accepted; a changed key is always refused.
func (k *knownHosts) check(hostport, name string, remote net.Addr, key ssh.PublicKey, acceptNew bool) error {
	err := k.verify(hostport, name, remote, key)
	var hk *HostKeyError
	if acceptNew && errors.As(err, &hk) && !hk.Changed && !hk.Revoked {
		return k.trust(hostport, name, key)
	}
	return err
}

// verify returns nil, a *HostKeyError, or an error reading known_hosts.
func (k *knownHosts) verify(hostport, name string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := k.callback()
	if err != nil {
		return err
	}
	err = cb(hostport, remote, key)
	if err == nil {
		return nil
	}
	hk := &HostKeyError{
		Host:      knownhosts.Normalize(hostport),
		Name:      name,
		Presented: ssh.FingerprintSHA256(key),
		KeyLine:   authorizedLine(key),
		Err:       err,
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &re):
		hk.Revoked = true
		hk.KnownAt = []string{re.Revoked.Filename + ":" + strconv.Itoa(re.Revoked.Line)}
		return hk
	case errors.As(err, &ke):
		if len(ke.Want) > 0 {
			hk.Changed = true
		}
		for _, w := range ke.Want {
			hk.Known = append(hk.Known, ssh.FingerprintSHA256(w.Key))
			hk.KnownAt = append(hk.KnownAt, w.Filename+":"+strconv.Itoa(w.Line))
		}
		return hk
	default:
		return err
	}
}

func authorizedLine(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// fakeAddr is a net.Addr for a host:port string, for the knownhosts callback
// (which only calls String on it).
type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// AllowedSigners is an OpenSSH allowed_signers file (ssh-keygen(1),
// "ALLOWED SIGNERS"): one line per key, "principals [options] key".
// Options understood: namespaces="…" (must include discoterm when
// present), valid-after=, valid-before=. cert-authority lines are refused:
// discoterm checks plain keys only.
type AllowedSigners struct {
	Path    string
	signers []allowedSigner

	mu       sync.Mutex
	verified map[string]int // statement+signature → index of the signer line, checked once
}

type allowedSigner struct {
	principals  []string
	namespaces  []string // empty: any
	validAfter  time.Time
	validBefore time.Time
	key         ssh.PublicKey
	line        int
}

// LoadAllowedSigners reads an allowed_signers file. A missing file is an
// error that says how to create one.
func LoadAllowedSigners(file string) (*AllowedSigners, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("allowed signers file %s does not exist; create it with one line per operator allowed to approve, "+
			"e.g.: echo \"alice@example.com $(cat ~/.ssh/id_ed25519.pub)\" >> %s", file, file)
	}
	if err != nil {
		return nil, fmt.Errorf("allowed signers: %w", err)
	}
	return ParseAllowedSigners(file, b)
}

// ParseAllowedSigners parses the content of an allowed_signers file.
func ParseAllowedSigners(file string, data []byte) (*AllowedSigners, error) {
	as := &AllowedSigners{Path: file}
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSignerLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v; expected: PRINCIPALS [OPTIONS] KEYTYPE BASE64KEY (as ssh-keygen's allowed_signers)", file, i+1, err)
		}
		s.line = i + 1
		as.signers = append(as.signers, s)
	}
	return as, nil
}

func parseSignerLine(line string) (allowedSigner, error) {
	var s allowedSigner
	principals, rest := nextField(line)
	if rest == "" {
		return s, errors.New("no key")
	}
	s.principals = strings.Split(strings.Trim(principals, `"`), ",")
	// Options, when the next field is not a key type.
	if opts, after := nextField(rest); !isKeyType(opts) {
		for _, o := range splitOptions(opts) {
			name, val, _ := strings.Cut(o, "=")
			val = strings.Trim(val, `"`)
			switch strings.ToLower(name) {
			case "namespaces":
				s.namespaces = strings.Split(val, ",")
			case "valid-after":
				t, err := parseSignerTime(val)
				if err != nil {
					return s, err
				}
				s.validAfter = t
			case "valid-before":
				t, err := parseSignerTime(val)
				if err != nil {
					return s, err
				}
				s.validBefore = t
			case "cert-authority":
				return s, errors.New("cert-authority keys are not supported; list each signer's own key")
			default:
				return s, fmt.Errorf("unknown option %q", name)
			}
		}
		rest = after
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return s, fmt.Errorf("bad key: %v", err)
	}
	s.key = key
	return s, nil
}

func isKeyType(f string) bool {
	return strings.HasPrefix(f, "ssh-") || strings.HasPrefix(f, "ecdsa-") || strings.HasPrefix(f, "sk-")
}

// nextField splits off the first field; a double-quoted field may hold
// spaces.
func nextField(s string) (field, rest string) {
	s = strings.TrimSpace(s)
	inQuote := false
	for i, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
		case (r == ' ' || r == '\t') && !inQuote:
			return s[:i], strings.TrimSpace(s[i:])
		}
	}
	return s, ""
}

// splitOptions splits comma-separated options, keeping quoted commas.
func splitOptions(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
		case r == ',' && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func parseSignerTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		v, loc = v[:len(v)-1], time.UTC
	}
	for _, layout := range []string{"20060102150405", "200601021504", "20060102"} {
		if len(v) == len(layout) {
			if t, err := time.ParseInLocation(layout, v, loc); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not YYYYMMDD[HHMM[SS]][Z]", v)
}

// Signer is who a verified signature belongs to.
type Signer struct {
	Principals  []string // from allowed_signers
	Fingerprint string   // SHA256:… of the key
}

// String names the signer for humans: "alice@example.com (SHA256:…)".
func (s Signer) String() string {
	return strings.Join(s.Principals, ",") + " (" + s.Fingerprint + ")"
}

// Check verifies armored against message in Namespace and returns the
// signer when its key is allowed at now. A signature verified once is
// remembered (its line's validity times are checked again each time).
func (as *AllowedSigners) Check(armored string, message []byte, now time.Time) (Signer, error) {
	memo := string(message) + armored
	as.mu.Lock()
	i, ok := as.verified[memo]
	as.mu.Unlock()
	if ok {
		s := as.signers[i]
		if why := s.invalid(now); why == "" {
			return Signer{Principals: s.principals, Fingerprint: ssh.FingerprintSHA256(s.key)}, nil
		}
	}
	sig, err := ParseSSHSignature(armored)
	if err != nil {
		return Signer{}, err
	}
	fp := ssh.FingerprintSHA256(sig.Key)
	var why []string
	for i, s := range as.signers {
		if !bytes.Equal(s.key.Marshal(), sig.Key.Marshal()) {
			continue
		}
		if w := s.invalid(now); w != "" {
			why = append(why, w)
			continue
		}
		if err := sig.Verify(Namespace, message); err != nil {
			return Signer{}, err
		}
		as.mu.Lock()
		if as.verified == nil {
			as.verified = map[string]int{}
		}
		as.verified[memo] = i
		as.mu.Unlock()
		return Signer{Principals: s.principals, Fingerprint: fp}, nil
	}
	if len(why) > 0 {
		return Signer{}, fmt.Errorf("signing key %s is in %s but %s", fp, as.Path, strings.Join(why, "; "))
	}
	return Signer{}, fmt.Errorf("signing key %s is not in %s", fp, as.Path)
}

// invalid says why the line does not allow a discoterm signature at now,
// "" when it does.
func (s allowedSigner) invalid(now time.Time) string {
	switch {
	case len(s.namespaces) > 0 && !matchAny(s.namespaces, Namespace):
		return fmt.Sprintf("line %d does not allow namespace %s", s.line, Namespace)
	case !s.validAfter.IsZero() && now.Before(s.validAfter):
		return fmt.Sprintf("line %d is valid only after %s", s.line, s.validAfter.Format(time.RFC3339))
	case !s.validBefore.IsZero() && !now.Before(s.validBefore):
		return fmt.Sprintf("line %d expired at %s", s.line, s.validBefore.Format(time.RFC3339))
	}
	return ""
}

// Allows reports whether key may sign discoterm changesets at now, and
// why not.
func (as *AllowedSigners) Allows(key ssh.PublicKey, now time.Time) error {
	var why []string
	for _, s := range as.signers {
		if bytes.Equal(s.key.Marshal(), key.Marshal()) {
			if w := s.invalid(now); w != "" {
				why = append(why, w)
				continue
			}
			return nil
		}
	}
	fp := ssh.FingerprintSHA256(key)
	if len(why) > 0 {
		return fmt.Errorf("signing key %s is in %s but %s", fp, as.Path, strings.Join(why, "; "))
	}
	return fmt.Errorf("signing key %s is not in %s", fp, as.Path)
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

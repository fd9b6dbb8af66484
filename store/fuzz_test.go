package store

import (
	"bufio"
	"regexp"
	"strings"
	"testing"
)

// FuzzParseNATSURL: a --store value never panics the parser; what it
// accepts has servers and a valid prefix, and the printable form never
// shows the password.
func FuzzParseNATSURL(f *testing.F) {
	for _, s := range []string{"nats://127.0.0.1:4222", "nats://a:4222,b:4222/site1?replicas=3", "tls://alice:s3cret@nats.example.net:4222/x",
		"nats://", "nats:///p", "nats://h:1/bad.prefix", "nats://h:1?replicas=9", "nats://u:p@@h:1", "http://h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := parseNATSURL(raw)
		if err != nil {
			return
		}
		if u.servers == "" || !prefixRE.MatchString(u.prefix) || u.replicas < 0 || u.replicas > 5 {
			t.Fatalf("accepted %q as %+v", raw, u)
		}
		if _, rest, ok := strings.Cut(raw, "://"); ok {
			if userinfo, _, ok := strings.Cut(rest, "@"); ok {
				if _, pw, ok := strings.Cut(userinfo, ":"); ok && pw != "" && strings.Contains(u.shown, ":"+pw+"@") {
					t.Fatalf("the shown form %q holds the password", u.shown)
				}
			}
		}
	})
}

// FuzzParseProcLocks: any /proc/locks text gives holders with positive
// PIDs, never this process, each once.
func FuzzParseProcLocks(f *testing.F) {
	f.Add("1: FLOCK  ADVISORY  WRITE 4242 08:01:77 0 EOF\n2: -> FLOCK  ADVISORY  WRITE 4343 08:01:77 0 EOF\n", uint64(77))
	f.Add("3: FLOCK  ADVISORY  READ 100 00:2a:77 0 EOF\n3: FLOCK  ADVISORY  READ 100 00:2a:77 0 EOF", uint64(77))
	f.Fuzz(func(t *testing.T, text string, ino uint64) {
		seen := map[int]bool{}
		for _, h := range parseProcLocks(bufio.NewScanner(strings.NewReader(text)), ino, 100) {
			if h.PID <= 0 || h.PID == 100 || seen[h.PID] {
				t.Fatalf("holder %+v from %q", h, text)
			}
			seen[h.PID] = true
		}
	})
}

var kvToken = regexp.MustCompile(`^[-_=A-Za-z0-9]+$`)

// FuzzEncKey: every ID or name becomes one valid KV key token and NATS
// subject token, and two different ones never share a token.
func FuzzEncKey(f *testing.F) {
	for _, s := range []string{"main", "release.1", "mid:0123", "=616263", "abc", "", "a b", "ünï", "end."} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := encKey(a), encKey(b)
		if !kvToken.MatchString(ka) {
			t.Fatalf("encKey(%q) = %q is not one token", a, ka)
		}
		if a != b && ka == kb {
			t.Fatalf("encKey(%q) == encKey(%q) == %q", a, b, ka)
		}
	})
}

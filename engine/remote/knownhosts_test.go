package remote

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestKnownHostsLinesAndLookup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "known_hosts")
	kh := newKnownHosts([]string{path, filepath.Join(dir, "absent")})
	k1 := newTestSigner(t).PublicKey()
	k2 := newTestSigner(t).PublicKey()

	// Nothing on disk: every host is unknown, algorithms default.
	if got := kh.algorithms("[fe80::1%br0]:22"); got != nil {
		t.Fatalf("algorithms on empty db: %v", got)
	}
	for _, hp := range []string{"[fe80::1%br0]:22", "[fd00:1::5]:2222", "10.0.0.1:22"} {
		if err := kh.trust(hp, "", k1); err != nil {
			t.Fatal(err)
		}
	}
	// Trusting a known key again is a no-op; trusting another key for a
	// host with a key on record is refused (that is a changed key).
	if err := kh.trust("10.0.0.1:22", "", k1); err != nil {
		t.Fatal(err)
	}
	var hk *HostKeyError
	if err := kh.trust("10.0.0.1:22", "", k2); !errors.As(err, &hk) || !hk.Changed {
		t.Fatalf("trusting a second key: %v", err)
	}
	data, _ := os.ReadFile(path)
	want := "fe80::1%br0 " + authorizedLine(k1) + "\n" +
		"[fd00:1::5]:2222 " + authorizedLine(k1) + "\n" +
		"10.0.0.1 " + authorizedLine(k1) + "\n"
	if string(data) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", data, want)
	}

	for _, tc := range []struct {
		hp      string
		key     ssh.PublicKey
		unknown bool
		changed bool
	}{
		{"[fe80::1%br0]:22", k1, false, false},
		{"[fe80::1%br1]:22", k1, true, false}, // another zone is another host
		{"[fe80::1]:22", k1, true, false},     // so is no zone
		{"[fd00:1::5]:2222", k1, false, false},
		{"[fd00:1::5]:22", k1, true, false},
		{"10.0.0.1:22", k2, false, true},
	} {
		err := kh.check(tc.hp, "", fakeAddr(tc.hp), tc.key, false)
		var hk *HostKeyError
		switch {
		case !tc.unknown && !tc.changed:
			if err != nil {
				t.Errorf("%s: %v", tc.hp, err)
			}
		case !errors.As(err, &hk) || hk.Changed != tc.changed:
			t.Errorf("%s: want unknown=%v changed=%v, got %v", tc.hp, tc.unknown, tc.changed, err)
		}
	}
	if got := kh.algorithms("[fe80::1%br0]:22"); !reflect.DeepEqual(got, []string{ssh.KeyAlgoED25519}) {
		t.Errorf("algorithms %v", got)
	}
}

func TestKnownHostsAlgorithmsRSAAndSeveral(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "known_hosts")
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rpub, _ := ssh.NewPublicKey(&rk.PublicKey)
	ed := newTestSigner(t).PublicKey()
	// A hashed entry (ssh-keygen -H) and a plain one, no final newline.
	line1 := knownhosts.Line([]string{knownhosts.HashHostname("10.1.1.1")}, ed)
	line2 := knownhosts.Line([]string{"10.1.1.1"}, rpub)
	if err := os.WriteFile(path, []byte(line1+"\n"+line2), 0o644); err != nil {
		t.Fatal(err)
	}
	kh := newKnownHosts([]string{path})
	got := kh.algorithms("10.1.1.1:22")
	want := []string{ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("algorithms %v want %v", got, want)
	}
	// Appending after a last line without newline starts a new line.
	other := newTestSigner(t).PublicKey()
	if err := kh.trust("10.1.1.2:22", "", other); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(data), line2+"\n10.1.1.2 "+authorizedLine(other)+"\n") {
		t.Fatalf("file:\n%s", data)
	}
	if err := kh.check("10.1.1.2:22", "", fakeAddr("10.1.1.2:22"), other, false); err != nil {
		t.Fatalf("re-read after add: %v", err)
	}
}

func TestKnownHostsRevokedAndBroken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "known_hosts")
	k := newTestSigner(t).PublicKey()
	os.WriteFile(path, []byte("@revoked * "+authorizedLine(k)+"\n"), 0o600)
	kh := newKnownHosts([]string{path})
	err := kh.check("10.0.0.1:22", "", fakeAddr("10.0.0.1:22"), k, true)
	var hk *HostKeyError
	if !errors.As(err, &hk) || !hk.Revoked || !strings.Contains(err.Error(), "@revoked") {
		t.Fatalf("revoked: %v", err)
	}
	data, _ := os.ReadFile(path)
	if strings.Count(string(data), "\n") != 1 {
		t.Fatal("revoked key was accepted as new")
	}

	os.WriteFile(path, []byte("10.0.0.1 ssh-ed25519 !!!notbase64\n"), 0o600)
	kh = newKnownHosts([]string{path})
	if err := kh.check("10.0.0.1:22", "", fakeAddr("10.0.0.1:22"), k, false); err == nil || !strings.Contains(err.Error(), path+":1") {
		t.Fatalf("broken file: %v", err)
	}
}

func TestHostKeyErrorMessages(t *testing.T) {
	e := &HostKeyError{Host: "fe80::1%br0", Name: "web1", Presented: "SHA256:new"}
	if got := e.Error(); got != "host key of web1 (fe80::1%br0) is not known (SHA256:new); check the fingerprint and accept it (TUI dialog, or --accept-new in batch)" {
		t.Error(got)
	}
	e = &HostKeyError{Host: "[10.0.0.1]:2222", Name: "10.0.0.1", Presented: "SHA256:B", Known: []string{"SHA256:A"},
		KnownAt: []string{"/root/.ssh/known_hosts:3"}, Changed: true}
	want := "HOST KEY OF [10.0.0.1]:2222 HAS CHANGED — known_hosts has SHA256:A but the host presented SHA256:B; " +
		"refusing (possible man-in-the-middle). If the host was rebuilt, remove the old key with: " +
		"ssh-keygen -R '[10.0.0.1]:2222' -f /root/.ssh/known_hosts"
	if got := e.Error(); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

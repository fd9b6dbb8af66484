package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

const (
	secretVar  = "s3cr3t-variable-value"
	secretFile = "secret-file-content-xyz"
	secretOld  = "old-secret-on-the-host"
)

func sum12(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:12]
}

// secretEnv is a host with a secret variable used by a template, a secret
// file entry and an exec that sees the variable, staged and planned.
func secretEnv(t *testing.T) (*testEnv, *engine.Plan) {
	v := newEnv(t)
	v.writeClass("DEFAULT:\n    BRANCH = main\n    PLAIN = visible\n    secret DBPASS = " + secretVar + "\n")
	v.addHost("10.0.0.1", "web01")
	v.fr.setFile("10.0.0.1", "/etc/app.conf", "password="+secretOld+"\n", 0o600, "root", "root")
	v.lock("main")
	v.stage("main",
		engine.StageRequest{Kind: journal.KindTemplate, Path: "/etc/app.conf", Mode: 0o600, Content: []byte("password={{.DBPASS}}\nplain={{.PLAIN}}\n")},
		engine.StageRequest{Kind: journal.KindFile, Path: "/etc/key", Mode: 0o600, Content: []byte(secretFile + "\n"), Secret: true},
		engine.StageRequest{Kind: journal.KindTemplate, Path: "/etc/motd", Content: []byte("hello {{.PLAIN}}\n")},
		engine.StageRequest{Kind: journal.KindExec, Command: "echo hi"},
	)
	return v, v.plan(engine.PlanRequest{Branch: "main"})
}

// TestSecretsAreMasked: the plan shows hashes for secret content, keeps no
// secret value in its record, and the push still installs the real thing.
func TestSecretsAreMasked(t *testing.T) {
	v, p := secretEnv(t)
	if n := v.fr.counts("10.0.0.1").fetches; n != 0 {
		t.Errorf("the plan fetched the host's secret file for a diff (%d fetches)", n)
	}
	hp := p.Hosts[0]
	byPath := map[string]engine.Change{}
	for _, c := range hp.Changes {
		byPath[c.Path] = c
	}
	want := "secret changed (sha256 prefix " + sum12("password="+secretOld+"\n") + " → " + sum12("password="+secretVar+"\nplain=visible\n") + ")\n"
	if c := byPath["/etc/app.conf"]; !c.Secret || c.Diff != want || c.Binary {
		t.Errorf("secret template change: secret=%v binary=%v diff %q, want %q", c.Secret, c.Binary, c.Diff, want)
	}
	if c := byPath["/etc/key"]; !c.Secret || c.Diff != "secret created (sha256 prefix "+sum12(secretFile+"\n")+")\n" {
		t.Errorf("secret file change: secret=%v diff %q", c.Secret, c.Diff)
	}
	if c := byPath["/etc/motd"]; c.Secret || !strings.Contains(c.Diff, "+hello visible") {
		t.Errorf("a template without secrets must show its diff: secret=%v diff %q", c.Secret, c.Diff)
	}
	if hp.Env["DBPASS"] != "" || strings.Join(hp.SecretEnv, ",") != "DBPASS" || hp.SecretsSum == "" || hp.Env["PLAIN"] != "visible" {
		t.Errorf("plan env %v, secret env %v, sum %q", hp.Env, hp.SecretEnv, hp.SecretsSum)
	}
	if h := v.hostView("web01"); h.Vars["DBPASS"] != engine.SecretMask || h.Vars["PLAIN"] != "visible" {
		t.Errorf("host view vars: %v", h.Vars)
	}
	p = v.approve(p)
	res := v.push(p, engine.PushOptions{})
	if got, _ := v.fr.file("10.0.0.1", "/etc/app.conf"); string(got.content) != "password="+secretVar+"\nplain=visible\n" {
		t.Errorf("host app.conf: %q", got.content)
	}
	if got, _ := v.fr.file("10.0.0.1", "/etc/key"); string(got.content) != secretFile+"\n" {
		t.Errorf("host key: %q", got.content)
	}
	var env map[string]string
	v.fr.with("10.0.0.1", func(h *fakeHost) { env = h.env })
	if env["DBPASS"] != secretVar {
		t.Errorf("the exec did not see the secret variable: %v", env)
	}
	// Nothing a face gets holds a secret value: the plan, the push result,
	// the host view, the journal and the entry content.
	hv := v.hostView("web01")
	jv, err := v.eng.Log("main")
	if err != nil {
		t.Fatal(err)
	}
	ec, err := v.eng.Content("main", jv.Entries[1])
	if err != nil {
		t.Fatal(err)
	}
	if !ec.Secret || ec.Content != nil || ec.Diff != "secret created (sha256 prefix "+sum12(secretFile+"\n")+")\n" {
		t.Errorf("content of the secret entry: %+v", ec)
	}
	stored, err := v.eng.GetPlan(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for what, x := range map[string]any{"plan": p, "stored plan": stored, "push": res, "host": hv, "journal": jv, "content": ec} {
		b, _ := json.Marshal(x)
		for _, s := range []string{secretVar, secretFile, secretOld} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q: %s", what, s, b)
			}
		}
	}
	// The store keeps the secret file entry's content (push needs it),
	// never the rendered template nor the variable.
	_ = v.st.Close()
	raw, err := os.ReadFile(filepath.Join(v.dir, "discoterm.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secretVar)) || bytes.Contains(raw, []byte(secretOld)) {
		t.Errorf("the store file holds a secret variable's value or the host's old secret")
	}
	if !bytes.Contains(raw, []byte(secretFile)) {
		t.Errorf("the store does not hold the secret file entry (push needs it): is the blob compressed? then this test must look elsewhere")
	}
}

// TestSecretChangedSincePlanIsStale: push renders secret content again and
// refuses the host when it is not what was reviewed.
func TestSecretChangedSincePlanIsStale(t *testing.T) {
	v, p := secretEnv(t)
	p = v.approve(p)
	v.writeClass("DEFAULT:\n    BRANCH = main\n    PLAIN = visible\n    secret DBPASS = another-value\n")
	res, err := v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	if !errors.Is(err, engine.ErrStale) || res == nil || res.Hosts[0].Status != engine.PushStale {
		t.Fatalf("push after the secret changed: %v %+v", err, res)
	}
	if msg := res.Hosts[0].Err; !strings.Contains(msg, "changed since plan") || strings.Contains(msg, "another-value") {
		t.Errorf("stale message: %s", msg)
	}
	if got, _ := v.fr.file("10.0.0.1", "/etc/app.conf"); string(got.content) != "password="+secretOld+"\n" {
		t.Errorf("a stale host was written: %q", got.content)
	}
}

// TestSecretPathStaysMasked: once a path holds secret content, the next
// (not secret) entry for it does not diff against the secret.
func TestSecretPathStaysMasked(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	p := v.commit("main", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/key", Content: []byte(secretFile + "\n"), Secret: true})
	v.push(p, engine.PushOptions{})
	v.lock("main")
	v.stage("main", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/key", Content: []byte("public now\n")},
		engine.StageRequest{Kind: journal.KindRemove, Path: "/etc/key"})
	p = v.plan(engine.PlanRequest{Branch: "main"})
	ch := p.Hosts[0].Changes
	if len(ch) != 2 || !ch[0].Secret || !strings.HasPrefix(ch[0].Diff, "secret changed (sha256 prefix "+sum12(secretFile+"\n")) {
		t.Fatalf("changes: %+v", ch)
	}
	if ch[1].Secret || !strings.Contains(ch[1].Diff, "-public now") {
		t.Errorf("after a public entry the path is public again: %+v", ch[1])
	}
	b, _ := json.Marshal(p)
	if bytes.Contains(b, []byte(secretFile)) {
		t.Errorf("plan holds the secret: %s", b)
	}
}

// TestClassifiedByBoundMAC: a MAC target classifies the trusted host bound
// to that MAC (branch and variables), over any name stanza; the MAC it
// answers from later, an untrusted placeholder's MAC, and a machine-id it
// reports later do not move it.
func TestClassifiedByBoundMAC(t *testing.T) {
	v := newEnv(t)
	const mid = "0123456789abcdef0123456789abcdef"
	v.writeClass(`DEFAULT:
    BRANCH = main
^web:
    ROLE = web
mac:52-54-00-AA-BB-01:
    BRANCH = db
    ROLE = db-by-mac
machine-id:` + mid + `:
    BRANCH = db
    ROLE = db-by-machine-id
`)
	v.fr.add("10.0.0.2", "web02").facts.MachineID = mid
	if _, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "10.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	v.addHost("10.0.0.1", "web01")
	setHost := func(id string, fn func(h *store.Host)) {
		t.Helper()
		if err := v.st.Update(func(tx store.Tx) error {
			h, err := tx.Host(id)
			if err != nil {
				return err
			}
			fn(&h)
			return tx.PutHost(h)
		}); err != nil {
			t.Fatal(err)
		}
	}
	web01 := v.hostView("web01")
	if web01.Branch != "main" || web01.Vars["ROLE"] != "web" {
		t.Fatalf("before its MAC is known: %s %v", web01.Branch, web01.Vars)
	}
	// The scanner found its trusted key answering from this MAC.
	setHost(web01.ID, func(h *store.Host) { h.MAC, h.BoundMAC = "52:54:00:aa:bb:01", "52:54:00:aa:bb:01" })
	if h := v.hostView("web01"); h.Branch != "db" || h.Vars["ROLE"] != "db-by-mac" {
		t.Errorf("classified by MAC: %s %v", h.Branch, h.Vars)
	}
	if h := v.hostView("web02"); h.Branch != "db" || h.Vars["ROLE"] != "db-by-machine-id" {
		t.Errorf("classified by machine-id: %s %v", h.Branch, h.Vars)
	}
	// The plan renders the stanza's variables for it.
	v.lock("db")
	v.stage("db", engine.StageRequest{Kind: journal.KindTemplate, Path: "/etc/role", Content: []byte("{{.ROLE}}\n")})
	p := v.plan(engine.PlanRequest{Branch: "db"})
	if len(p.Hosts) != 2 {
		t.Fatalf("plan of db: %+v", p.Hosts)
	}
	for _, hp := range p.Hosts {
		if d := hp.Changes[0].Diff; !strings.Contains(d, "+db-by-") {
			t.Errorf("%s renders %q", hp.Name, d)
		}
	}
	// It answers from another MAC now: still classified by the bound one.
	setHost(web01.ID, func(h *store.Host) { h.MAC = "52:54:00:99:99:99" })
	if h := v.hostView("web01"); h.Vars["ROLE"] != "db-by-mac" || len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "answers from MAC 52:54:00:99:99:99 now") {
		t.Errorf("after a MAC change: %v %q", h.Vars, h.Warnings)
	}
	// An untrusted device claiming the MAC is not classified by it.
	if err := v.st.Update(func(tx store.Tx) error {
		return tx.PutHost(store.Host{ID: "mac:52:54:00:aa:bb:01", Name: "intruder", MAC: "52:54:00:aa:bb:01", BoundMAC: "52:54:00:aa:bb:01", HostKey: "SHA256:x"})
	}); err != nil {
		t.Fatal(err)
	}
	if h := v.hostView("intruder"); h.Branch != "main" {
		t.Errorf("an untrusted host claiming the MAC got branch %s", h.Branch)
	}
	// web02 edits its machine-id: still classified by the trusted one.
	v.fr.with("10.0.0.2", func(h *fakeHost) { h.facts.MachineID = "ffffffffffffffffffffffffffffffff" })
	if _, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "10.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	if h := v.hostView("web02"); h.Vars["ROLE"] != "db-by-machine-id" || h.MachineID != mid || len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "reports machine-id ffffffffffffffffffffffffffffffff now") {
		t.Errorf("after a machine-id change: %v %s %q", h.Vars, h.MachineID, h.Warnings)
	}
}

// TestSecretDriftAndRemove: drift on a secret path, its repair and its
// adoption show hashes only; a template staged --secret is masked with no
// secret variable; removing a secret file says "secret deleted".
func TestSecretDriftAndRemove(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "web01")
	p := v.commit("main",
		engine.StageRequest{Kind: journal.KindFile, Path: "/etc/key", Content: []byte(secretFile + "\n"), Secret: true},
		engine.StageRequest{Kind: journal.KindTemplate, Path: "/etc/tok", Content: []byte("tok {{.BRANCH}}\n"), Secret: true})
	if c := p.Hosts[0].Changes[1]; !c.Secret || !strings.HasPrefix(c.Diff, "secret created (sha256 prefix ") {
		t.Errorf("template --secret: %+v", c)
	}
	v.push(p, engine.PushOptions{})
	v.fr.setFile("10.0.0.1", "/etc/key", secretOld+"\n", 0o644, "root", "root")
	rep, err := v.eng.Drift(context.Background(), engine.DriftRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if ps := rep.Hosts[0].Paths; len(ps) != 1 || !ps[0].Secret || ps[0].Diff != "secret changed (sha256 prefix "+sum12(secretFile+"\n")+" → "+sum12(secretOld+"\n")+")\n" {
		t.Errorf("drift of a secret path: %+v", ps)
	}
	rp, err := v.eng.Repair(context.Background(), engine.FixRequest{Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if c := rp.Hosts[0].Changes[0]; !c.Secret || !strings.HasPrefix(c.Diff, "secret changed (sha256 prefix ") {
		t.Errorf("repair of a secret path: %+v", c)
	}
	v.lock("main")
	_, staged, err := v.eng.Adopt(context.Background(), "web01", engine.FixRequest{Branch: "main"})
	if err != nil || len(staged) != 1 || !staged[0].Secret {
		t.Fatalf("adopting a secret path must keep it secret: %v %+v", err, staged)
	}
	adopted, _, err := v.eng.Staged("main")
	if err != nil || len(adopted) != 1 {
		t.Fatalf("staged after adopt: %v %+v", err, adopted)
	}
	if err := v.eng.Drop("main", adopted[0].Seq); err != nil {
		t.Fatal(err)
	}
	v.stage("main", engine.StageRequest{Kind: journal.KindRemove, Path: "/etc/key"})
	p = v.plan(engine.PlanRequest{Branch: "main"})
	if c := p.Hosts[0].Changes[0]; !c.Secret || c.Diff != "secret deleted (sha256 prefix "+sum12(secretOld+"\n")+")\n" {
		t.Errorf("removing a secret path: %+v", c)
	}
	for what, x := range map[string]any{"drift": rep, "repair": rp, "plan": p} {
		b, _ := json.Marshal(x)
		if bytes.Contains(b, []byte(secretFile)) || bytes.Contains(b, []byte(secretOld)) {
			t.Errorf("%s holds a secret: %s", what, b)
		}
	}
}

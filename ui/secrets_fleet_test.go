package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/crypto/ssh"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/engine/remote/testfleet"
	"github.com/discoterm/discoterm/store"
)

const (
	fleetSecretVar  = "ui-secret-variable-3c9d"
	fleetSecretFile = "ui-secret-file-b7e1"
)

// TestSecretsNeverOnScreen: the console on a real engine and a real
// fleet host, with a secret variable in a template and a --secret file.
// No frame of any view (hosts, journal and the entry's detail, plan
// review, push progress, activity) nor any event holds a secret value;
// the plan review shows the masked line.
func TestSecretsNeverOnScreen(t *testing.T) {
	f := testfleet.StartT(t, testfleet.Options{N: 1})
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "store.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	client, err := remote.New(remote.Options{KnownHostsFiles: []string{f.KnownHosts}, IdentityFiles: []string{f.ClientKey}, ConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	signer, err := f.Signer()
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	class := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(allowed, append([]byte("alice "), ssh.MarshalAuthorizedKey(signer.PublicKey())...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(class, []byte("DEFAULT:\n    BRANCH = main\n    secret DBPASS = "+fleetSecretVar+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st, Remote: &remote.Steps{R: client, HostKey: client.HostKey}, Operator: "alice",
		ClassFile: class, Signer: signer, AllowedSigners: allowed})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	evs, stop := eng.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range evs {
			b, _ := json.Marshal(ev)
			mu.Lock()
			events = append(events, fmt.Sprint(ev.Type())+" "+string(b))
			mu.Unlock()
		}
	}()
	ctx := context.Background()
	h := f.Hosts[0]
	if _, err := eng.AddHost(ctx, engine.AddHostRequest{Addr: h.ULA}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Lock("main", "secrets"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []engine.StageRequest{
		{Kind: journal.KindTemplate, Path: "/etc/app.conf", Mode: 0o600, Content: []byte("password={{.DBPASS}}\n")},
		{Kind: journal.KindFile, Path: "/etc/app.key", Mode: 0o600, Content: []byte(fleetSecretFile + "\n"), Secret: true},
	} {
		if _, err := eng.Stage("main", r); err != nil {
			t.Fatal(err)
		}
	}

	clock := &testClock{}
	m, err := NewModel(eng, Options{Theme: "dark"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	d := &driver{t: t, m: m, clock: clock, late: make(chan tea.Msg, 16)}
	d.send(tea.WindowSizeMsg{Width: 160, Height: 48})
	d.run(m.Init())
	d.settle()
	var frames []string
	look := func(where string) string {
		t.Helper()
		d.pump()
		d.settle()
		sc := d.screen()
		frames = append(frames, where+":\n"+sc)
		return sc
	}
	look("hosts")
	d.key("enter")
	look("host detail")
	d.key("esc")
	d.key("p")
	if sc := look("plan review"); !strings.Contains(sc, "secret changed (sha256 prefix") && !strings.Contains(sc, "secret created (sha256 prefix") {
		t.Errorf("the plan review should show the masked lines:\n%s", sc)
	}
	d.keys("a", "y")
	look("approved")
	d.keys("P", "y")
	look("push")
	d.key("4")
	look("push progress")
	d.key("5")
	look("activity")
	d.key("2")
	look("journal")
	for _, move := range []string{"up", "down"} { // the cursor starts on seq 1
		d.key("enter")
		look("entry detail")
		d.key("esc")
		d.key(move)
	}
	stop()
	<-done
	if got, err := h.ReadFile("/etc/app.conf"); err != nil || string(got) != "password="+fleetSecretVar+"\n" {
		t.Errorf("host /etc/app.conf = %q, %v (the push did not happen?)\n%s", got, err, strings.Join(frames, "\n"))
	}
	if got, err := h.ReadFile("/etc/app.key"); err != nil || string(got) != fleetSecretFile+"\n" {
		t.Errorf("host /etc/app.key = %q, %v", got, err)
	}
	shown := strings.Join(frames, "\n")
	if !strings.Contains(shown, "secret content") {
		t.Errorf("the journal detail of the secret entry should say it is secret:\n%s", shown)
	}
	mu.Lock()
	all := append([]string{shown}, events...)
	mu.Unlock()
	if len(events) == 0 {
		t.Error("no events seen")
	}
	for _, s := range all {
		for _, secret := range []string{fleetSecretVar, fleetSecretFile} {
			if strings.Contains(s, secret) {
				t.Errorf("%q is shown:\n%s", secret, s)
			}
		}
	}
}

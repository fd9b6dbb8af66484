package engine_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
	"github.com/discoterm/discoterm/store"
)

func TestAddHostIdentity(t *testing.T) {
	v := newEnv(t)
	hv := v.addHost("10.0.0.1", "web01")
	if hv.ID != "mid:mid-web01" || hv.Name != "web01" || hv.Addr != "10.0.0.1" || !reflect.DeepEqual(hv.Addrs, []string{"10.0.0.1"}) ||
		!hv.Trusted || hv.HostKey != "SHA256:key-web01" || hv.Branch != "main" {
		t.Fatalf("added: %+v", hv)
	}
	p := v.commit("main", fileReq("/etc/a", "a\n"))
	v.push(p, engine.PushOptions{})

	// The machine comes back at another address: same host, same history.
	v.fr.move("10.0.0.1", "fd00::9")
	hv2, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "[fd00::9]"})
	if err != nil {
		t.Fatal(err)
	}
	if hv2.ID != hv.ID || hv2.Addr != "fd00::9" || !reflect.DeepEqual(hv2.Addrs, []string{"fd00::9", "10.0.0.1"}) {
		t.Errorf("moved host: id %s addr %s addrs %v", hv2.ID, hv2.Addr, hv2.Addrs)
	}
	if hv2.Position != 1 || hv2.StateBranch != "main" || hv2.LastResult != string(engine.PushDone) || hv2.FirstSeen != hv.FirstSeen {
		t.Errorf("moved host lost its history: %+v", hv2.Host)
	}
	hs, _ := v.eng.Hosts(context.Background())
	if len(hs) != 1 {
		t.Errorf("%d hosts after a move, want 1", len(hs))
	}
	rs, err := v.eng.Report("fd00::9")
	if err != nil || len(rs) != 1 || rs[0].HostID != hv.ID {
		t.Errorf("results after the move: %+v, %v", rs, err)
	}
	// The old address still names it.
	if rs, err := v.eng.Report("10.0.0.1"); err != nil || len(rs) != 1 {
		t.Errorf("report by old address: %v", err)
	}
}

func TestAddHostIdentityFallbacksAndErrors(t *testing.T) {
	v := newEnv(t)
	v.fr.add("10.0.0.5", "keyonly")
	v.fr.with("10.0.0.5", func(h *fakeHost) { h.facts.MachineID = "" })
	hv, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "10.0.0.5", Name: "display"})
	if err != nil {
		t.Fatal(err)
	}
	if hv.ID != "key:SHA256:key-keyonly" || hv.Name != "display" {
		t.Errorf("without machine-id: id %s name %s", hv.ID, hv.Name)
	}
	for _, tc := range []struct{ addr, want string }{
		{"", "needs an address"},
		{"host:0", "not a number from 1 to 65535"},
		{"[fd00::1", "no closing ]"},
		{"-oProxyCommand=id", "not a host name"},
	} {
		if _, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: tc.addr}); !errors.Is(err, engine.ErrUsage) {
			t.Errorf("AddHost(%q) = %v, want ErrUsage", tc.addr, err)
		} else {
			wantContains(t, "error", err.Error(), tc.want)
		}
	}
	// USER@[V6]:PORT and ssh://USER@HOST:PORT, as every SSH tool takes them.
	v.fr.add("fd00::9", "v6")
	for _, addr := range []string{"admin@[fd00::9]:2222", "ssh://admin@[fd00::9]:2222"} {
		hv, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: addr})
		if err != nil || hv.Addr != "fd00::9" || hv.User != "admin" || hv.Port != 2222 {
			t.Errorf("AddHost(%q) = addr %q user %q port %d, %v", addr, hv.Addr, hv.User, hv.Port, err)
		}
	}
	if _, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "admin@fd00::9", User: "root"}); !errors.Is(err, engine.ErrUsage) {
		t.Errorf("a --user that contradicts the address: %v", err)
	}
	v.fr.add("10.0.0.6", "down")
	v.fr.setDown("10.0.0.6", true)
	_, err = v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "10.0.0.6"})
	var ue *remote.UnreachableError
	if !errors.As(err, &ue) {
		t.Errorf("AddHost of a down host: %v", err)
	}
}

func TestForkAndMigrate(t *testing.T) {
	ctx := context.Background()
	v := newEnv(t)
	v.addHost("10.0.0.1", "ahead")
	v.addHost("10.0.0.3", "fresh")
	v.push(v.commit("main", fileReq("/etc/1", "1\n"), fileReq("/etc/2", "2\n")), engine.PushOptions{})

	if err := v.eng.Fork("main", "side"); err != nil {
		t.Fatal(err)
	}
	if err := v.eng.Fork("main", "side"); !errors.Is(err, engine.ErrUsage) {
		t.Errorf("fork onto an existing branch: %v", err)
	}
	mainJ, sideJ := v.journal("main"), v.journal("side")
	if len(sideJ) != 2 || sideJ[0].Hash != mainJ[0].Hash || sideJ[1].Hash != mainJ[1].Hash {
		t.Fatalf("fork did not copy entries with their hashes")
	}
	jv, _ := v.eng.Log("side")
	if jv.Branch.Parent != "main" || jv.Branch.ForkSeq != 2 {
		t.Errorf("side: %+v", jv.Branch)
	}
	// The branches diverge after seq 2; only "ahead" applies main's seq 3.
	v.lock("main")
	v.stage("main", fileReq("/etc/3", "main\n"))
	v.push(v.approve(v.plan(engine.PlanRequest{Hosts: []string{"ahead"}})), engine.PushOptions{})
	v.commit("side", fileReq("/etc/3", "side\n"))
	if hv := v.hostView("ahead"); hv.Position != 3 {
		t.Fatalf("ahead at %d", hv.Position)
	}

	// A host whose applied entries are not on the new branch is refused.
	err := v.eng.Migrate(ctx, "ahead", "side")
	if !errors.Is(err, engine.ErrUsage) {
		t.Fatalf("migrate ahead: %v, want ErrUsage", err)
	}
	wantContains(t, "error", err.Error(), "applied 3 entries of main", "contiguous superset", "fork")
	if st := v.fr.stateOf("10.0.0.1"); st.Branch != "main" {
		t.Errorf("refused migrate rewrote the state: %+v", st)
	}
	// Assign refuses to move a host with history and points at migrate.
	if err := v.eng.Assign("ahead", "side"); !errors.Is(err, engine.ErrUsage) {
		t.Errorf("assign: %v", err)
	} else {
		wantContains(t, "assign error", err.Error(), "migrate ahead side")
	}

	// "fresh" did not get seq 3 and is still at 2: a prefix of side.
	if st := v.fr.stateOf("10.0.0.3"); st.Position != 2 {
		t.Fatalf("fresh at %d", st.Position)
	}
	if err := v.eng.Migrate(ctx, "fresh", "side"); err != nil {
		t.Fatalf("migrate fresh: %v", err)
	}
	st := v.fr.stateOf("10.0.0.3")
	if st.Branch != "side" || st.Position != 2 || st.Hash != mainJ[1].Hash {
		t.Errorf("state after migrate: %+v", st)
	}
	hv := v.hostView("fresh")
	if hv.Branch != "side" || hv.StateBranch != "side" || hv.Position != 2 || hv.Behind != 1 {
		t.Errorf("mirror after migrate: %+v", hv)
	}
	if err := v.eng.Migrate(ctx, "fresh", "side"); !errors.Is(err, engine.ErrUsage) {
		t.Errorf("migrate twice: %v", err)
	}
	audit, _ := v.eng.Audit("side")
	if last := audit[len(audit)-1]; last.Action != "migrate" {
		t.Errorf("audit: %+v", last)
	}
	// It now follows side: the next plan brings side's seq 3.
	p := v.approve(v.plan(engine.PlanRequest{Branch: "side"}))
	if len(p.Hosts) != 1 || len(p.Hosts[0].Changes) != 1 || p.Hosts[0].Changes[0].Seq != 3 {
		t.Fatalf("plan of side: %+v", p.Hosts)
	}
	v.push(p, engine.PushOptions{})
	if f, _ := v.fr.file("10.0.0.3", "/etc/3"); string(f.content) != "side\n" {
		t.Errorf("fresh /etc/3 = %q", f.content)
	}
}

// tamper rewrites one journal entry's message behind the store's back.
func tamper(t *testing.T, path, branch string, seq uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		jb := tx.Bucket([]byte("journals")).Bucket([]byte(branch))
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		var en journal.Entry
		if err := json.Unmarshal(jb.Get(k[:]), &en); err != nil {
			return err
		}
		en.Message = "nothing to see here"
		b, err := json.Marshal(en)
		if err != nil {
			return err
		}
		return jb.Put(k[:], b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTamperedJournalRefused(t *testing.T) {
	v := newEnv(t)
	v.addHost("10.0.0.1", "h1")
	v.lock("main")
	v.stage("main", fileReq("/etc/1", "1\n"), fileReq("/etc/2", "2\n"), fileReq("/etc/3", "3\n"))
	p := v.approve(v.plan(engine.PlanRequest{}))

	path := filepath.Join(v.dir, "discoterm.db")
	if err := v.st.Close(); err != nil {
		t.Fatal(err)
	}
	tamper(t, path, "main", 2)
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	v.st = st
	v.eng = v.engine("alice")

	check := func(op string, err error) {
		t.Helper()
		var ce *journal.ChainError
		if !errors.As(err, &ce) || !errors.Is(err, journal.ErrChain) {
			t.Errorf("%s: %v, want a *journal.ChainError", op, err)
			return
		}
		if ce.Seq != 2 || ce.Branch != "main" {
			t.Errorf("%s: chain error at %s seq %d, want main seq 2", op, ce.Branch, ce.Seq)
		}
		wantContains(t, op, err.Error(), "seq 2", "restore the store")
	}
	_, err = v.eng.Log("main")
	check("Log", err)
	_, err = v.eng.Plan(context.Background(), engine.PlanRequest{Branch: "main"})
	check("Plan", err)
	_, err = v.eng.Push(context.Background(), p.ID, engine.PushOptions{})
	check("Push", err)
	if err := v.eng.Fork("main", "copy"); err == nil {
		t.Error("Fork copied a tampered journal")
	}
	if c := v.fr.counts("10.0.0.1"); c.applies != 0 {
		t.Errorf("a host was touched: %+v", c)
	}
}

// Hosts list as people count: web2 before web10.
func TestHostsSortNaturally(t *testing.T) {
	v := newEnv(t)
	for i, name := range []string{"web10", "web2", "web1"} {
		v.addHost(fmt.Sprintf("10.0.9.%d", i+1), name)
	}
	hs, err := v.eng.Hosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, h.Name)
	}
	if strings.Join(got, " ") != "web1 web2 web10" {
		t.Errorf("hosts in order %v, want web1 web2 web10", got)
	}
}

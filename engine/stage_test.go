package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
)

func TestLockHeldByAnotherOperator(t *testing.T) {
	v := newEnv(t)
	bob := v.engine("bob")
	if err := v.eng.Lock("main", "install foo"); err != nil {
		t.Fatal(err)
	}
	err := bob.Lock("main", "something else")
	if !errors.Is(err, engine.ErrLockHeld) {
		t.Fatalf("second operator's lock: %v, want ErrLockHeld", err)
	}
	wantContains(t, "lock error", err.Error(), "locked by alice", "you are bob", `"install foo"`, "--force")
	// Staging under someone else's lock is refused the same way.
	if _, err := bob.Stage("main", fileReq("/etc/motd", "hi\n")); !errors.Is(err, engine.ErrLockHeld) {
		t.Errorf("bob staging under alice's lock: %v", err)
	}
	// Unlocking without force is refused, with force recorded.
	if err := bob.Unlock("main", false); !errors.Is(err, engine.ErrLockHeld) {
		t.Errorf("bob unlock without force: %v", err)
	}
	if err := bob.Unlock("main", true); err != nil {
		t.Fatalf("bob unlock --force: %v", err)
	}
	if _, l, _ := v.eng.Staged("main"); l != nil {
		t.Errorf("lock still held after force unlock: %+v", l)
	}
	audit, err := v.eng.Audit("main")
	if err != nil {
		t.Fatal(err)
	}
	last := audit[len(audit)-1]
	if last.Action != "force-unlock" || last.Actor != "bob" {
		t.Errorf("last audit record = %+v, want force-unlock by bob", last)
	}
	wantContains(t, "audit message", last.Message, "alice", "install foo")
	// Now bob can lock.
	if err := bob.Lock("main", "bob's change"); err != nil {
		t.Errorf("bob lock after breaking: %v", err)
	}
}

func TestUnlockWithStagedNeedsForce(t *testing.T) {
	v := newEnv(t)
	v.lock("main")
	v.stage("main", fileReq("/etc/motd", "hi\n"))
	err := v.eng.Unlock("main", false)
	if !errors.Is(err, engine.ErrUsage) {
		t.Fatalf("unlock with staged: %v, want ErrUsage", err)
	}
	wantContains(t, "error", err.Error(), "1 staged entries", "--force")
	if staged, l, _ := v.eng.Staged("main"); len(staged) != 1 || l == nil {
		t.Fatalf("refused unlock changed things: staged %d, lock %v", len(staged), l)
	}
	if err := v.eng.Unlock("main", true); err != nil {
		t.Fatal(err)
	}
	staged, l, _ := v.eng.Staged("main")
	if len(staged) != 0 || l != nil {
		t.Errorf("after unlock --force: staged %d, lock %v", len(staged), l)
	}
	audit, _ := v.eng.Audit("main")
	wantContains(t, "audit", audit[len(audit)-1].Message, "discarded 1 staged", "/etc/motd")
	// Plain unlock of an unlocked branch is a usage error.
	if err := v.eng.Unlock("main", false); !errors.Is(err, engine.ErrUsage) {
		t.Errorf("unlock of unlocked branch: %v", err)
	}
}

func TestStageRefusesBadInput(t *testing.T) {
	v := newEnv(t)
	v.lock("main")
	tests := []struct {
		name string
		req  engine.StageRequest
		want []string
	}{
		{"relative path", fileReq("etc/motd", "x"), []string{`"etc/motd" is relative`}},
		{"dot dot", fileReq("/etc/../shadow", "x"), []string{`"/etc/../shadow" contains ".."`}},
		{"proc", fileReq("/proc/x", "x"), []string{"under /proc", "kernel filesystem"}},
		{"sys", fileReq("/sys/x", "x"), []string{"under /sys"}},
		{"dev", fileReq("/dev/x", "x"), []string{"under /dev"}},
		{"template relative", tmplReq("motd", "x"), []string{"relative"}},
		{"template not utf-8", tmplReq("/etc/t", "caf\xe9 {{.X}}"), []string{"template /etc/t is not UTF-8 text"}},
		{"template with NUL", tmplReq("/etc/t", "a\x00b"), []string{"not UTF-8 text"}},
		{"template syntax", tmplReq("/etc/t", "line one\n{{.HOSTNAME"), []string{"/etc/t:2", "unclosed action"}},
		{"template unknown function", tmplReq("/etc/t", "{{nosuch .X}}"), []string{`function "nosuch" not defined`}},
		{"exec empty", execReq("   ", journal.Guard{}), []string{"exec needs a command"}},
		{"exec creates relative", execReq("make", journal.Guard{Creates: "tmp/x"}), []string{"--creates", "relative"}},
		{"mode out of range", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/x", Mode: 0o17777}, []string{"not a permission mode"}},
		{"owner with colon", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/x", Owner: "root:root"}, []string{"not a user or group name"}},
		{"unknown kind", engine.StageRequest{Kind: "symlink", Path: "/etc/x"}, []string{`unknown entry kind "symlink"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.eng.Stage("main", tt.req)
			if !errors.Is(err, engine.ErrUsage) {
				t.Fatalf("Stage: %v, want ErrUsage", err)
			}
			wantContains(t, "error", err.Error(), tt.want...)
		})
	}
	if staged, _, _ := v.eng.Staged("main"); len(staged) != 0 {
		t.Errorf("refused entries were staged: %+v", staged)
	}
}

func TestStageAcceptsAndDefaults(t *testing.T) {
	v := newEnv(t)
	v.lock("main")
	bin := "\x00\x01\x02\xff\xfe binary"
	ent, err := v.eng.Stage("main", fileReq("/usr/local/bin/tool", bin))
	if err != nil {
		t.Fatalf("binary file refused: %v", err)
	}
	if ent.Mode != 0o644 || ent.Owner != "root" || ent.Group != "root" || ent.Size != int64(len(bin)) || ent.Blob != shaHex([]byte(bin)) {
		t.Errorf("defaults: %+v", ent)
	}
	if ent.Author != "alice" || ent.Message != "test change" {
		t.Errorf("author/message from the lock: %q %q", ent.Author, ent.Message)
	}
	if _, err := v.eng.Stage("main", execReq("make install", journal.Guard{Creates: "/opt/x", Unless: "test -e /opt/y"})); err != nil {
		t.Fatal(err)
	}
	if _, err := v.eng.Stage("main", rebootReq()); err != nil {
		t.Fatal(err)
	}
	staged, _, _ := v.eng.Staged("main")
	if len(staged) != 3 || staged[0].Kind != journal.KindFile || staged[1].Guard.Creates != "/opt/x" || staged[2].Kind != journal.KindReboot {
		t.Errorf("staged = %+v", staged)
	}
	// Drop removes one by the seq approve would give it.
	if err := v.eng.Drop("main", 2); err != nil {
		t.Fatal(err)
	}
	if err := v.eng.Drop("main", 5); !errors.Is(err, engine.ErrUsage) {
		t.Errorf("drop seq 5 of 1–2: %v", err)
	}
	staged, _, _ = v.eng.Staged("main")
	if len(staged) != 2 || staged[1].Kind != journal.KindReboot {
		t.Errorf("after drop: %+v", staged)
	}
}

func TestStageWithoutLock(t *testing.T) {
	v := newEnv(t)
	v.lock("main")
	if err := v.eng.Unlock("main", false); err != nil {
		t.Fatal(err)
	}
	_, err := v.eng.Stage("main", fileReq("/etc/motd", "x"))
	if !errors.Is(err, engine.ErrNotLocked) {
		t.Fatalf("stage without lock: %v, want ErrNotLocked", err)
	}
	wantContains(t, "error", err.Error(), "needs your lock", "lock main")
}

func TestReadSource(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(big, engine.MaxContent+1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	if b, err := engine.ReadSource(good); err != nil || string(b) != "content\n" {
		t.Errorf("ReadSource(good) = %q, %v", b, err)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"missing", filepath.Join(dir, "nope"), []string{"local file", "nope does not exist"}},
		{"directory", dir, []string{"is a directory", "one file at a time"}},
		{"too large", big, []string{"16777217 bytes", "limit is 16 MiB"}},
		{"device", "/dev/null", []string{"not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := engine.ReadSource(tt.path)
			if !errors.Is(err, engine.ErrUsage) {
				t.Fatalf("ReadSource: %v, want ErrUsage", err)
			}
			wantContains(t, "error", err.Error(), tt.want...)
		})
	}
	// The same limit holds for content staged directly.
	v := newEnv(t)
	v.lock("main")
	_, err = v.eng.Stage("main", engine.StageRequest{Kind: journal.KindFile, Path: "/etc/big", Content: make([]byte, engine.MaxContent+1)})
	if !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), "limit is 16 MiB") {
		t.Errorf("oversized content: %v", err)
	}
}

func TestLockValidation(t *testing.T) {
	v := newEnv(t)
	for _, tc := range []struct{ branch, msg, want string }{
		{"main", "  ", "needs a message"},
		{"-bad", "x", "branch name"},
		{"a/b", "x", "branch name"},
	} {
		err := v.eng.Lock(tc.branch, tc.msg)
		if !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Lock(%q, %q) = %v, want %q", tc.branch, tc.msg, err, tc.want)
		}
	}
	// Relocking your own lock updates the message.
	v.lock("main")
	if err := v.eng.Lock("main", "new message"); err != nil {
		t.Fatal(err)
	}
	if _, l, _ := v.eng.Staged("main"); l == nil || l.Message != "new message" || l.Holder != "alice" {
		t.Errorf("lock = %+v", l)
	}
}

// TestStagedNumberedBySeq: staged entries carry the seq approve will give
// them — in Stage's answer, Staged, the journal view and the plan — drop
// takes that seq, and a seq that is not staged is refused naming the
// staged range.
func TestStagedNumberedBySeq(t *testing.T) {
	v := newEnv(t)
	v.addHost("fd00::1", "web1")
	v.commit("main", fileReq("/etc/a", "a\n"), fileReq("/etc/b", "b\n")) // head 2
	v.lock("main")
	for i, p := range []string{"/etc/c", "/etc/d", "/etc/e"} {
		e, err := v.eng.Stage("main", fileReq(p, p+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != uint64(3+i) {
			t.Errorf("Stage of %s answered seq %d, want %d", p, e.Seq, 3+i)
		}
	}
	seqs := func() []uint64 {
		staged, _, err := v.eng.Staged("main")
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, e := range staged {
			out = append(out, e.Seq)
		}
		return out
	}
	if got := seqs(); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Errorf("Staged seqs %v, want [3 4 5]", got)
	}
	jv, err := v.eng.Log("main")
	if err != nil {
		t.Fatal(err)
	}
	if len(jv.Staged) != 3 || jv.Staged[0].Seq != 3 || jv.Staged[2].Seq != 5 {
		t.Errorf("the journal view numbers staged entries %+v", jv.Staged)
	}
	p := v.plan(engine.PlanRequest{Branch: "main"})
	if r := engine.GroupPlan(p); len(r.Entries) != 5 || r.Entries[3].Seq != 4 || r.Entries[3].Summary != "/etc/d" {
		t.Errorf("the review numbers them %+v", r.Entries)
	}
	for _, bad := range []uint64{1, 2, 6, 99} {
		err := v.eng.Drop("main", bad)
		if !errors.Is(err, engine.ErrUsage) {
			t.Fatalf("drop %d: %v, want a usage error", bad, err)
		}
		wantContains(t, "error", err.Error(), fmt.Sprintf("seq %d is not a staged entry of main", bad), "the staged entries are seq 3–5")
	}
	if err := v.eng.Drop("main", 4); err != nil { // /etc/d
		t.Fatal(err)
	}
	if got := seqs(); !slices.Equal(got, []uint64{3, 4}) {
		t.Errorf("after drop 4: seqs %v, want [3 4]", got)
	}
	staged, _, _ := v.eng.Staged("main")
	if staged[1].Path != "/etc/e" {
		t.Errorf("drop 4 removed the wrong entry: %+v", staged)
	}
	p = v.approve(v.plan(engine.PlanRequest{Branch: "main"}))
	if j := v.journal("main"); len(j) != 4 || j[3].Seq != 4 || j[3].Path != "/etc/e" {
		t.Errorf("approve did not commit them as numbered: %+v", j)
	}
	v.lock("main")
	err = v.eng.Drop("main", 5)
	wantContains(t, "error", fmt.Sprint(err), "nothing is staged on main")
}

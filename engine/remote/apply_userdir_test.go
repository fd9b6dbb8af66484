package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyUserDirEntries: an entry allowed into a directory others can
// write goes through ufile as a run of its own, between ordinary runs,
// with its mode; as a repair it leaves the position alone; an entry not
// allowed there is refused, naming the directory and the flag. Nothing
// temporary is left behind.
func TestApplyUserDirEntries(t *testing.T) {
	f := newFixture(t)
	shared := filepath.Join(f.dir, "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	e1 := f.file(1, "etc/a", "a\n")
	e2 := f.file(2, "shared/tool", "#!/bin/sh\n")
	e2.Mode, e2.AllowUserDir = 0o4755, true
	e3 := f.file(3, "etc/b", "b\n")
	res := f.apply(t, &Bundle{Entries: []BundleEntry{e1, e2, e3}})
	if res.Stale != "" || res.Position != 3 || len(res.Entries) != 3 {
		t.Fatalf("result = %+v", res)
	}
	for _, r := range res.Entries {
		if r.Result != "ok" {
			t.Fatalf("entry %d: %+v", r.Seq, r)
		}
	}
	if fi, err := os.Stat(e2.Path); err != nil || fi.Mode().Perm() != 0o755 || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("the allowed entry: %v %v", fi.Mode(), err)
	}

	// A repair of it: written again, the position stays.
	if err := os.WriteFile(e2.Path, []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := f.state(t)
	rep := e2
	rep.Repair = true
	res = f.apply(t, &Bundle{ExpectBranch: "main", ExpectPosition: st.Position, ExpectHash: st.Hash, Entries: []BundleEntry{rep}})
	if res.Position != 3 || len(res.Entries) != 1 || res.Entries[0].Result != "ok" {
		t.Fatalf("repair: %+v", res)
	}
	if b, _ := os.ReadFile(e2.Path); string(b) != "#!/bin/sh\n" {
		t.Fatalf("after the repair: %q", b)
	}

	// Not allowed: refused.
	e4 := f.file(4, "shared/other", "x\n")
	res = f.apply(t, &Bundle{ExpectBranch: "main", ExpectPosition: 3, ExpectHash: e3.Hash, Entries: []BundleEntry{e4}})
	if len(res.Entries) != 1 || res.Entries[0].Result != "failed" || !strings.Contains(res.Entries[0].Output, shared+" can be changed by a user other than root") ||
		!strings.Contains(res.Entries[0].Output, "--allow-user-dir") {
		t.Fatalf("an entry not allowed into %s: %+v", shared, res.Entries)
	}
	if _, err := os.Stat(e4.Path); err == nil {
		t.Fatal("the refused entry was written")
	}
	_ = filepath.Walk(f.dir, func(p string, info os.FileInfo, err error) error {
		if strings.Contains(filepath.Base(p), ".discoterm.") {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

package engine_test

import (
	"strings"
	"testing"
)

// TestEntryContent: an entry's content reads back, with a diff against
// the branch's previous entry for the same path; a staged entry is
// compared with the last committed one.
func TestEntryContent(t *testing.T) {
	v := newEnv(t)
	v.addHosts("h", 1)
	v.commit("main", fileReq("/etc/motd", "one\ntwo\n"), fileReq("/etc/other", "x\n"), fileReq("/etc/motd", "one\n2\n"))
	es := v.journal("main")
	c, err := v.eng.Content("main", es[2])
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Content) != "one\n2\n" || c.PrevSeq != 1 || !strings.Contains(c.Diff, "-two\n+2\n") {
		t.Fatalf("seq 3: %+v", c)
	}
	if c, err = v.eng.Content("main", es[0]); err != nil || c.Diff != "" || c.PrevSeq != 0 {
		t.Fatalf("seq 1 has nothing before it: %+v %v", c, err)
	}
	v.lock("main")
	v.stage("main", fileReq("/etc/motd", "three\n"))
	jv, err := v.eng.Log("main")
	if err != nil {
		t.Fatal(err)
	}
	if c, err = v.eng.Content("main", jv.Staged[0]); err != nil || c.PrevSeq != 3 || !strings.Contains(c.Diff, "+three") {
		t.Fatalf("staged: %+v %v", c, err)
	}
	noBlob := es[0]
	noBlob.Blob = ""
	if _, err := v.eng.Content("main", noBlob); err == nil {
		t.Fatal("an entry without content read back something")
	}
}

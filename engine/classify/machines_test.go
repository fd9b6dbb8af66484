package classify

import (
	"strings"
	"testing"
)

// TestAddMachine: a machine file's branch is the host's BRANCH, found by
// the MAC bound to its key; a mac: stanza that says another BRANCH for
// that MAC is refused, both places named; one that agrees (or says
// nothing of BRANCH) is fine.
func TestAddMachine(t *testing.T) {
	cfg, err := Parse("main.cf", strings.NewReader("DEFAULT\n    BRANCH = main\nmac:52:54:00:00:00:07\n    ROLE = web\nmac:52:54:00:00:00:08\n    BRANCH = db\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.AddMachine("52:54:00:00:00:07", "web", "machines/web7.machine"); err != nil {
		t.Fatal(err)
	}
	c := cfg.ClassifyHost(Host{Name: "web7", MAC: "52-54-00-00-00-07"})
	if c.Vars["BRANCH"] != "web" || c.From["BRANCH"] != "machines/web7.machine" || c.Vars["ROLE"] != "web" {
		t.Errorf("web7: %+v", c)
	}
	if c := cfg.ClassifyHost(Host{Name: "other"}); c.Vars["BRANCH"] != "main" {
		t.Errorf("other: %+v", c)
	}
	err = cfg.AddMachine("52:54:00:00:00:08", "web", "machines/db8.machine")
	if err == nil || !strings.Contains(err.Error(), "machines/db8.machine puts machine 52:54:00:00:00:08 on branch web but main.cf:6 (stanza mac:52:54:00:00:00:08) says BRANCH = db") {
		t.Errorf("conflict: %v", err)
	}
	if err := cfg.AddMachine("52:54:00:00:00:08", "db", "machines/db8.machine"); err != nil {
		t.Errorf("agreeing: %v", err)
	}
	var none Config
	if err := none.AddMachine("52:54:00:00:00:09", "lab", "m"); err != nil || none.ClassifyHost(Host{MAC: "52:54:00:00:00:09"}).Vars["BRANCH"] != "lab" {
		t.Errorf("without a classification file: %v", err)
	}
}

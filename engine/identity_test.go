package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
)

// TestRenamedHostIsFlaggedNotReclassified: a trusted host that starts
// calling itself db1 keeps the name it was trusted under, and with it its
// classification; the rename is a warning.
func TestRenamedHostIsFlaggedNotReclassified(t *testing.T) {
	v := newEnv(t)
	v.writeClass("DEFAULT:\n    BRANCH = main\n    ROLE = web\ndb1:\n    ROLE = db\n")
	v.addHost("10.0.0.1", "web01")
	v.fr.with("10.0.0.1", func(h *fakeHost) { h.facts.Hostname = "db1" })
	if _, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	h := v.hostView("web01")
	if h.Vars["ROLE"] != "web" {
		t.Errorf("a host that renamed itself was re-classified: ROLE=%s", h.Vars["ROLE"])
	}
	if len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "calls itself db1 now (was web01") {
		t.Errorf("warnings: %q", h.Warnings)
	}
	// The operator's --name wins over what the host says.
	if _, err := v.eng.AddHost(context.Background(), engine.AddHostRequest{Addr: "10.0.0.1", Name: "frontend1"}); err != nil {
		t.Fatal(err)
	}
	if h := v.hostView("frontend1"); h.Vars["ROLE"] != "web" || h.HostnameNow != "db1" {
		t.Errorf("after add-host --name: %+v", h)
	}
}

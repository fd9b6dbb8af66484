package engine_test

import (
	"os"
	"os/user"
	"testing"

	"github.com/discoterm/discoterm/engine"
)

// TestLocalOperatorCannotImpersonate: a name given with --operator is
// recorded with the Unix user who gave it.
func TestLocalOperatorCannotImpersonate(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	host, _ := os.Hostname()
	self := u.Username + "@" + host
	for claimed, want := range map[string]string{
		"":            self,
		u.Username:    self,
		self:          self,
		"alice":       "alice (via " + u.Username + ")",
		"alice@jump1": "alice@jump1 (via " + u.Username + ")",
		" bob ":       "bob (via " + u.Username + ")",
	} {
		if got := engine.LocalOperator(claimed); got != want {
			t.Errorf("LocalOperator(%q) = %q, want %q", claimed, got, want)
		}
	}
	t.Setenv("DISCOTERM_OPERATOR", "carol")
	if got := engine.DefaultOperator(); got != "carol (via "+u.Username+")" {
		t.Errorf("DefaultOperator with $DISCOTERM_OPERATOR=carol: %q", got)
	}
}

package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/discoterm/discoterm/engine"
)

// The sandbox caps are options of both faces (global flags), parsed with
// units and refused out of bounds with what would do.
func TestNoopFlags(t *testing.T) {
	inv, err := parseArgs([]string{"--batch", "--noop-space", "64M", "--noop-output", "512K", "--noop-procs", "100", "--noop-timeout", "5s", "plan"})
	if err != nil {
		t.Fatal(err)
	}
	if inv.noopSpace != 64<<20 || inv.noopOutput != 512<<10 || inv.noopProcs != 100 || inv.noop.Seconds() != 5 {
		t.Fatalf("%+v", inv.globals)
	}
	// The console takes them too.
	if inv, err := parseArgs([]string{"--noop-space", "1G"}); err != nil || inv.noopSpace != 1<<30 {
		t.Fatalf("console: %v %+v", err, inv)
	}
	// Defaults.
	inv, err = parseArgs([]string{"--batch", "plan"})
	if err != nil || inv.noopSpace != 256<<20 || inv.noopOutput != 1<<20 || inv.noopProcs != 512 {
		t.Fatalf("defaults: %v %+v", err, inv)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--noop-space", "lots"}, "not a size"},
		{[]string{"--noop-space", "100K"}, "--noop-space 100K is out of bounds: give a value from 1M to 64G"},
		{[]string{"--noop-output", "0"}, "--noop-output 0 is out of bounds"},
		{[]string{"--noop-procs", "3"}, "--noop-procs 3 is out of bounds: give a value from 16 to 65536"},
		{[]string{"--noop-procs", "many"}, "--noop-procs"},
		{[]string{"--noop-timeout", "0s"}, "--noop-timeout 0s is out of bounds"},
		{[]string{"--noop-timeout", "-1s"}, "out of bounds"},
	} {
		_, err := parseArgs(append([]string{"--batch"}, append(c.args, "plan")...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.args, err, c.want)
		}
		if err != nil && !errors.Is(err, engine.ErrUsage) && !strings.Contains(err.Error(), "not a size") {
			t.Errorf("%v: %v is not a usage error", c.args, err)
		}
	}
}

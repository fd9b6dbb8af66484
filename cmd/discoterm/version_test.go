package main

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: the real binary answers --version (and -version) with its
// version and the Go release it was built with, and starts nothing.
func TestVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-version"} {
		out, err := exec.Command(binary, flag).Output()
		if err != nil {
			t.Fatalf("%s: %v", flag, err)
		}
		if s := string(out); !strings.HasPrefix(s, "discoterm ") || !strings.Contains(s, runtime.Version()) {
			t.Errorf("%s printed %q", flag, s)
		}
	}
	old := version
	defer func() { version = old }()
	version = "v1.2.3-4-gabcdef"
	if s := versionText(); !strings.HasPrefix(s, "discoterm v1.2.3-4-gabcdef (") {
		t.Errorf("with -X main.version: %q", s)
	}
}

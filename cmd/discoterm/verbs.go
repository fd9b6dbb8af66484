package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/discoterm/discoterm/engine/verbs"
)

// version is set by the Makefile (-ldflags "-X main.version=…"); when
// empty, the module and VCS data the Go toolchain embedded are used.
var version string

// versionText is `discoterm --version`.
func versionText() string {
	v, extra := version, []string(nil)
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if modified == "true" {
				rev += ", modified"
			}
			extra = append(extra, "commit "+rev)
		}
		extra = append(extra, bi.GoVersion)
	}
	if v == "" {
		v = "(devel)"
	}
	return fmt.Sprintf("discoterm %s (%s)\n", v, strings.Join(extra, ", "))
}

// usageText is `discoterm --help` and `--batch help`: the verb table, the
// global flags and the exit codes.
func usageText(t *verbs.Table) string {
	var b strings.Builder
	b.WriteString(`discoterm — keep a Linux fleet in a known state.

  discoterm [flags]                 the terminal UI
  discoterm --batch VERB [args]     one verb, for scripts (text, or --json lines)
  discoterm --batch help VERB       one verb's arguments and flags
  discoterm --version

`)
	b.WriteString(t.Text())
	b.WriteString(`Flags go anywhere before "--" (an exec command starts at its first word that is not a flag).

Global flags:
  --store PATH  --class FILE  --known-hosts FILE  --accept-new  --identity FILE
  --ssh-config FILE  --operator NAME  --parallel N  --timeout DUR  --state-dir DIR
  --json  --iface IF
Console only:  --branch NAME  --theme NAME|FILE  --no-scan  --metrics-listen ADDR

Exit codes:
  0 ok   1 error   2 usage   3 some hosts failed   4 lock held by someone else
  5 stale plan (re-plan)   6 outside the maintenance windows (up --now)   130 interrupted
`)
	return b.String()
}

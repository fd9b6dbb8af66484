package verbs

import (
	"strconv"
	"strings"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
)

// interimKinds declare the staging verbs of the four kinds the engine has
// until their registrations land in engine/kinds; allKinds prefers a
// registered kind of the same name, so this file is the only place that
// changes when they do (it can then be deleted).
var interimKinds = []kinds.Kind{
	interimFile{kind: journal.KindFile, verb: "snap", help: "stage a snapshot of a file"},
	interimFile{kind: journal.KindTemplate, verb: "template", help: "stage a Go text/template rendered per host"},
	interimExec{},
	interimReboot{},
}

var fileFlags = []kinds.Flag{
	{Name: "to", Value: "PATH", Help: "absolute target path on the hosts"},
	{Name: "mode", Value: "MODE", Help: "permission bits in octal (default 0644)"},
	{Name: "owner", Value: "USER", Help: "owner (default root)"},
	{Name: "group", Value: "GROUP", Help: "group (default root)"},
}

type interimFile struct {
	kind       journal.Kind
	verb, help string
}

func (k interimFile) Name() journal.Kind { return k.kind }

func (k interimFile) Spec() kinds.Spec {
	return kinds.Spec{Verb: k.verb, Args: "LOCALFILE", Help: k.help, Flags: fileFlags, MinArgs: 1, MaxArgs: 1}
}

func (k interimFile) Request(in kinds.Input) (kinds.Request, error) {
	to := in.Flags["to"]
	if to == "" {
		return kinds.Request{}, usagef("%s needs --to PATH, the absolute path on the hosts", k.verb)
	}
	if err := journal.ValidTargetPath(to); err != nil {
		return kinds.Request{}, usagef("--to %q: %v", to, err)
	}
	var mode uint64
	if s := in.Flags["mode"]; s != "" {
		m, err := strconv.ParseUint(s, 8, 32)
		if err != nil || m > 0o7777 {
			return kinds.Request{}, usagef("--mode %q is not an octal permission mode such as 0644", s)
		}
		mode = m
	}
	content, _, err := in.ReadFile(in.Args[0])
	if err != nil {
		return kinds.Request{}, err
	}
	return kinds.Request{Kind: k.kind, Content: content, Source: in.Args[0], Path: to, Mode: uint32(mode),
		Owner: in.Flags["owner"], Group: in.Flags["group"]}, nil
}

type interimExec struct{}

func (interimExec) Name() journal.Kind { return journal.KindExec }

func (interimExec) Spec() kinds.Spec {
	return kinds.Spec{Verb: "exec", Help: "stage a shell command, run by sh on each host", MaxArgs: -1, Rest: true,
		Flags: []kinds.Flag{{Name: "creates", Value: "PATH", Help: "run only if this path is absent"},
			{Name: "unless", Value: "CMD", Help: "run only if this shell command fails"}}}
}

func (interimExec) Request(in kinds.Input) (kinds.Request, error) {
	cmd := strings.Join(in.Args, " ")
	if strings.TrimSpace(cmd) == "" {
		return kinds.Request{}, usagef("exec needs a command: exec [--creates PATH] [--unless CMD] [--] COMMAND…")
	}
	g := journal.Guard{Creates: in.Flags["creates"], Unless: in.Flags["unless"]}
	if g.Creates != "" {
		if err := journal.ValidTargetPath(g.Creates); err != nil {
			return kinds.Request{}, usagef("--creates %q: %v", g.Creates, err)
		}
	}
	return kinds.Request{Kind: journal.KindExec, Command: cmd, Guard: g}, nil
}

type interimReboot struct{}

func (interimReboot) Name() journal.Kind { return journal.KindReboot }

func (interimReboot) Spec() kinds.Spec {
	return kinds.Spec{Verb: "reboot", Help: "stage a reboot (a push stops there unless --allow-reboot)"}
}

func (interimReboot) Request(kinds.Input) (kinds.Request, error) {
	return kinds.Request{Kind: journal.KindReboot}, nil
}

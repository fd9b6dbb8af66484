package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/discoterm/discoterm/store/natstest"
)

// team is `make demo-team`: the practice fleet, a NATS server with
// JetStream in this process, the demo store copied into it, and two
// operators' consoles side by side in tmux on that one shared store. It
// returns when the tmux session ends, stopping the server.
func (d *demo) team(args []string) error {
	if _, err := exec.LookPath("tmux"); err != nil {
		return fmt.Errorf("demo-team needs tmux (apt-get install tmux)")
	}
	if err := d.up(); err != nil {
		return err
	}
	natsDir := filepath.Join(d.dir, "nats")
	// A fresh server each time: the demo's history is copied in from the
	// local demo store, so both consoles start from what `make demo` shows.
	if err := os.RemoveAll(natsDir); err != nil {
		return err
	}
	srv, err := natstest.Run(natsDir, 0)
	if err != nil {
		return fmt.Errorf("starting the NATS server: %w", err)
	}
	defer srv.Shutdown()
	url := srv.ClientURL() + "/demo"
	local := filepath.Join(d.dir, "store.db")
	if out, err := d.batch("store", "migrate", "--from", local, "--to", url); err != nil {
		return err
	} else {
		fmt.Print(out)
	}
	session := fmt.Sprintf("discoterm-team-%d", os.Getpid())
	console := func(operator string) string {
		flags := d.flags()
		for i := range flags {
			switch {
			case flags[i] == "--store":
				flags[i+1] = url
			case flags[i] == "--operator":
				flags[i+1] = operator
			}
		}
		q := []string{shellQuote(d.bin)}
		for _, a := range append(flags, args...) {
			q = append(q, shellQuote(a))
		}
		return fmt.Sprintf("cd %s && HOME=%s SSH_AUTH_SOCK= %s; echo '(console ended; Enter closes the pane)'; read x",
			shellQuote(d.dir), shellQuote(d.dir), strings.Join(q, " "))
	}
	for _, c := range [][]string{
		{"new-session", "-d", "-s", session, "-x", "240", "-y", "50", console("alice@jump1")},
		{"split-window", "-h", "-t", session, console("bob@jump2")},
		{"set-option", "-t", session, "mouse", "on"},
	} {
		if out, err := exec.Command("tmux", c...).CombinedOutput(); err != nil {
			return fmt.Errorf("tmux %s: %v %s", c[0], err, out)
		}
	}
	fmt.Printf("NATS store %s; two consoles in tmux session %s (alice left, bob right); leaving tmux ends the demo\n", url, session)
	attach := exec.Command("tmux", "attach", "-t", session)
	attach.Stdin, attach.Stdout, attach.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = attach.Run()
	_ = exec.Command("tmux", "kill-session", "-t", session).Run()
	return err
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

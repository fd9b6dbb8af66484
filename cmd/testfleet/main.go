// Command testfleet makes and removes fleets of test hosts (network
// namespaces with real sshd on private copy-on-write views of the machine)
// that outlive the command, for `make demo` and screenshots.
//
//	testfleet up -n 5 [-dir DIR] [-prefix node] [-stable-privacy 2,3] [-json]
//	testfleet down -dir DIR | -all [-force]
//	testfleet status [-dir DIR] [-json]
//	testfleet sweep
//
// Needs root. See package github.com/discoterm/discoterm/engine/remote/testfleet.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/discoterm/discoterm/engine/remote/testfleet"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up(os.Args[2:])
	case "down":
		err = down(os.Args[2:])
	case "status":
		err = status(os.Args[2:])
	case "sweep":
		err = testfleet.Sweep()
	case "-h", "-help", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "testfleet: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testfleet:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  testfleet up -n N [-dir DIR] [-prefix node] [-stable-privacy 2,3] [-json]
        start a fleet that persists after the command; writes DIR/fleet.json
  testfleet down -dir DIR | -all [-force]
        remove a fleet; -all removes every detached fleet and every leftover
        (-force also fleets of running processes, e.g. tests)
  testfleet status [-dir DIR] [-json]
        list registered fleets, or describe one
  testfleet sweep
        remove leftovers of fleets whose owner died
`)
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	n := fs.Int("n", 3, "number of hosts")
	dir := fs.String("dir", "", "fleet directory (default: a new temporary directory)")
	prefix := fs.String("prefix", "node", "hostname prefix")
	stable := fs.String("stable-privacy", "", "comma-separated host numbers with stable-privacy link-local addresses")
	asJSON := fs.Bool("json", false, "print fleet.json instead of the summary")
	fs.Parse(args)
	var sp []int
	for _, s := range strings.Split(*stable, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("-stable-privacy: %v", err)
		}
		sp = append(sp, v)
	}
	if r := testfleet.Usable(); r != "" {
		return errors.New(r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	f, err := testfleet.Start(ctx, testfleet.Options{N: *n, Dir: *dir, NamePrefix: *prefix, StablePrivacy: sp, Detach: true})
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := os.ReadFile(filepath.Join(f.Dir, "fleet.json"))
		if err != nil {
			return err
		}
		os.Stdout.Write(b)
		return nil
	}
	summary(f)
	fmt.Printf("started in %v; remove with: testfleet down -dir %s\n", time.Since(t0).Round(time.Millisecond), f.Dir)
	return nil
}

func summary(f *testfleet.Fleet) {
	fmt.Printf("fleet %s  dir %s\n", f.ID, f.Dir)
	fmt.Printf("bridge %s  %s  %s  prefix %s\n", f.Bridge, f.BridgeULA, f.BridgeLinkLocal, f.Prefix)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tULA\tLINK-LOCAL\tMAC\tNETNS\tSSHD")
	for _, h := range f.Hosts {
		ll := h.LinkLocal
		if h.StablePrivacy {
			ll += " (stable-privacy)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", h.Name, h.ULA, ll, h.MAC, h.Netns, h.SSHDPid)
	}
	tw.Flush()
	fmt.Printf("client key   %s\n", f.ClientKey)
	if f.KnownHosts != "" {
		fmt.Printf("known_hosts  %s\n", f.KnownHosts)
	}
	fmt.Printf("ssh config   %s   (ssh -F %s %s hostname)\n", f.SSHConfig, f.SSHConfig, f.Hosts[0].Name)
}

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	dir := fs.String("dir", "", "fleet directory")
	all := fs.Bool("all", false, "remove every detached fleet and every leftover")
	force := fs.Bool("force", false, "with -all: also fleets owned by running processes")
	fs.Parse(args)
	switch {
	case *dir != "" && *all:
		return errors.New("-dir and -all exclude each other")
	case *dir != "":
		f, err := testfleet.Load(*dir)
		if err != nil {
			return err
		}
		return f.Stop()
	case *all:
		return testfleet.DownAll(*force)
	default:
		return errors.New("down needs -dir DIR or -all")
	}
}

func status(args []string) error {
	fs := flag.NewFlagSet("status", flag.ExitOnError)
	dir := fs.String("dir", "", "describe the fleet in DIR")
	asJSON := fs.Bool("json", false, "JSON output")
	fs.Parse(args)
	if *dir != "" {
		f, err := testfleet.Load(*dir)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(os.Stdout).Encode(f)
		}
		summary(f)
		return nil
	}
	list, err := testfleet.List()
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(list)
	}
	if len(list) == 0 {
		fmt.Println("no fleets")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOSTS\tSTATE\tOWNER\tDIR")
	for _, e := range list {
		state := "up"
		switch {
		case !e.Ready && e.Alive:
			state = "starting"
		case !e.Bridge:
			state = "broken"
		case !e.Alive && !e.Detached:
			state = "leftover"
		}
		owner := "detached"
		if !e.Detached {
			owner = "pid " + strconv.Itoa(e.OwnerPID)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", e.ID, e.Hosts, state, owner, e.Dir)
	}
	return tw.Flush()
}

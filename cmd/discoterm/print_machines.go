package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/discoterm/discoterm/engine/machines"
	"github.com/discoterm/discoterm/engine/textsafe"
	"github.com/discoterm/discoterm/engine/verbs"
)

// machineJSON is one machine as --json prints it ("type":"machine").
type machineJSON struct {
	Action string `json:"action"`
	MAC    string `json:"mac"`
	Name   string `json:"name"`
	IP     string `json:"ip,omitempty"`
	Branch string `json:"branch,omitempty"`
	Boot   string `json:"boot,omitempty"`
	File   string `json:"file"`
}

func printMachines(out printer, r verbs.MachineList, json bool) {
	if jp, ok := out.(*jsonPrinter); ok {
		for _, m := range r.Machines {
			jp.emit("machine", machineJSON{Action: r.Action, MAC: m.MAC.String(), Name: m.Name, IP: ipOr(m, ""),
				Branch: m.Branch, Boot: m.Boot, File: m.File})
		}
		if len(r.Machines) == 0 {
			jp.ok("machine", r.Summary())
		}
		return
	}
	tp, ok := out.(*textPrinter)
	if !ok || r.Action != "list" || len(r.Machines) == 0 {
		out.ok("machine", r.Summary())
		return
	}
	w := tabwriter.NewWriter(tp.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tMAC\tIP\tBRANCH\tBOOT")
	for _, m := range r.Machines {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", textsafe.Line(m.Name), m.MAC, ipOr(m, "-"), dash(textsafe.Line(m.Branch)), dash(textsafe.Line(m.Boot)))
	}
	w.Flush()
}

func ipOr(m machines.Machine, none string) string {
	if m.IP.IsValid() {
		return m.IP.String()
	}
	return none
}

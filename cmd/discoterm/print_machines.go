package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/discoterm/discoterm/engine"
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
	// The stage (machine list): see engine.MachineView.
	Stage     string `json:"stage,omitempty"`
	StageText string `json:"stage_text,omitempty"`
	Detail    string `json:"detail,omitempty"`
	HostID    string `json:"host_id,omitempty"`
	Position  uint64 `json:"position,omitempty"`
	Head      uint64 `json:"head,omitempty"`
}

func printMachines(out printer, r verbs.MachineList, json bool) {
	if jp, ok := out.(*jsonPrinter); ok {
		for i, m := range r.Machines {
			j := machineJSON{Action: r.Action, MAC: m.MAC.String(), Name: m.Name, IP: ipOr(m, ""),
				Branch: m.Branch, Boot: m.Boot, File: m.File}
			if v, ok := viewOf(r, i); ok {
				j.Stage, j.StageText, j.Detail, j.HostID, j.Position, j.Head = v.Stage, v.Text, v.Detail, v.HostID, v.Position, v.Head
			}
			jp.emit("machine", j)
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
	fmt.Fprintln(w, "NAME\tMAC\tIP\tBRANCH\tBOOT\tSTAGE")
	var details []string
	for i, m := range r.Machines {
		stage := "-"
		if v, ok := viewOf(r, i); ok {
			stage = v.Text
			if v.Detail != "" {
				details = append(details, m.Name+": "+textsafe.Line(v.Detail))
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", textsafe.Line(m.Name), m.MAC, ipOr(m, "-"), dash(textsafe.Line(m.Branch)), dash(textsafe.Line(m.Boot)), stage)
	}
	w.Flush()
	for _, d := range details {
		fmt.Fprintln(tp.w, d)
	}
}

// viewOf is the stage of the list's i-th machine, when the list has them.
func viewOf(r verbs.MachineList, i int) (engine.MachineView, bool) {
	if i < len(r.Views) && r.Views[i].Machine.Name == r.Machines[i].Name {
		return r.Views[i], true
	}
	return engine.MachineView{}, false
}

func ipOr(m machines.Machine, none string) string {
	if m.IP.IsValid() {
		return m.IP.String()
	}
	return none
}

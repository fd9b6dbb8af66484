package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// KeyMap is every key the UI answers to, grouped the way help shows them.
// Help is generated from it, so the two cannot drift apart.
type KeyMap struct {
	// Global: work in every pane.
	Quit, Help, Command, Filter, Back        key.Binding
	NextView, PrevView                       key.Binding
	Hosts, Journal, Review, Progress, Events key.Binding
	DriftView, MachinesView                  key.Binding
	Branch, Lock, Unlock, Stage              key.Binding
	Plan, Approve, Push                      key.Binding
	CheckDrift                               key.Binding

	// Moving in lists.
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding

	// Hosts pane.
	Mark, MarkAll, Sort, SortBy, Reverse, Trust, Details key.Binding
	// Journal pane and activity.
	Drop, Open key.Binding
	// Plan review.
	NextEntry, PrevEntry, Fold key.Binding
	// Drift view.
	Repair, RepairAll, Adopt key.Binding
	// Push progress.
	StopPush, ContinueWave key.Binding
	// Activity.
	Level key.Binding
	// Machines (netboot).
	StartBoot, StopBoot, History key.Binding

	// why holds, for each disabled binding, the reason help and the status
	// line give when the key is pressed anyway.
	why map[*key.Binding]string
}

// sortKeys sort the hosts by a column, k9s-style (Shift+letter); sortCol
// says which column each one picks.
var (
	sortKeys = []string{"S", "N", "A", "M", "B", "I", "F", "E", "R"}
	sortCol  = map[string]int{"S": hcState, "N": hcName, "A": hcAddr, "M": hcMAC, "B": hcBranch, "I": hcPos, "F": hcDrift, "E": hcSeen, "R": hcResult}
)

func bind(help, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

// DefaultKeyMap builds the key map.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		Quit:         bind("q", "quit", "q"),
		Help:         bind("?", "help", "?"),
		Command:      bind(":", "command", ":"),
		Filter:       bind("/", "filter", "/"),
		Back:         bind("esc", "back / clear filter", "esc", "ctrl+c"),
		NextView:     bind("tab", "next view", "tab"),
		PrevView:     bind("shift+tab", "previous view", "shift+tab"),
		Hosts:        bind("1", "hosts", "1"),
		Journal:      bind("2", "journal", "2"),
		Review:       bind("3", "plan review", "3"),
		Progress:     bind("4", "push progress", "4"),
		Events:       bind("5", "activity", "5"),
		DriftView:    bind("6", "drift", "6"),
		MachinesView: bind("7", "machines (netboot)", "7"),
		Branch:       bind("b", "next branch", "b"),
		Lock:         bind("L", "lock branch", "L"),
		Unlock:       bind("U", "unlock branch", "U"),
		Stage:        bind("s", "stage a change", "s"),
		Plan:         bind("p", "plan (dry-run)", "p"),
		Approve:      bind("a", "approve plan", "a"),
		Push:         bind("P", "push plan", "P"),
		CheckDrift:   bind("D", "check drift (selected hosts, else the branch)", "D"),

		Up:       bind("↑/k", "up", "up", "k"),
		Down:     bind("↓/j", "down", "down", "j"),
		PageUp:   bind("pgup", "page up", "pgup", "ctrl+u"),
		PageDown: bind("pgdn", "page down", "pgdown", "ctrl+d"),
		Top:      bind("g", "top", "g", "home"),
		Bottom:   bind("G", "bottom", "G", "end"),

		Mark:    bind("space", "select host", "space"),
		MarkAll: bind("ctrl+a", "select all shown", "ctrl+a"),
		Sort:    bind("o", "sort by next column", "o"),
		SortBy:  bind("shift+…", "sort: S state N name A address M MAC B branch I position F drift E seen R result (again: reverse)", sortKeys...),
		Reverse: bind("O", "reverse sort", "O"),
		Trust:   bind("T", "accept host key (or those of the selected hosts)", "T"),
		Details: bind("enter", "host details: results, drift", "enter"),

		Drop: bind("d", "drop staged entry", "d"),
		Open: bind("enter", "show all of it", "enter"),

		NextEntry: bind("n", "next entry", "n"),
		PrevEntry: bind("N", "previous entry", "N"),
		Fold:      bind("z", "fold diffs", "z"),

		Repair:    bind("r", "repair: plan the journal's version of this path back", "r"),
		RepairAll: bind("R", "repair every drifted path shown", "R"),
		Adopt:     bind("A", "adopt: stage this host's version as a new entry", "A"),

		StopPush:     bind("x", "stop the push (asks first; a paused wave: stop here)", "x"),
		ContinueWave: bind("c", "continue a paused wave", "c"),

		Level: bind("l", "minimum level", "l"),

		StartBoot: bind("B", "boot services on", "B"),
		StopBoot:  bind("X", "boot services off", "X"),
		History:   bind("enter", "history", "enter"),

		why: map[*key.Binding]string{},
	}
}

// gate enables b, or disables it and records why.
func (k *KeyMap) gate(b *key.Binding, why string) {
	b.SetEnabled(why == "")
	if why == "" {
		delete(k.why, b)
		return
	}
	k.why[b] = why
}

// Why is the reason b is disabled, "" when it is enabled.
func (k *KeyMap) Why(b *key.Binding) string { return k.why[b] }

// refused reports the reason when msg is one of b's keys but b is disabled.
func (k *KeyMap) refused(msg tea.KeyPressMsg, b *key.Binding) (string, bool) {
	if b.Enabled() {
		return "", false
	}
	for _, s := range b.Keys() {
		if s == msg.String() {
			return k.why[b], true
		}
	}
	return "", false
}

// helpGroup is one titled column of help.
type helpGroup struct {
	title string
	keys  []*key.Binding
}

// groups lists every binding for the help screen, global keys first.
func (k *KeyMap) groups() []helpGroup {
	return []helpGroup{
		{"global", []*key.Binding{&k.Help, &k.Command, &k.Filter, &k.Back, &k.Quit, &k.NextView, &k.PrevView,
			&k.Hosts, &k.Journal, &k.Review, &k.Progress, &k.Events, &k.DriftView, &k.MachinesView}},
		{"changes", []*key.Binding{&k.Branch, &k.Lock, &k.Unlock, &k.Stage, &k.Plan, &k.Approve, &k.Push, &k.CheckDrift}},
		{"lists", []*key.Binding{&k.Up, &k.Down, &k.PageUp, &k.PageDown, &k.Top, &k.Bottom}},
		{"hosts", []*key.Binding{&k.Mark, &k.MarkAll, &k.SortBy, &k.Sort, &k.Reverse, &k.Trust, &k.Details}},
		{"journal", []*key.Binding{&k.Open, &k.Drop}},
		{"plan review", []*key.Binding{&k.NextEntry, &k.PrevEntry, &k.Fold}},
		{"push", []*key.Binding{&k.StopPush, &k.ContinueWave}},
		{"drift", []*key.Binding{&k.Up, &k.Down, &k.Repair, &k.RepairAll, &k.Adopt, &k.Fold}},
		{"activity", []*key.Binding{&k.Open, &k.Level}},
		{"machines", []*key.Binding{&k.History, &k.StartBoot, &k.StopBoot}},
	}
}

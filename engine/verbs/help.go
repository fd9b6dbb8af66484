package verbs

import (
	"fmt"
	"slices"
	"strings"
)

// byGroup returns the table's verbs group by group, in the order of
// Groups, then any group a face added, in order of first appearance.
func (t *Table) byGroup() (groups []string, verbs map[string][]*Verb) {
	verbs = map[string][]*Verb{}
	groups = append(groups, Groups...)
	for _, v := range t.verbs {
		if !slices.Contains(groups, v.Group) {
			groups = append(groups, v.Group)
		}
		verbs[v.Group] = append(verbs[v.Group], v)
	}
	return groups, verbs
}

// Text lists the verbs by group, one line each (usage, then help), for
// `help` and the console's command list. Plain text, width 100 at most.
func (t *Table) Text() string {
	var b strings.Builder
	groups, verbs := t.byGroup()
	for _, g := range groups {
		if len(verbs[g]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", strings.ToUpper(g[:1])+g[1:])
		for _, v := range verbs[g] {
			left := v.Usage()
			if len(left) > 44 {
				fmt.Fprintf(&b, "  %s\n  %-44s %s\n", left, "", v.Help)
			} else {
				fmt.Fprintf(&b, "  %-44s %s\n", left, v.Help)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// VerbText is one verb's help: synopsis, help line, arguments and flags.
func (v *Verb) VerbText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n  %s\n", v.Usage(), v.Help)
	if len(v.Aliases) > 0 {
		fmt.Fprintf(&b, "  also: %s\n", strings.Join(v.Aliases, ", "))
	}
	if len(v.Flags) > 0 {
		b.WriteString("\nFlags (anywhere before --):\n")
		for _, f := range v.Flags {
			left := "--" + f.Name
			if f.Type != Bool {
				left += " " + f.Value
			}
			fmt.Fprintf(&b, "  %-24s %s\n", left, f.Help)
		}
	}
	fmt.Fprintf(&b, "\nExample:\n  %s\n", strings.NewReplacer(ExampleFile, "./motd", ExamplePlan, "p1a2b3c4d").Replace(v.Example()))
	if v.Command != "" {
		fmt.Fprintf(&b, "\n%s is shell text run by sh on each host: after -- or after the flags. On the console's\n"+
			"\":\" line it is kept exactly as typed; on a batch command line give it as one quoted argument,\n"+
			"or as words (joined by spaces, as your shell split them).\n", v.Command)
	}
	return b.String()
}

// Markdown is the README's verb table: one row per verb, grouped.
func (t *Table) Markdown() string {
	var b strings.Builder
	b.WriteString("| verb | arguments and flags | what it does |\n| --- | --- | --- |\n")
	groups, verbs := t.byGroup()
	for _, g := range groups {
		for _, v := range verbs[g] {
			usage := strings.TrimPrefix(strings.TrimPrefix(v.Usage(), v.Name), " ")
			if usage != "" {
				usage = "`" + usage + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, strings.ReplaceAll(usage, "|", "\\|"), strings.ReplaceAll(v.Help, "|", "\\|"))
		}
	}
	return b.String()
}

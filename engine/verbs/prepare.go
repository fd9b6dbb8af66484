package verbs

import (
	"context"
	"fmt"
	"strings"

	"github.com/discoterm/discoterm/engine"
)

func prepareVerbs() []*Verb {
	return []*Verb{
		{Name: "collect", Group: GroupFlow, Help: "gather the results of prepared pushes from hosts (all trusted hosts without HOST)",
			Args: []Arg{{Name: "HOST", Optional: true, Many: true}}, Flags: []Flag{branchFlag},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) { return runCollect(ctx, b, c, false) }},
		{Name: "cancel-prepared", Group: GroupFlow, Help: "disarm and remove prepared pushes on hosts (HOST… or --branch B)",
			Args: []Arg{{Name: "HOST", Optional: true, Many: true}}, Flags: []Flag{branchFlag},
			Run: func(ctx context.Context, b Backend, c *Call) (Result, error) {
				if len(c.Args) == 0 && c.Branch() == "" {
					return nil, usagef("cancel-prepared needs HOST… or --branch BRANCH")
				}
				return runCollect(ctx, b, c, true)
			}},
	}
}

func runPrepare(ctx context.Context, b Backend, c *Call) (Result, error) {
	r, err := b.PreparePush(ctx, c.Arg(0), engine.PushOptions{AllowReboot: c.Bool("allow-reboot")})
	if r == nil {
		return nil, err
	}
	return Pushed{Result: r}, err
}

func runCollect(ctx context.Context, b Backend, c *Call, cancel bool) (Result, error) {
	cs, err := b.Collect(ctx, c.Args, c.Branch(), cancel)
	var lines []string
	for _, p := range cs {
		switch {
		case p.State == "waiting" && cancel:
			lines = append(lines, fmt.Sprintf("%s: prepared plan %s cancelled", p.Host, p.PlanID))
		case p.State == "waiting":
			lines = append(lines, fmt.Sprintf("%s: plan %s prepared, waiting for its window", p.Host, p.PlanID))
		default:
			l := fmt.Sprintf("%s: plan %s %s at position %d", p.Host, p.PlanID, p.Status, p.To)
			if p.Err != "" {
				l += ": " + p.Err
			}
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "no prepared pushes on these hosts")
	}
	name := "collect"
	if cancel {
		name = "cancel-prepared"
	}
	return Done{name, strings.Join(lines, "\n")}, err
}

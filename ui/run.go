package ui

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"
)

// Run shows the UI on a terminal until the operator quits or ctx ends.
// Running operations are cancelled on the way out.
func Run(ctx context.Context, b Backend, opts Options) error {
	m, err := newModel(ctx, b, opts)
	if err != nil {
		return err
	}
	defer m.Close()
	po := []tea.ProgramOption{tea.WithContext(ctx)}
	if opts.In != nil {
		po = append(po, tea.WithInput(opts.In))
	}
	if opts.Out != nil {
		po = append(po, tea.WithOutput(opts.Out))
	}
	_, err = tea.NewProgram(m, po...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

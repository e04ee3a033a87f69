package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/preflight"
)

func newPreflightCommand(g *Globals) *cobra.Command {
	var ignore []string
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Run the host checks of install alone; exit 3 if one fails",
		Long: `preflight runs every check install runs first, changes nothing, and prints each
check's verdict with what to do about it. Warnings do not fail; a failed check
exits 3 unless --ignore-preflight-errors names it (or says all).

Checks: ` + strings.Join(preflight.Names(), ", ") + `.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc preflight
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc preflight --ignore-preflight-errors=swap
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc preflight -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPreflight(cmd.Context(), g, ignore)
		},
	}
	cmd.Flags().StringSliceVar(&ignore, "ignore-preflight-errors", nil, "checks whose failure is only a warning, comma separated, or 'all'")
	return cmd
}

func runPreflight(ctx context.Context, g *Globals, ignore []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// A misspelt name is refused before the configuration is even read.
	if _, err := preflight.RunChecks(ctx, &preflight.Inputs{}, nil, ignore); err != nil {
		return err
	}
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	in, err := preflight.DefaultInputs(host.Root{Dir: g.Root}, cfg)
	if err != nil {
		return err
	}
	if g.Dialer != nil {
		in.Dialer = g.Dialer
	}
	rep, runErr := preflight.Run(ctx, in, ignore)
	if g.Output == "json" || g.Output == "yaml" {
		if err := writeResult(g, rep); err != nil {
			return errors.Join(runErr, err)
		}
		return runErr
	}
	if _, err := g.Stdout.Write(preflight.FormatText(rep)); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

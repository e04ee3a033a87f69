package cli

import "github.com/spf13/cobra"

func newPreflightCommand(g *Globals) *cobra.Command {
	var ignore []string
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Run the host checks of install alone; exit 3 if one fails",
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc preflight
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc preflight --ignore-preflight-errors=swap`,
		Args: cobra.NoArgs,
		RunE: notImplemented("preflight"),
	}
	cmd.Flags().StringSliceVar(&ignore, "ignore-preflight-errors", nil, "checks whose failure is only a warning, comma separated, or 'all'")
	return cmd
}

package cli

import "github.com/spf13/cobra"

func newStatusCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Report whether this node is healthy; exit 0 healthy, 1 degraded",
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc status
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc status -o json`,
		Args: cobra.NoArgs,
		RunE: notImplemented("status"),
	}
}

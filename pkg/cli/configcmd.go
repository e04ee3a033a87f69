package cli

import "github.com/spf13/cobra"

func newConfigCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or check the effective configuration",
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "view",
		Short:   "Print the effective configuration, secrets redacted",
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc config view -o yaml`,
		Args:    cobra.NoArgs,
		RunE:    notImplemented("config view"),
	}, &cobra.Command{
		Use:     "validate",
		Short:   "Check the effective configuration; exit 0 if valid, 2 with every error if not",
		Example: `  add2tkectl config validate --config pool.yaml`,
		Args:    cobra.NoArgs,
		RunE:    notImplemented("config validate"),
	})
	return cmd
}

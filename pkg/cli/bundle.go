package cli

import "github.com/spf13/cobra"

func newBundleCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle --config F --out DIR",
		Short: "Write DIR/add2tkectl-<clusterID>-<nodePoolID>: this binary carrying a validated configuration",
		Example: `  add2tkectl bundle --config pool.yaml --out dist/
  add2tkectl bundle --config pool.yaml --out dist/ --binary bin/add2tkectl-arm64`,
		Args: cobra.NoArgs,
		RunE: notImplemented("bundle"),
	}
	cmd.Flags().String("out", "", "directory to write the bundled binary into")
	cmd.Flags().String("binary", "", "executable to bundle (default: this one)")
	return cmd
}

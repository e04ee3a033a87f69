package cli

import "github.com/spf13/cobra"

func newRenderCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:     "render",
		Short:   "Write every file install would write under --root, and start nothing",
		Example: `  add2tkectl render --config pool.yaml --root /tmp/node-image`,
		Args:    cobra.NoArgs,
		RunE:    notImplemented("render"),
	}
}

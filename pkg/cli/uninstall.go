package cli

import "github.com/spf13/cobra"

// UninstallOptions are the flags of uninstall.
type UninstallOptions struct {
	DryRun     bool
	KeepData   bool
	Kubeconfig string
}

func newUninstallCommand(g *Globals) *cobra.Command {
	o := &UninstallOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove what install put on this host and give the host back",
		Long: `uninstall stops and removes exactly what install recorded in its journal:
services, files, kernel settings, network interfaces and iptables chains. It
unmounts everything under the kubelet and runtime directories before deleting
them. The node's own credentials may not delete its Node, so uninstall cordons
it and labels it for the control plane to remove; with --kubeconfig of a user
allowed to, it deletes the Node.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc uninstall --dry-run
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc uninstall --keep-data`,
		Args: cobra.NoArgs,
		RunE: notImplemented("uninstall"),
	}
	f := cmd.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be removed and change nothing")
	f.BoolVar(&o.KeepData, "keep-data", false, "keep the container runtime's data directory")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of a user allowed to delete the Node")
	return cmd
}

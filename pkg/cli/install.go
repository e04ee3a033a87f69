package cli

import (
	"time"

	"github.com/spf13/cobra"
)

// InstallOptions are the flags of install.
type InstallOptions struct {
	DryRun                bool
	SkipPhases            []string
	IgnorePreflightErrors []string
	ArtifactsDir          string
	Timeout               time.Duration
}

func newInstallCommand(g *Globals) *cobra.Command {
	o := &InstallOptions{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Join this host to the cluster as a node of the pool",
		Long: `install runs, in order, the phases preflight, download, host, runtime, images,
kubelet, join and userscript. Each phase first checks whether the host already
satisfies it, so a second install with the same configuration changes nothing,
and an install that was interrupted completes where it stopped.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install --dry-run
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install --artifacts-dir /mnt/add2tke-offline -o json
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install --ignore-preflight-errors=swap,clock`,
		Args: cobra.NoArgs,
		RunE: notImplemented("install"),
	}
	f := cmd.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan and change nothing")
	f.StringSliceVar(&o.SkipPhases, "skip-phases", nil, "phases to skip, comma separated")
	f.StringSliceVar(&o.IgnorePreflightErrors, "ignore-preflight-errors", nil, "preflight checks whose failure is only a warning, comma separated, or 'all'")
	f.StringVar(&o.ArtifactsDir, "artifacts-dir", "", "take artifacts from this directory (air-gapped sites) instead of downloading")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up waiting (for the lock, the node to join) after this long")
	return cmd
}

// Package cli builds the add2tkectl command tree. It is the only place that
// turns errors into exit codes and results into output.
package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/preflight"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// Globals are the flags every command shares.
type Globals struct {
	ConfigFile string
	Root       string
	Output     string
	LogLevel   string
	NoProgress bool

	// Set holds --set path=value overrides of configuration fields.
	Set []string

	// SiteFile is --site: the site settings file instead of site.Path
	// under --root.
	SiteFile string
	// Site are the effective site settings of a command that acts on the
	// host (loaded before it runs); nil for the others.
	Site *site.Settings

	// Executable is the path of the running binary; its bundled payload and
	// its name (add2tkectl-<cls>-<np>) take part in configuration loading.
	Executable string

	Stdout io.Writer
	Stderr io.Writer

	// Dialer reaches the API server and COS in preflight checks; nil means
	// the real network. Tests set one that only reaches loopback.
	Dialer preflight.Dialer

	// stderrLog is the logger's hook writing to Stderr (set by newLogger).
	stderrLog *writerHook
}

// NewRootCommand returns the add2tkectl command tree.
func NewRootCommand(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "add2tkectl",
		Short: "Join this on-premises host to a managed Kubernetes (TKE) cluster",
		Long: `add2tkectl turns a bare Linux host into a worker node of a managed Kubernetes
cluster: it checks the host, downloads signed artifacts, installs the container
runtime and kubelet as systemd services, joins the cluster over the private link
with the node pool's labels, taints and cordon state, and runs the pool's user
script. "status" tells whether the node is healthy; "uninstall" gives the host back.

The console hands out a copy named add2tkectl-<clusterID>-<nodePoolID> that
carries the node pool's configuration.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc status -o json
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc uninstall`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.Stdout)
	root.SetErr(g.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErrorf("%v", err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.ConfigFile, "config", "", "configuration file (YAML or JSON); overrides the bundled payload")
	pf.StringVar(&g.Root, "root", "/", "act on the filesystem under this directory")
	pf.StringVarP(&g.Output, "output", "o", "text", "result format: text, json or yaml")
	pf.StringVar(&g.LogLevel, "log-level", site.DefaultLogLevel, "log level: debug, info, warn or error (site cli.logLevel)")
	pf.BoolVar(&g.NoProgress, "no-progress", false, "plain progress lines instead of progress bars (site cli.noProgress)")
	pf.StringArrayVar(&g.Set, "set", nil, "override a configuration field, e.g. --set nodePool.cordon=true (repeatable)")
	addSiteFlags(pf, g)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		switch g.Output {
		case "text", "json", "yaml":
		default:
			return usageErrorf("--output %q: use text, json or yaml", g.Output)
		}
		return loadSite(cmd, g)
	}

	root.AddCommand(
		needsSite(newInstallCommand(g)),
		toleratesBrokenSite(newUninstallCommand(g)),
		needsSite(newStatusCommand(g)),
		// debug works with a broken site file too: it collects the file as it is.
		newDebugCommand(g),
		needsSite(newPreflightCommand(g)),
		needsSite(newRenderCommand(g)),
		newConfigCommand(g),
		newArtifactsCommand(g),
		newBundleCommand(g),
		newCloudInitCommand(g),
		newVersionCommand(g),
		newCompletionCommand(g),
	)
	return root
}

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	exe, err := os.Executable()
	if err != nil {
		exe = args[0]
	}
	g := &Globals{Executable: exe, Stdout: os.Stdout, Stderr: os.Stderr}
	root := NewRootCommand(g)
	root.SetArgs(args[1:])
	err = root.Execute()
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(g.Stderr, "error: %v\n", err)
	return ExitCode(err)
}

// notImplemented is the honest answer of a command whose capability has not
// landed yet.
func notImplemented(name string) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error {
		return fmt.Errorf("%s: not implemented yet", name)
	}
}

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/uninstall"
)

// UninstallOptions are the flags of uninstall.
type UninstallOptions struct {
	DryRun     bool
	KeepData   bool
	Kubeconfig string
	Timeout    time.Duration
}

func newUninstallCommand(g *Globals) *cobra.Command {
	o := &UninstallOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove what install put on this host and give the host back",
		Long: "uninstall runs these steps, in order:\n\n" + uninstall.Workflow.Help() + `
It stops and removes exactly what install recorded in its journal
(/var/lib/add2tkectl/state.json): services, files, directories, kernel
settings; and what those services made while they ran: the pods' containers
(removed through the runtime, then their cgroups and the runtime's shims),
mounts (unmounted deepest first; nothing is ever deleted through a mount),
CNI/cilium interfaces and the iptables chains of kubelet, kube-proxy and
cilium. The container data dir goes unless --keep-data. The journal goes
last, so an interrupted uninstall can be run again; a second uninstall
changes nothing. /var/log/add2tkectl is kept.

The node's own credentials may not delete its Node, so uninstall cordons it
and labels it add2tke.tke.cloud.tencent.com/uninstalled=true for the control
plane to remove; with --kubeconfig of a user allowed to, it deletes the Node.
An API server that does not answer is a warning, not a failure.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc uninstall --dry-run
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc uninstall --keep-data
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc uninstall --kubeconfig ~/.kube/config -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUninstall(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be removed and change nothing")
	f.BoolVar(&o.KeepData, "keep-data", false, "keep the container runtime's data directory")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of a user allowed to delete the Node")
	f.DurationVar(&o.Timeout, "timeout", site.DefaultTimeout, "give up waiting for another add2tkectl run (the lock) after this long (site cli.timeout)")
	return cmd
}

// uninstallResult is the -o json|yaml object: the runner's result, what
// each step planned, and the warnings.
type uninstallResult struct {
	*phase.Result
	uninstall.Report
}

func runUninstall(ctx context.Context, g *Globals, o *UninstallOptions) error {
	ctx, log, done, err := startRun(ctx, g, !o.DryRun)
	if err != nil {
		return err
	}
	defer done()

	// The configuration only fills in what the journal does not say (the
	// data dir, the network plugin): a host must be given back even when
	// its configuration no longer loads.
	var cfg *config.NodePoolJoin
	if l, err := loadEffective(g); err != nil {
		log.WithError(err).Warn("the configuration does not load; uninstall goes by the journal alone")
	} else {
		cfg = l.Config
	}
	fields := logrus.Fields{"dryRun": o.DryRun}
	if cfg != nil {
		fields["cluster"], fields["nodePool"] = cfg.Cluster.ID, cfg.NodePool.ID
	}
	entry := log.WithFields(fields)
	if !o.DryRun {
		lock, err := phase.AcquireLock(ctx, g.Root, commandLine(), o.Timeout, entry)
		if err != nil {
			return err
		}
		defer func() {
			if err := lock.Release(); err != nil {
				entry.WithError(err).Warn("could not release the lock; the next run gets it once this process exits")
			}
		}()
	}
	journal, err := phase.LoadJournal(g.Root)
	if err != nil {
		return err
	}
	if len(journal.Interrupted()) > 0 {
		entry.WithField("phases", journal.Interrupted()).Info("install was interrupted inside these phases; removing what it recorded")
	}
	root := host.Root{Dir: g.Root}
	nodeName, err := install.NodeName(root)
	if err != nil {
		entry.WithError(err).Warn("no node name: the Node is left as it is")
	}
	kubeconfig := o.Kubeconfig
	if kubeconfig != "" {
		if kubeconfig, err = filepath.Abs(kubeconfig); err != nil {
			return usageErrorf("--kubeconfig %s: %v", o.Kubeconfig, err)
		}
	}
	connect, closeSystemd := lazySystemd("uninstall needs systemd to stop the services install set up")
	defer closeSystemd()
	u := uninstall.New(uninstall.Deps{
		Root:       root,
		Log:        entry,
		Journal:    journal,
		Config:     cfg,
		Systemd:    connect,
		KeepData:   o.KeepData,
		Kubeconfig: kubeconfig,
		NodeName:   nodeName,
		Live:       g.Root == "" || g.Root == "/",
	})
	entry.Debug("uninstall started")
	res, runErr := phase.Run(ctx, u.Steps(), phase.Options{
		Root:      g.Root,
		DryRun:    o.DryRun,
		Progress:  g.Stderr,
		Log:       entry,
		NoJournal: true,
	})
	if res == nil {
		return runErr
	}
	rep := u.Report()
	entry.WithFields(logrus.Fields{"changed": res.Changed, "durationSeconds": res.DurationSeconds, "warnings": len(rep.Warnings)}).WithError(runErr).Debug("uninstall finished")
	if err := printUninstallResult(g, res, rep); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// printUninstallResult writes the result on stdout: one object for
// -o json|yaml; for text, a dry run's actions step by step, then the
// runner's table.
func printUninstallResult(g *Globals, res *phase.Result, rep uninstall.Report) error {
	if g.Output == "json" || g.Output == "yaml" {
		return writeResult(g, uninstallResult{Result: res, Report: rep})
	}
	var b bytes.Buffer
	if res.DryRun {
		for _, p := range res.Phases {
			for _, a := range rep.Plan[p.Name] {
				fmt.Fprintf(&b, "%s: %s\n", p.Name, a)
			}
		}
		if b.Len() == 0 {
			b.WriteString("nothing to remove: this host has nothing of add2tkectl\n")
		}
		b.WriteString("\n")
	}
	b.Write(phase.FormatText(res))
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(&b, "%d warning(s):\n", len(rep.Warnings))
		for _, w := range rep.Warnings {
			fmt.Fprintf(&b, "  %s\n", w)
		}
	}
	_, err := g.Stdout.Write(b.Bytes())
	return err
}

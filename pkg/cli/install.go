package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/site"
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
		Long: "install runs these phases, in order:\n\n" + install.Workflow.Help() + `
Each phase first checks whether the host already satisfies it, so a second
install with the same configuration changes nothing, and an install that was
interrupted completes where it stopped; --skip-phases leaves phases out.

Progress goes to stderr; the result (-o json|yaml: one object with "changed"
and each phase's status and duration) to stdout. What each phase installed is
recorded in /var/lib/add2tkectl/state.json for status and uninstall; the log
is /var/log/add2tkectl/add2tkectl.log. Two runs never interleave: a second one
waits up to --timeout for the first (the lock /run/add2tkectl.lock names it).
SIGINT or SIGTERM stops the run after the current step; a second one at once.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install --dry-run
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install --artifacts-dir /mnt/add2tke-offline -o json
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install --ignore-preflight-errors=swap,clock
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc install --skip-phases userscript`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInstall(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan and change nothing")
	f.StringSliceVar(&o.SkipPhases, "skip-phases", nil, "phases to skip, comma separated: "+strings.Join(install.Workflow.Names(), ","))
	f.StringSliceVar(&o.IgnorePreflightErrors, "ignore-preflight-errors", nil, "preflight checks whose failure is only a warning, comma separated, or 'all'")
	f.StringVar(&o.ArtifactsDir, "artifacts-dir", "", "take artifacts from this directory (air-gapped sites) instead of downloading (site cli.artifactsDir)")
	f.DurationVar(&o.Timeout, "timeout", site.DefaultTimeout, "give up waiting (for the lock, the node to join) after this long (site cli.timeout)")
	return cmd
}

func runInstall(ctx context.Context, g *Globals, o *InstallOptions) (err error) {
	// Refuse a bad phase name before anything else happens.
	if err := install.Workflow.CheckNames(o.SkipPhases); err != nil {
		return fmt.Errorf("--skip-phases: %w", err)
	}
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	// A dry run leaves no trace, not even a log file.
	ctx, log, done, err := startRun(ctx, g, !o.DryRun)
	if err != nil {
		return err
	}
	defer done()

	entry := log.WithFields(logrus.Fields{"cluster": cfg.Cluster.ID, "nodePool": cfg.NodePool.ID, "dryRun": o.DryRun})
	var res *phase.Result
	if !o.DryRun {
		started := time.Now()
		defer func() { recordRun(g, entry, "install", started, res, nil, err) }()
	}
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
	entry.Debug("install started")
	progress, progressDone := newProgress(g)
	defer progressDone()
	connect, closeSystemd := lazySystemd("install needs systemd as the service manager")
	defer closeSystemd()
	unpacks := artifact.NewUnpacks(ctx)
	defer unpacks.Close()
	phases, err := install.Phases(install.Deps{
		Config:                cfg,
		Root:                  host.Root{Dir: g.Root},
		Log:                   entry,
		Progress:              progress,
		Systemd:               connect,
		IgnorePreflightErrors: o.IgnorePreflightErrors,
		ArtifactsDir:          o.ArtifactsDir,
		Timeout:               o.Timeout,
		Dialer:                g.Dialer,
		Site:                  g.Site,
		Unpacks:               unpacks,
	})
	if err != nil {
		return err
	}
	res, err = phase.Run(ctx, phases, phase.Options{
		Root:     g.Root,
		DryRun:   o.DryRun,
		Skip:     o.SkipPhases,
		Progress: g.Stderr,
		Log:      entry,
	})
	runErr := err
	if res == nil {
		return runErr
	}
	entry.WithFields(logrus.Fields{"changed": res.Changed, "durationSeconds": res.DurationSeconds}).WithError(runErr).Debug("install finished")
	if err := printRunResult(g, res); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// printRunResult writes a runner's result on stdout: one object for
// -o json|yaml, the plan or a summary table for text.
func printRunResult(g *Globals, res *phase.Result) error {
	if g.Output == "json" || g.Output == "yaml" {
		return writeResult(g, res)
	}
	_, err := g.Stdout.Write(phase.FormatText(res))
	return err
}

// startRun gives a command that changes the host its logger and a context
// that the first SIGINT or SIGTERM cancels; done stops both.
func startRun(ctx context.Context, g *Globals, toFile bool) (context.Context, *logrus.Logger, func(), error) {
	log, closeLog, err := newLogger(g, toFile)
	if err != nil {
		return nil, nil, nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signalContext(ctx, log)
	return ctx, log, func() { stop(); closeLog() }, nil
}

// signalContext is cancelled by the first SIGINT or SIGTERM, so the run
// stops cleanly between steps; after it, signals have their default effect
// again, so a second one stops the process at once.
func signalContext(parent context.Context, log logrus.FieldLogger) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && parent.Err() == nil {
			log.WithField("signal", cause).Warn("stopping after the current step; send it again to stop at once")
		}
	}()
	return ctx, stop
}

// commandLine describes this run to a second one waiting for the lock.
// The lock redacts secrets (a --set of the token) itself.
func commandLine() string {
	return strings.Join(os.Args, " ")
}

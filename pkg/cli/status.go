package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/metrics"
	"github.com/add2tkectl/add2tkectl/pkg/status"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

func newStatusCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Report whether this node is healthy; exit 0 healthy, 1 degraded",
		Long: `status reports, in one call: the install phases per the state journal, the
state of each unit install put on the host, the container runtime and the
kubelet answering (with their versions), the Node as the API server shows it
to this node (Ready, cordon, labels, taints, node IP), the user script's last
run, and the drift between the configuration and the host (versions, labels,
taints, and files changed or missing since install, by sha256).

Every check runs at once under a short timeout; when the API server does not
answer, status says so and still reports the local part. It changes nothing.

Exit codes: 0 healthy; 1 degraded or not installed (the reasons are on stderr
and in "problems" of -o json|yaml); 2 a configuration error. The fields of
-o json|yaml are a stable contract (pkg/status/report.go).`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc status
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc status -o json | jq .node.ready`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), g)
		},
	}
}

func runStatus(ctx context.Context, g *Globals) (err error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	// status changes nothing and may run every minute: no log file.
	log, closeLog, err := newLogger(g, false)
	if err != nil {
		return err
	}
	defer closeLog()
	started := time.Now()
	var health *metrics.Health
	defer func() { recordRun(g, log, "status", started, nil, health, err) }()
	if ctx == nil {
		ctx = context.Background()
	}
	root := host.Root{Dir: g.Root}
	name, err := install.NodeName(root)
	if err != nil {
		return err
	}
	rep, err := status.Gather(ctx, statusDeps(root, cfg, name, log))
	if rep == nil {
		return err
	}
	health = metrics.FromStatus(rep)
	if g.Output == "json" || g.Output == "yaml" {
		if werr := writeResult(g, rep); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	if _, werr := g.Stdout.Write(status.FormatText(rep)); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// statusDeps is what status (and debug's status.json) gathers with: the
// install workflow's phases and systemd over D-Bus, connected on first use.
func statusDeps(root host.Root, cfg *config.NodePoolJoin, name string, log logrus.FieldLogger) status.Deps {
	return status.Deps{
		Root:       root,
		Config:     cfg,
		NodeName:   name,
		PhaseNames: install.Workflow.Names(),
		Log:        log,
		Systemd: func(ctx context.Context) (systemd.Manager, error) {
			m, err := systemd.NewDBus(ctx)
			if err != nil {
				return nil, fmt.Errorf("connect to systemd over D-Bus: %w", err)
			}
			return m, nil
		},
	}
}

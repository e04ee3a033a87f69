package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/debug"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/status"
)

// debugOptions are debug's own flags.
type debugOptions struct {
	out     string
	timeout time.Duration
}

// DebugResult is what debug reports with -o json|yaml.
type DebugResult struct {
	Archive string `json:"archive"`
	Size    int64  `json:"size"`
	Entries int    `json:"entries"`
	// Incomplete are the sources that failed, timed out or were skipped.
	Incomplete int  `json:"incomplete"`
	TimedOut   bool `json:"timedOut"`
}

func newDebugCommand(g *Globals) *cobra.Command {
	o := &debugOptions{}
	cmd := &cobra.Command{
		Use:   "debug",
		Short: "Collect what support needs into one redacted archive",
		Long: `debug writes one gzipped tar (mode 0600) of what support needs to understand
this node: the status report, the state journal and install's log, each unit's
state and its last 500 journal lines, the rendered configurations, drop-ins
and kubeconfigs, the user script's log and result, the versions of add2tkectl,
the kubelet and the runtime, uname, os-release, mounts, addresses, routes,
iptables rules, cloud-init's logs and the site file. index.json and
MANIFEST.txt list every entry with its size and, for commands, exit status
and time taken.

Every entry is redacted before it enters the archive: the bootstrap token and
its secret, presigned links' query strings and signatures, PEM private keys,
the kubeconfigs' client keys and tokens, passwords (a proxy's too). The pool's
user script itself is left out: it may hold secrets of its own.

It changes nothing and works on a half-installed host and with the API server
down: a source that fails, hangs or is missing is recorded in the index, never
fatal. Each command has its own timeout, each entry is capped at 8 MiB
(truncated with a marker), the archive at 64 MiB, and the whole run at
--timeout.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc debug
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc debug --out /root/node1-debug.tar.gz
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc debug --out - | ssh support@bastion 'cat > node1.tar.gz'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDebug(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "the archive to write; - writes it to stdout (default add2tkectl-debug-<hostname>-<UTC time>.tar.gz here)")
	f.DurationVar(&o.timeout, "timeout", debug.DefaultTimeout, "bound of the whole collection")
	return cmd
}

func runDebug(ctx context.Context, g *Globals, o *debugOptions) error {
	if o.timeout <= 0 {
		return usageErrorf("--timeout %s: give a positive duration, e.g. --timeout 60s", o.timeout)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	log, closeLog, err := newLogger(g, false)
	if err != nil {
		return err
	}
	defer closeLog()
	// A host whose configuration does not load is a host to debug: the
	// error goes into the archive.
	cfg, cfgErr := loadConfig(g)
	root := host.Root{Dir: g.Root}
	live := filepath.Clean(g.Root) == "/"
	res := debug.Collect(ctx, debug.Deps{
		Root:        root,
		Live:        live,
		Config:      cfg,
		ConfigError: cfgErr,
		Version:     fmt.Sprintf("add2tkectl %s (commit %s, %s, %s/%s)", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH),
		Status: func(ctx context.Context) ([]byte, error) {
			return statusJSON(ctx, g, root)
		},
		Log:     log,
		Timeout: o.timeout,
	})
	var n int
	for _, e := range res.Index.Entries {
		if e.Status != debug.StatusOK && e.Status != debug.StatusAbsent && e.Status != debug.StatusOmitted {
			n++
		}
	}
	if o.out == "-" {
		return res.Write(g.Stdout)
	}
	out := o.out
	if out == "" {
		out = debug.DefaultName(res.Index.Host, res.Index.StartedAt)
	}
	if err := res.WriteFile(out); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	r := DebugResult{Archive: out, Size: st.Size(), Entries: len(res.Entries()), Incomplete: n, TimedOut: res.Index.TimedOut}
	if g.Output == "json" || g.Output == "yaml" {
		return writeResult(g, r)
	}
	_, err = fmt.Fprintf(g.Stdout, "wrote %s (%d bytes, %d entries; %d sources failed, timed out or skipped: see its MANIFEST.txt)\n", r.Archive, r.Size, r.Entries, r.Incomplete)
	return err
}

// statusJSON is `status -o json`, computed in process by the status
// command's own code: the report of an unhealthy node is a report too.
func statusJSON(ctx context.Context, g *Globals, root host.Root) ([]byte, error) {
	cfg, _ := loadConfig(g)
	name, err := install.NodeName(root)
	if err != nil {
		return nil, err
	}
	rep, err := status.Gather(ctx, statusDeps(root, cfg, name, nil))
	if rep == nil {
		return nil, err
	}
	b, merr := json.MarshalIndent(rep, "", "  ")
	if merr != nil {
		return nil, merr
	}
	var notInstalled *status.NotInstalledError
	var degraded *status.DegradedError
	if err != nil && !errors.As(err, &notInstalled) && !errors.As(err, &degraded) {
		return append(b, '\n'), err
	}
	return append(b, '\n'), nil
}

package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/cloudinit"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
)

func newCloudInitCommand(g *Globals) *cobra.Command {
	var rawURL string
	cmd := &cobra.Command{
		Use:   "cloud-init --url URL",
		Short: "Print the #cloud-config user-data that joins a host on its first boot",
		Long: `cloud-init prints user-data (#cloud-config) for this bundled binary. On the
host's first boot, cloud-init fetches the binary from --url (your mirror) with
retries and backoff, checks it against the sha256 of this very binary before
anything runs, and hands over to the systemd unit add2tkectl-install.service,
which runs install until it succeeds: after network-online.target, restarted on
failure with a growing pause, giving up after a bounded number of attempts.
Once the node is joined, later boots run an install that changes nothing.

The outcome is in /var/lib/add2tkectl/firstboot.json (0600) and in "firstBoot"
of status -o json: joined, trying (with the last error and the attempt count)
or gave-up; the details are in journalctl -u add2tkectl-install.service and
/var/log/add2tkectl/. The user-data holds no secret (the binary carries them):
a URL with credentials or a query string is refused. uninstall removes the unit.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc cloud-init --url http://mirror.internal/add2tkectl-cls-m57oxxxp-np-3kd9a1bc > user-data
  cloud-init schema --config-file user-data`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runCloudInit(g, rawURL) },
	}
	cmd.Flags().StringVar(&rawURL, "url", "", "where your mirror serves this bundled binary (http or https, no credentials)")
	cmd.AddCommand(&cobra.Command{
		Use:    "run",
		Short:  "One attempt of the first-boot unit: install once, record the outcome",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(cmd *cobra.Command, _ []string) error { return runFirstBoot(cmd.Context(), g) },
	})
	return cmd
}

func runCloudInit(g *Globals, rawURL string) error {
	if rawURL == "" {
		return usageErrorf("cloud-init needs --url URL: where your mirror serves this binary")
	}
	if g.ConfigFile != "" || len(g.Set) > 0 {
		return usageErrorf("cloud-init describes this bundled binary as it is: the host gets no --config or --set; bundle a new binary instead")
	}
	if _, found, err := config.ReadPayload(g.Executable); err != nil {
		return err
	} else if !found {
		return usageErrorf("%s carries no node pool configuration: run cloud-init from the bundled add2tkectl-<clusterID>-<nodePoolID> (see bundle)", g.Executable)
	}
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	sum, err := fileSHA256(g.Executable)
	if err != nil {
		return err
	}
	out, err := cloudinit.Render(cloudinit.Params{
		URL:    rawURL,
		SHA256: sum,
		Name:   "add2tkectl-" + cfg.Cluster.ID + "-" + cfg.NodePool.ID,
	})
	if err != nil {
		return usageErrorf("%v", err)
	}
	_, err = g.Stdout.Write(out)
	return err
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("read this binary to hash it: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read this binary to hash it: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// runFirstBoot is one start of add2tkectl-install.service.
func runFirstBoot(ctx context.Context, g *Globals) error {
	ctx, log, done, err := startRun(ctx, g, false)
	if err != nil {
		return err
	}
	defer done()
	r := &firstboot.Runner{
		Root:    g.Root,
		Log:     log.WithField("unit", firstboot.UnitName),
		Install: func(ctx context.Context) firstboot.Outcome { return installOnce(ctx, g) },
	}
	return r.Run(ctx)
}

// installOnce runs install as a child (its own logs, lock and exit code, as
// an operator's run would have), its progress and errors passed through to
// the journal, and reads its outcome.
func installOnce(ctx context.Context, g *Globals) firstboot.Outcome {
	args := []string{"install", "--no-progress", "-o", "json", "--root", g.Root, "--log-level", g.LogLevel}
	cmd := exec.CommandContext(ctx, g.Executable, args...)
	var stdout bytes.Buffer
	tail := &lastErrorLine{}
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(g.Stderr, tail)
	err := cmd.Run()
	out := firstboot.Outcome{Err: tail.last}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		out.ExitCode = ee.ExitCode()
	default:
		out.ExitCode = ExitFailure
		if out.Err == "" {
			out.Err = fmt.Sprintf("run install: %v", err)
		}
	}
	var res struct {
		Changed bool `json:"changed"`
	}
	if json.Unmarshal(stdout.Bytes(), &res) == nil {
		out.Changed = res.Changed
	}
	return out
}

// lastErrorLine keeps the last "error: " line written to it (what Main
// prints of a failed command).
type lastErrorLine struct {
	buf  []byte
	last string
}

func (l *lastErrorLine) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := string(l.buf[:i]); strings.HasPrefix(line, "error: ") {
			l.last = strings.TrimPrefix(line, "error: ")
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.buf = l.buf[len(l.buf)-4096:]
	}
	return len(p), nil
}

package cli

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/render"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
)

// RenderOptions are the flags of render.
type RenderOptions struct {
	NodeIP         string
	ArtifactsDir   string
	Arch           string
	Cgroup         string
	CapSysResource string
}

func newRenderCommand(g *Globals) *cobra.Command {
	o := &RenderOptions{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write every file install would write under --root, and start nothing",
		Long: `render writes under --root DIR every file install would write — the runtime's
and the kubelet's units, drop-in and configuration, the bootstrap kubeconfig
(0600: it holds the bootstrap token) and the CA, the modules-load.d and
sysctl.d files, fstab with its swap lines commented out, the user script —
with the same code and the same modes, and records them in DIR's journal
(/var/lib/add2tkectl/state.json) as install does, so that install on a node
booted from DIR takes them as its own and uninstall removes them. It starts
nothing: no service, no modprobe, no sysctl, no swapoff, no network.

Binaries (kubelet, the runtime, runc, CNI plugins) are written only with
--artifacts-dir: the offline directory's manifest is verified with the
configured key, the artifacts are verified into the cache under DIR (so
install on the node needs no download, even once the link has expired),
and the binaries are installed from it. Images are imported by install.

What depends on the live host is this machine's unless a flag says
otherwise: the node IP (the source address of the route to the API
server), the cgroup version (failCgroupV1 for kubelet >= 1.35 on v1) and
CAP_SYS_RESOURCE (containerd's restrict_oom_score_adj, the units' limits).
Install on each node renders with that node's own facts and rewrites what
differs. --root / is refused: to set up this host, use install.

The result on stdout lists every file (mode, sha256, path); -o json|yaml
gives one object.`,
		Example: `  add2tkectl render --config pool.yaml --root /tmp/node-image --node-ip 10.0.1.17
  add2tkectl render --root /srv/image/rootfs --artifacts-dir /mnt/add2tke-offline --cgroup v2 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRender(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.NodeIP, "node-ip", "", "the kubelet's --node-ip (default: the source address of this machine's route to the API server)")
	f.StringVar(&o.ArtifactsDir, "artifacts-dir", "", "also write the binaries, from this offline artifacts directory (verified against the signed manifest)")
	f.StringVar(&o.Arch, "arch", runtime.GOARCH, "architecture of the artifacts to take from --artifacts-dir")
	f.StringVar(&o.Cgroup, "cgroup", "auto", "cgroup version to render the kubelet for: auto (this machine's), v1 or v2")
	f.StringVar(&o.CapSysResource, "cap-sys-resource", "auto", "whether the node grants services CAP_SYS_RESOURCE: auto (this process's), true or false")
	return cmd
}

func runRender(ctx context.Context, g *Globals, o *RenderOptions) error {
	// Refuse the live host before reading anything else.
	if err := render.CheckRoot(g.Root); err != nil {
		return err
	}
	root, err := filepath.Abs(g.Root)
	if err != nil {
		return usageErrorf("--root %s: %v", g.Root, err)
	}
	if o.NodeIP != "" && net.ParseIP(o.NodeIP) == nil {
		return usageErrorf("--node-ip %q is not an IP address", o.NodeIP)
	}
	switch o.Cgroup {
	case "auto", "v1", "v2":
	default:
		return usageErrorf("--cgroup %q: use auto, v1 or v2", o.Cgroup)
	}
	switch o.CapSysResource {
	case "auto", "true", "false":
	default:
		return usageErrorf("--cap-sys-resource %q: use auto, true or false", o.CapSysResource)
	}
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	// No log file: it would land in the image.
	ctx, log, done, err := startRun(ctx, g, false)
	if err != nil {
		return err
	}
	defer done()
	entry := log.WithFields(logrus.Fields{"cluster": cfg.Cluster.ID, "nodePool": cfg.NodePool.ID, "root": root})

	nodeIP := o.NodeIP
	if nodeIP == "" {
		ip, err := install.NodeIP(cfg)
		if err != nil {
			return usageErrorf("find the node IP from this machine's route to the API server %s: %v; pass --node-ip with the address the node will have", cfg.Cluster.APIServer.Endpoint, err)
		}
		nodeIP = ip.String()
		entry.WithField("nodeIP", nodeIP).Info("node IP: this machine's route to the API server (--node-ip to choose)")
	}
	cgroupV1 := o.Cgroup == "v1"
	if o.Cgroup == "auto" {
		mode := host.Root{Dir: "/"}.Cgroup()
		cgroupV1 = mode != host.CgroupV2
		entry.WithField("cgroup", mode).Info("cgroup: this machine's (--cgroup to choose)")
	}
	capRes := o.CapSysResource == "true"
	if o.CapSysResource == "auto" {
		if capRes, err = containerd.HasCapSysResource(); err != nil {
			return fmt.Errorf("%w; pass --cap-sys-resource true or false", err)
		}
		entry.WithField("capSysResource", capRes).Info("CAP_SYS_RESOURCE: this process's (--cap-sys-resource to choose)")
	}

	progress, progressDone := newProgress(g)
	defer progressDone()
	res, err := render.Run(ctx, render.Options{
		Config:         cfg,
		Root:           host.Root{Dir: root},
		Log:            entry,
		NodeIP:         nodeIP,
		CgroupV1:       cgroupV1,
		CapSysResource: capRes,
		ArtifactsDir:   o.ArtifactsDir,
		Arch:           o.Arch,
		Progress:       progress,
		PhaseProgress:  g.Stderr,
		Site:           g.Site,
	})
	if err != nil {
		return err
	}
	if g.Output == "json" || g.Output == "yaml" {
		return writeResult(g, res)
	}
	_, err = g.Stdout.Write(render.FormatText(res))
	return err
}

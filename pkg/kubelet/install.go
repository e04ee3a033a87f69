package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/images"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Component is the name in stamps, logs and the journal.
const Component = "kubelet"

// Artifact is the name of the kubelet binary artifact.
const Artifact = "kubelet"

// Deps is what installing the kubelet needs from its caller.
type Deps struct {
	component.Deps
	// NodeIP is the source address of the route to the API server.
	NodeIP string
	// CgroupDriver is the runtime's driver; "" means systemd.
	CgroupDriver string
	// CgroupV1 is true on a cgroup v1 or hybrid host.
	CgroupV1 bool
	// Ready waits for the kubelet's health; nil means WaitHealthy on
	// HealthzURL. It is called only once the kubelet has its own
	// credentials: before that, TLS bootstrap may wait for the API server,
	// and the join phase waits for it, saying which step stalls.
	Ready func(ctx context.Context) error
}

// Dirs are the directories the kubelet component creates.
var Dirs = []string{"/etc/kubernetes", "/etc/kubernetes/pki", StaticPodPath, RootDir, CertDir}

// KubectlArtifact is the optional kubectl of the kubelet's version: when
// the manifest lists it, it goes to KubectlPath for the user script
// (`kubectl uncordon "$NODE_NAME"` with the node's own credentials).
const KubectlArtifact = "kubectl"

// Plan is the kubelet binary, and kubectl when the artifacts have one.
func Plan(artifacts map[string]string) binary.Plan {
	items := []binary.Item{{Artifact: Artifact, Dst: BinaryPath, Mode: 0o755}}
	if _, ok := artifacts[KubectlArtifact]; ok {
		items = append(items, binary.Item{Artifact: KubectlArtifact, Dst: KubectlPath, Mode: 0o755})
	}
	return binary.Plan{Component: Component, Items: items}
}

// dirs are the directories the kubelet component creates for artifacts.
func dirs(artifacts map[string]string) []string {
	if _, ok := artifacts[KubectlArtifact]; ok {
		return append(append([]string(nil), Dirs...), paths.ToolsDir)
	}
	return Dirs
}

// Files renders every file the kubelet component writes but its binary, by
// host path, and the warnings to give the operator. Pure but for reading
// the pause image's name from its artifact.
func Files(d Deps) (map[string]host.File, []string, error) {
	c := d.Config
	sandbox, err := images.SandboxImage(d.Artifacts)
	if err != nil {
		return nil, nil, err
	}
	r, err := Render(Params{
		KubernetesVersion: c.Cluster.KubernetesVersion,
		Runtime:           c.NodePool.Runtime.Kind,
		NodeIP:            d.NodeIP,
		Labels:            c.NodePool.Labels,
		Taints:            c.NodePool.Taints,
		CgroupDriver:      d.CgroupDriver,
		CgroupV1:          d.CgroupV1,
		SandboxImage:      sandbox,
		ExtraArgs:         c.NodePool.Kubelet.ExtraArgs,
		ExtraConfig:       c.NodePool.Kubelet.ExtraConfig,
	})
	if err != nil {
		return nil, nil, err
	}
	if c.Cluster.APIServer.CAData == "" && len(c.Cluster.APIServer.CACertHashes) > 0 {
		// install's preflight phase reads the CA from cluster-info, checks
		// it against the pins and passes it on as caData.
		return nil, nil, fmt.Errorf("the cluster CA has not been read from the API server's cluster-info yet: cluster.apiServer.caCertHashes only pin it; run install without skipping its preflight phase, or set cluster.apiServer.caData")
	}
	ca, err := DecodeCA(c.Cluster.APIServer.CAData)
	if err != nil {
		return nil, nil, err
	}
	kc, err := RenderBootstrapKubeconfig(KubeconfigParams{
		ClusterName: c.Cluster.ID, Server: c.Cluster.APIServer.Endpoint,
		CAData: c.Cluster.APIServer.CAData, Token: c.Cluster.BootstrapToken,
	})
	if err != nil {
		return nil, nil, err
	}
	unit, err := RenderUnit()
	if err != nil {
		return nil, nil, err
	}
	v := c.KubernetesVersion()
	drop, err := RenderDropIn(RuntimeUnit(c.NodePool.Runtime.Kind, v.Minor))
	if err != nil {
		return nil, nil, err
	}
	files := map[string]host.File{
		ConfigPath:                               {Data: r.Config, Mode: 0o644},
		FlagsPath:                                {Data: r.FlagsEnv, Mode: 0o644},
		BootstrapKubeconfig:                      {Data: kc, Mode: 0o600}, // holds the bootstrap token
		CAPath:                                   {Data: ca, Mode: 0o644},
		systemd.UnitPath(UnitName):               {Data: unit, Mode: 0o644},
		systemd.DropInPath(UnitName, DropInName): {Data: drop, Mode: 0o644},
	}
	proxy, _, err := proxyDropIns(d)
	if err != nil {
		return nil, nil, err
	}
	maps.Copy(files, proxy)
	return files, r.Warnings, nil
}

// proxyDropIns is the kubelet's proxy drop-in (for what it runs that
// reaches out: credential providers), or the path of one to remove when no
// proxy is configured. The API server and the node are in its NO_PROXY.
func proxyDropIns(d Deps) (map[string]host.File, []string, error) {
	return site.DropIns(d.Site, site.NodeOf(d.Config, d.NodeIP), UnitName)
}

// Service is kubelet.service with every file it reads.
func Service(root host.Root) systemd.Service {
	files := []string{root.Path(BinaryPath)}
	for _, p := range []string{ConfigPath, FlagsPath, BootstrapKubeconfig, CAPath, systemd.UnitPath(UnitName), systemd.DropInPath(UnitName, DropInName), site.DropInPath(UnitName)} {
		files = append(files, root.Path(p))
	}
	return systemd.Service{Unit: UnitName, Files: files}
}

// Layout is everything the kubelet component puts on the host.
func Layout(d Deps) (binary.Layout, error) {
	files, warnings, err := Files(d)
	if err != nil {
		return binary.Layout{}, err
	}
	_, absent, err := proxyDropIns(d)
	if err != nil {
		return binary.Layout{}, err
	}
	return binary.Layout{
		Dirs: dirs(d.Artifacts), Plan: Plan(d.Artifacts), Files: files, Absent: absent, Units: []string{UnitName},
		VersionKey: KeyVersion, Version: d.Config.Cluster.KubernetesVersion,
		Services: []systemd.Service{Service(d.Root)}, Warnings: warnings,
	}, nil
}

// installer is the kubelet's install side for d. It waits for the
// kubelet's health only once the kubelet has its own credentials: before
// that, TLS bootstrap may wait for the API server, and the join phase waits
// for it, saying which step stalls.
func (d Deps) installer() binary.Installer {
	log := d.Deps
	log.Log = log.Log.WithField("component", Component)
	return binary.Installer{Deps: log, Layout: func() (binary.Layout, error) { return Layout(d) }, Ready: func(ctx context.Context) error {
		if _, err := os.Stat(d.Root.Path(paths.KubeletKubeconfig)); errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if d.Ready != nil {
			return d.Ready(ctx)
		}
		return WaitHealthy(ctx, HealthzURL, d.Log)
	}}
}

// WriteFiles puts the kubelet's files in place and starts nothing: its
// directories, its binary when binaries is set (render without artifacts
// has none), and Files; it records them, the unit, and the version of a
// binary it installed. It returns the host paths it changed.
func WriteFiles(d Deps, binaries bool) ([]string, error) { return d.installer().WriteFiles(binaries) }

// Install makes the kubelet installed, configured, enabled and running. It
// restarts it only when a file it reads changed.
func Install(ctx context.Context, d Deps) (bool, error) { return d.installer().Install(ctx) }

// Satisfied reports whether Install would change nothing.
func Satisfied(ctx context.Context, d Deps) (bool, error) { return d.installer().Satisfied(ctx) }

package containerd

import (
	"context"
	"fmt"
	"maps"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/images"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Component is the name in stamps, logs and the journal.
const Component = "containerd"

// Artifact names containerd's component installs from.
const (
	ArtifactContainerd = "containerd"
	ArtifactRunc       = "runc"
	ArtifactCNIPlugins = "cni-plugins"
	ArtifactCrictl     = "crictl"
)

// Deps is what installing containerd needs from its caller.
type Deps struct {
	component.Deps
	// CapSysResource reports whether services may raise limits and lower
	// OOM scores; nil means HasCapSysResource.
	CapSysResource func() (bool, error)
	// Ready waits for containerd to answer; nil means WaitReady on the
	// socket under Root.
	Ready func(ctx context.Context) error
}

// Plan is the files installed from artifacts: containerd, its shim and
// ctr, runc, the CNI plugins, and crictl when the manifest has it.
func Plan(artifacts map[string]string) binary.Plan {
	p := binary.Plan{Component: Component, Items: []binary.Item{
		{Artifact: ArtifactContainerd, From: "bin/containerd", Dst: BinDir + "/containerd", Mode: 0o755},
		{Artifact: ArtifactContainerd, From: "bin/containerd-shim-runc-v2", Dst: BinDir + "/containerd-shim-runc-v2", Mode: 0o755},
		{Artifact: ArtifactContainerd, From: "bin/ctr", Dst: BinDir + "/ctr", Mode: 0o755},
		{Artifact: ArtifactRunc, Dst: RuncPath, Mode: 0o755},
		{Artifact: ArtifactCNIPlugins, From: "*", Dst: CNIBinDir, Mode: 0o755},
	}}
	if _, ok := artifacts[ArtifactCrictl]; ok {
		p.Items = append(p.Items, CrictlItem)
	}
	return p
}

// CrictlItem installs crictl; the artifact is a tar.gz holding "crictl".
var CrictlItem = binary.Item{Artifact: ArtifactCrictl, From: "crictl", Dst: BinDir + "/crictl", Mode: 0o755}

// Dirs are the directories containerd's component creates.
func Dirs(c *config.NodePoolJoin) []string {
	return []string{c.NodePool.Runtime.DataDir, "/etc/containerd", CertsDir, CNIConfDir, CNIBinDir}
}

// Files renders every file containerd's component writes but its
// binaries, by host path, and the warnings to give the operator: with a
// hosts.toml per registry of the site. Pure but for reading the pause
// image's name from its artifact, the mirrors' CAs under Root (checked)
// and asking CapSysResource.
func Files(d Deps) (map[string]host.File, []string, error) {
	capf := d.CapSysResource
	if capf == nil {
		capf = HasCapSysResource
	}
	sysRes, err := capf()
	if err != nil {
		return nil, nil, err
	}
	sandbox, err := images.SandboxImage(d.Artifacts)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := RenderConfig(ConfigParams{
		Version:             d.Config.NodePool.Runtime.Version,
		Root:                d.Config.NodePool.Runtime.DataDir,
		SandboxImage:        sandbox,
		SystemdCgroup:       true, // the kubelet's cgroupDriver is systemd
		RestrictOOMScoreAdj: !sysRes,
	})
	if err != nil {
		return nil, nil, err
	}
	unit, err := RenderUnit(UnitParams{RaiseLimits: sysRes})
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	if !sysRes {
		warnings = append(warnings, "no CAP_SYS_RESOURCE: containerd gets restrict_oom_score_adj = true and its unit keeps the default limits; give the host that capability for production nodes")
	}
	files, err := hostsFiles(d.Root, d.Site)
	if err != nil {
		return nil, nil, err
	}
	files[ConfigPath] = host.File{Data: cfg, Mode: 0o644}
	files[systemd.UnitPath(UnitName)] = host.File{Data: unit, Mode: 0o644}
	proxy, _, err := proxyDropIns(d)
	if err != nil {
		return nil, nil, err
	}
	maps.Copy(files, proxy)
	return files, warnings, nil
}

// proxyDropIns is containerd's proxy drop-in (it pulls the pods' images),
// or the path of one to remove when no proxy is configured.
func proxyDropIns(d Deps) (map[string]host.File, []string, error) {
	return site.DropIns(d.Site, site.NodeOf(d.Config, d.NodeIP), UnitName)
}

// Service is containerd's unit with every file it reads.
func Service(root host.Root) systemd.Service {
	files := []string{root.Path(ConfigPath), root.Path(systemd.UnitPath(UnitName)), root.Path(site.DropInPath(UnitName)), root.Path(RuncPath)}
	for _, b := range Binaries {
		files = append(files, root.Path(b))
	}
	return systemd.Service{Unit: UnitName, Files: files}
}

// Layout is everything containerd's component puts on the host.
func Layout(d Deps) (binary.Layout, error) {
	if d.Config.NodePool.Runtime.Kind != config.RuntimeContainerd {
		return binary.Layout{}, fmt.Errorf("containerd install called for runtime %q", d.Config.NodePool.Runtime.Kind)
	}
	files, warnings, err := Files(d)
	if err != nil {
		return binary.Layout{}, err
	}
	_, absent, err := proxyDropIns(d)
	if err != nil {
		return binary.Layout{}, err
	}
	return binary.Layout{
		Dirs: Dirs(d.Config), Plan: Plan(d.Artifacts), Files: files, Absent: absent, Units: []string{UnitName},
		VersionKey: KeyVersion, Version: d.Config.NodePool.Runtime.Version,
		Services: []systemd.Service{Service(d.Root)}, Warnings: warnings,
		Sweeps: []binary.Sweep{hostsSweep},
	}, nil
}

// installer is containerd's install side for d.
func (d Deps) installer() binary.Installer {
	log := d.Deps
	log.Log = log.Log.WithField("component", Component)
	return binary.Installer{Deps: log, Layout: func() (binary.Layout, error) { return Layout(d) }, Ready: func(ctx context.Context) error { return ready(ctx, d) }}
}

// WriteFiles puts containerd's files in place and starts nothing: its
// directories, its binaries when binaries is set (render without artifacts
// has none), and Files; it records them, the unit, and the version of
// binaries it installed. It returns the host paths it changed.
func WriteFiles(d Deps, binaries bool) ([]string, error) { return d.installer().WriteFiles(binaries) }

// Install makes containerd installed, configured, enabled and answering.
// It writes only what differs and restarts containerd only when a file it
// reads changed (running containers survive: KillMode=process).
func Install(ctx context.Context, d Deps) (bool, error) { return d.installer().Install(ctx) }

// Satisfied reports whether Install would change nothing: binaries are the
// artifacts', rendered files are current, and the service runs with them.
func Satisfied(ctx context.Context, d Deps) (bool, error) { return d.installer().Satisfied(ctx) }

func ready(ctx context.Context, d Deps) error {
	if d.Ready != nil {
		return d.Ready(ctx)
	}
	return WaitReady(ctx, d.Root.Path(paths.ContainerdSocket), d.Log)
}

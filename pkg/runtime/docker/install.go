package docker

import (
	"context"
	"fmt"
	"maps"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/images"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/wait"
)

// Component is the name in stamps, logs and the journal.
const Component = "docker"

// Artifact names docker's component installs from.
const (
	ArtifactDocker     = "docker"
	ArtifactCRIDockerd = "cri-dockerd"
)

// Deps is what installing docker needs from its caller.
type Deps struct {
	component.Deps
	// CapSysResource: nil means containerd.HasCapSysResource.
	CapSysResource func() (bool, error)
	// Ready waits for dockerd; nil means WaitReady on the socket under Root.
	Ready func(ctx context.Context) error
}

// Plan is the files installed from artifacts.
func Plan(c *config.NodePoolJoin, artifacts map[string]string) binary.Plan {
	p := binary.Plan{Component: Component}
	for _, b := range DockerBinaries {
		p.Items = append(p.Items, binary.Item{Artifact: ArtifactDocker, From: b, Dst: BinDir + "/" + b, Mode: 0o755})
	}
	p.Items = append(p.Items, binary.Item{Artifact: containerd.ArtifactCNIPlugins, From: "*", Dst: CNIBinDir, Mode: 0o755})
	if c.NeedsCRIDockerd() {
		p.Items = append(p.Items, binary.Item{Artifact: ArtifactCRIDockerd, Dst: BinDir + "/cri-dockerd", Mode: 0o755})
	}
	if _, ok := artifacts[containerd.ArtifactCrictl]; ok {
		p.Items = append(p.Items, containerd.CrictlItem)
	}
	return p
}

// Dirs are the directories docker's component creates.
func Dirs(c *config.NodePoolJoin) []string {
	return []string{c.NodePool.Runtime.DataDir, "/etc/docker", CNIConfDir, CNIBinDir}
}

// Units are the units installed, sockets first (the order to start them).
func Units(c *config.NodePoolJoin) []string {
	u := []string{DockerSocket, DockerService}
	if c.NeedsCRIDockerd() {
		u = append(u, CRIDockerdSocketU, CRIDockerdService)
	}
	return u
}

// Files renders every file docker's component writes but its binaries,
// by host path, 0644 but for the runc wrapper (0755, written only without
// CAP_SYS_RESOURCE), and the warnings to give the operator; with the
// site's Docker Hub mirrors in daemon.json and their CAs in CertsDir. Pure
// but for reading the pause image's name from its artifact, the mirrors'
// CAs under Root (checked) and asking CapSysResource.
func Files(d Deps) (map[string]host.File, []string, error) {
	capf := d.CapSysResource
	if capf == nil {
		capf = containerd.HasCapSysResource
	}
	sysRes, err := capf()
	if err != nil {
		return nil, nil, err
	}
	sandbox, err := images.SandboxImage(d.Artifacts)
	if err != nil {
		return nil, nil, err
	}
	up := UnitParams{RaiseLimits: sysRes, SandboxImage: sandbox}
	mirrors, err := SiteMirrors(d.Root, d.Site)
	if err != nil {
		return nil, nil, err
	}
	files := mirrors.Files
	add := func(p string, b []byte, err error) error {
		files[p] = host.File{Data: b, Mode: 0o644}
		return err
	}
	dj, err := RenderDaemonJSON(DaemonParams{DataRoot: d.Config.NodePool.Runtime.DataDir, RestrictOOMScoreAdj: !sysRes,
		RegistryMirrors: mirrors.Mirrors, InsecureRegistries: mirrors.Insecure})
	if err := add(DaemonJSONPath, dj, err); err != nil {
		return nil, nil, err
	}
	if !sysRes {
		w, err := RenderRuncWrapper(BinDir + "/runc")
		if err != nil {
			return nil, nil, err
		}
		files[RuncWrapperPath] = host.File{Data: w, Mode: 0o755}
	}
	b, err := RenderDockerService(up)
	if err := add(systemd.UnitPath(DockerService), b, err); err != nil {
		return nil, nil, err
	}
	b, err = RenderDockerSocket()
	if err := add(systemd.UnitPath(DockerSocket), b, err); err != nil {
		return nil, nil, err
	}
	if d.Config.NeedsCRIDockerd() {
		b, err = RenderCRIDockerdService(up)
		if err := add(systemd.UnitPath(CRIDockerdService), b, err); err != nil {
			return nil, nil, err
		}
		b, err = RenderCRIDockerdSocket()
		if err := add(systemd.UnitPath(CRIDockerdSocketU), b, err); err != nil {
			return nil, nil, err
		}
	}
	proxy, _, err := proxyDropIns(d)
	if err != nil {
		return nil, nil, err
	}
	maps.Copy(files, proxy)
	warnings := mirrors.Warnings
	if !sysRes {
		warnings = append(warnings, "no CAP_SYS_RESOURCE: the docker units keep the default limits and OOM score, and containers run through "+RuncWrapperPath+", which raises a negative OOM score adjustment to dockerd's own; give the host that capability for production nodes")
	}
	return files, warnings, nil
}

// proxyDropIns is dockerd's proxy drop-in, or the path of one to remove
// when no proxy is configured. dockerd alone pulls images; cri-dockerd asks
// it to over its socket and makes no outbound connection of its own, so it
// gets none.
func proxyDropIns(d Deps) (map[string]host.File, []string, error) {
	return site.DropIns(d.Site, site.NodeOf(d.Config, d.NodeIP), DockerService)
}

// services are the units with the files each reads.
func services(root host.Root, c *config.NodePoolJoin) []systemd.Service {
	var out []systemd.Service
	for _, u := range Units(c) {
		files := []string{root.Path(systemd.UnitPath(u))}
		switch u {
		case DockerService:
			files = append(files, root.Path(DaemonJSONPath), root.Path(site.DropInPath(DockerService)))
			for _, b := range DockerBinaries {
				files = append(files, root.Path(BinDir+"/"+b))
			}
		case CRIDockerdService:
			files = append(files, root.Path(BinDir+"/cri-dockerd"))
		}
		out = append(out, systemd.Service{Unit: u, Files: files})
	}
	return out
}

// Layout is everything docker's component puts on the host.
func Layout(d Deps) (binary.Layout, error) {
	if d.Config.NodePool.Runtime.Kind != config.RuntimeDocker {
		return binary.Layout{}, fmt.Errorf("docker install called for runtime %q", d.Config.NodePool.Runtime.Kind)
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
		Dirs: Dirs(d.Config), Plan: Plan(d.Config, d.Artifacts), Files: files, Absent: absent, Units: Units(d.Config),
		VersionKey: KeyVersion, Version: d.Config.NodePool.Runtime.Version,
		Services: services(d.Root, d.Config), Warnings: warnings,
		Sweeps: []binary.Sweep{caSweep},
	}, nil
}

// installer is docker's install side for d.
func (d Deps) installer() binary.Installer {
	log := d.Deps
	log.Log = log.Log.WithField("component", Component)
	ready := d.Ready
	if ready == nil {
		ready = func(ctx context.Context) error { return WaitReady(ctx, d.Root.Path(paths.DockerSocket), d.Log) }
	}
	return binary.Installer{Deps: log, Layout: func() (binary.Layout, error) { return Layout(d) }, Ready: ready}
}

// WriteFiles puts docker's files in place and starts nothing: its
// directories, its binaries when binaries is set (render without artifacts
// has none), and Files; it records them, the units, and the version of
// binaries it installed. It returns the host paths it changed.
func WriteFiles(d Deps, binaries bool) ([]string, error) { return d.installer().WriteFiles(binaries) }

// Install makes docker (and cri-dockerd when Kubernetes needs it)
// installed, configured, enabled and answering; restarts only what reads a
// changed file.
func Install(ctx context.Context, d Deps) (bool, error) { return d.installer().Install(ctx) }

// Satisfied reports whether Install would change nothing.
func Satisfied(ctx context.Context, d Deps) (bool, error) { return d.installer().Satisfied(ctx) }

// Ping asks dockerd's /_ping on socket once.
func Ping(ctx context.Context, socket string) error {
	c := unixClient(socket, 0)
	defer c.CloseIdleConnections()
	return wait.Says(ctx, c, "docker /_ping", "http://docker/_ping", "OK")
}

// WaitReady polls /_ping with backoff until dockerd answers or ctx ends.
func WaitReady(ctx context.Context, socket string, log logrus.FieldLogger) error {
	last, err := wait.Answer(ctx, func(ctx context.Context) error { return Ping(ctx, socket) }, func(error) {
		log.WithFields(logrus.Fields{"component": Component, "socket": socket}).Info("waiting for dockerd to answer")
	})
	if err != nil {
		return fmt.Errorf("dockerd did not answer on %s (last error: %v): see `journalctl -u %s`: %w", socket, last, DockerService, err)
	}
	return nil
}

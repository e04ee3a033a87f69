// Package docker installs, starts and describes dockerd (with the
// containerd and runc of the docker tarball) and, for Kubernetes >= 1.24,
// cri-dockerd, which stands in for the dockershim the kubelet lost.
package docker

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Paths and units on the host that docker's component owns.
const (
	DaemonJSONPath    = "/etc/docker/daemon.json"
	BinDir            = "/usr/local/bin"
	CRIDockerdSocket  = "/run/cri-dockerd.sock"
	DockerService     = "docker.service"
	DockerSocket      = "docker.socket"
	CRIDockerdService = "cri-docker.service"
	CRIDockerdSocketU = "cri-docker.socket"
	CNIBinDir         = "/opt/cni/bin"
	CNIConfDir        = "/etc/cni/net.d"
	// RuncWrapperPath is the runtime docker runs containers with on a host
	// without CAP_SYS_RESOURCE (RenderRuncWrapper); RuncWrapperName is its
	// name in daemon.json.
	RuncWrapperPath = BinDir + "/add2tkectl-runc"
	RuncWrapperName = "add2tkectl-runc"
)

// DockerBinaries are the executables taken from the docker tarball (its
// members sit under docker/ in the official static archive).
var DockerBinaries = []string{"dockerd", "docker", "containerd", "containerd-shim-runc-v2", "ctr", "runc", "docker-init", "docker-proxy"}

// DaemonParams is what daemon.json depends on.
type DaemonParams struct {
	// DataRoot is nodePool.runtime.dataDir.
	DataRoot string
	// LogMaxSize and LogMaxFile bound each container's json-file log.
	LogMaxSize string
	LogMaxFile int
	// RestrictOOMScoreAdj makes RuncWrapperName docker's default runtime:
	// the host lacks CAP_SYS_RESOURCE (see RenderRuncWrapper).
	RestrictOOMScoreAdj bool
	// RegistryMirrors are Docker Hub's mirrors, in order; InsecureRegistries
	// the host:port of those plain HTTP or not verified (SiteMirrors).
	RegistryMirrors, InsecureRegistries []string
}

// RenderDaemonJSON renders /etc/docker/daemon.json. The systemd cgroup
// driver matches the kubelet's. A Kubernetes node's pods get their network
// from CNI through cri-dockerd, never from docker: no docker0 bridge
// ("bridge": "none"; its 172.17.0.0/16 collides with many on-premises
// networks) and no docker iptables rules ("iptables": false; docker's own
// FORWARD chains and policy would sit in front of the CNI's).
func RenderDaemonJSON(p DaemonParams) ([]byte, error) {
	if !strings.HasPrefix(p.DataRoot, "/") {
		return nil, fmt.Errorf("docker data directory %q must be an absolute path (nodePool.runtime.dataDir)", p.DataRoot)
	}
	if p.LogMaxSize == "" {
		p.LogMaxSize = "100m"
	}
	if p.LogMaxFile == 0 {
		p.LogMaxFile = 5
	}
	doc := map[string]any{
		"data-root":  p.DataRoot,
		"exec-opts":  []string{"native.cgroupdriver=systemd"},
		"log-driver": "json-file",
		"log-opts":   map[string]string{"max-size": p.LogMaxSize, "max-file": fmt.Sprint(p.LogMaxFile)},
		"bridge":     "none",
		"iptables":   false,
	}
	if len(p.RegistryMirrors) > 0 {
		doc["registry-mirrors"] = p.RegistryMirrors
	}
	if len(p.InsecureRegistries) > 0 {
		doc["insecure-registries"] = p.InsecureRegistries
	}
	if p.RestrictOOMScoreAdj {
		doc["runtimes"] = map[string]any{RuncWrapperName: map[string]string{"path": RuncWrapperPath}}
		doc["default-runtime"] = RuncWrapperName
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

var header = []string{"Installed by add2tkectl; a re-run of install overwrites changes."}

// RenderRuncWrapper renders the runtime docker uses on a host without
// CAP_SYS_RESOURCE, where no process may lower its oom_score_adj: runc
// fails every container that asks for a negative score, and cri-dockerd
// asks -998 for each pod sandbox. Docker has no counterpart of
// containerd's restrict_oom_score_adj, so this does the same: it raises a
// negative oomScoreAdj in the bundle's config.json to the caller's own
// score, then runs runc (at runc). Only install's no-CAP_SYS_RESOURCE
// path writes it, with a warning.
func RenderRuncWrapper(runc string) ([]byte, error) {
	if !strings.HasPrefix(runc, "/") || strings.ContainsAny(runc, " \t\"'\\$`") {
		return nil, fmt.Errorf("runc path %q must be a plain absolute path", runc)
	}
	return []byte(`#!/bin/sh
# ` + header[0] + `
# This host lacks CAP_SYS_RESOURCE: a container may not get a lower
# oom_score_adj than its runtime's, so a negative oomScoreAdj is raised to
# this process's own score (as containerd's restrict_oom_score_adj does).
own=$(cat /proc/self/oom_score_adj) || exit 1
bundle=
prev=
for a in "$@"; do
	case $prev in --bundle | -b) bundle=$a ;; esac
	case $a in --bundle=*) bundle=${a#--bundle=} ;; esac
	prev=$a
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
	sed -i -E 's/"oomScoreAdj": *-[0-9]+/"oomScoreAdj":'"$own"'/' "$bundle/config.json" || exit 1
fi
exec ` + runc + ` "$@"
`), nil
}

// UnitParams is what the docker and cri-dockerd units depend on.
type UnitParams struct {
	// RaiseLimits sets Limit* and OOMScoreAdjust, which systemd cannot
	// apply without CAP_SYS_RESOURCE (the unit would fail to start).
	RaiseLimits bool
	// SandboxImage is the pause image cri-dockerd builds pods on.
	SandboxImage string
}

func limits(p UnitParams, oom string) []systemd.Directive {
	d := []systemd.Directive{systemd.D("TasksMax", "infinity"), systemd.D("Delegate", "yes"), systemd.D("KillMode", "process")}
	if p.RaiseLimits {
		d = append(d, systemd.D("LimitNOFILE", "1048576"), systemd.D("LimitNPROC", "infinity"),
			systemd.D("LimitCORE", "infinity"), systemd.D("OOMScoreAdjust", oom))
	}
	return d
}

// RenderDockerService renders docker.service; dockerd takes its API socket
// from docker.socket and runs the containerd of the docker tarball itself.
func RenderDockerService(p UnitParams) ([]byte, error) {
	return systemd.Unit{Comment: header, Sections: []systemd.Section{
		{Name: "Unit", Directives: []systemd.Directive{
			systemd.D("Description", "Docker Application Container Engine"),
			systemd.D("Documentation", "https://docs.docker.com"),
			systemd.D("After", "network-online.target "+DockerSocket),
			systemd.D("Wants", "network-online.target"),
			systemd.D("Requires", DockerSocket),
			systemd.D("StartLimitBurst", "3"),
			systemd.D("StartLimitIntervalSec", "60"),
		}},
		{Name: "Service", Directives: append([]systemd.Directive{
			systemd.D("Type", "notify"),
			systemd.D("ExecStart", BinDir+"/dockerd -H fd:// --config-file "+DaemonJSONPath),
			systemd.D("ExecReload", "/bin/kill -s HUP $MAINPID"),
			systemd.D("TimeoutStartSec", "0"),
			systemd.D("Restart", "always"),
			systemd.D("RestartSec", "2"),
		}, limits(p, "-500")...)},
		{Name: "Install", Directives: []systemd.Directive{systemd.D("WantedBy", "multi-user.target")}},
	}}.Render()
}

// RenderDockerSocket renders docker.socket (root only: no docker group).
func RenderDockerSocket() ([]byte, error) {
	return socketUnit("Docker Socket for the API", DockerService, paths.DockerSocket)
}

// RenderCRIDockerdSocket renders cri-docker.socket.
func RenderCRIDockerdSocket() ([]byte, error) {
	return socketUnit("CRI Docker Socket for the API", CRIDockerdService, CRIDockerdSocket)
}

func socketUnit(desc, service, listen string) ([]byte, error) {
	return systemd.Unit{Comment: header, Sections: []systemd.Section{
		{Name: "Unit", Directives: []systemd.Directive{systemd.D("Description", desc), systemd.D("PartOf", service)}},
		{Name: "Socket", Directives: []systemd.Directive{
			systemd.D("ListenStream", listen),
			systemd.D("SocketMode", "0660"),
			systemd.D("SocketUser", "root"),
			systemd.D("SocketGroup", "root"),
		}},
		{Name: "Install", Directives: []systemd.Directive{systemd.D("WantedBy", "sockets.target")}},
	}}.Render()
}

// RenderCRIDockerdService renders cri-docker.service.
func RenderCRIDockerdService(p UnitParams) ([]byte, error) {
	if p.SandboxImage == "" || strings.ContainsAny(p.SandboxImage, " \t\"'\\$") {
		return nil, fmt.Errorf("cri-dockerd: sandbox image %q is not a plain image reference", p.SandboxImage)
	}
	return systemd.Unit{Comment: header, Sections: []systemd.Section{
		{Name: "Unit", Directives: []systemd.Directive{
			systemd.D("Description", "CRI Interface for Docker Application Container Engine"),
			systemd.D("Documentation", "https://mirantis.github.io/cri-dockerd/"),
			systemd.D("After", "network-online.target "+DockerService),
			systemd.D("Wants", "network-online.target"),
			systemd.D("Requires", CRIDockerdSocketU+" "+DockerService),
			systemd.D("StartLimitBurst", "3"),
			systemd.D("StartLimitIntervalSec", "60"),
		}},
		{Name: "Service", Directives: append([]systemd.Directive{
			systemd.D("Type", "notify"),
			systemd.D("ExecStart", BinDir+"/cri-dockerd --container-runtime-endpoint fd:// --network-plugin=cni"+
				" --cni-bin-dir="+CNIBinDir+" --cni-conf-dir="+CNIConfDir+" --pod-infra-container-image="+p.SandboxImage),
			systemd.D("ExecReload", "/bin/kill -s HUP $MAINPID"),
			systemd.D("TimeoutSec", "0"),
			systemd.D("Restart", "always"),
			systemd.D("RestartSec", "2"),
		}, limits(p, "-500")...)},
		{Name: "Install", Directives: []systemd.Directive{systemd.D("WantedBy", "multi-user.target")}},
	}}.Render()
}

// Package containerd installs, starts and describes containerd with runc
// and the CNI plugins: binaries from the verified artifacts, config.toml
// rendered for the containerd version, and its systemd unit.
package containerd

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Paths on the host that containerd's component owns.
const (
	UnitName   = "containerd.service"
	ConfigPath = "/etc/containerd/config.toml"
	StateDir   = "/run/containerd"
	BinDir     = "/usr/local/bin"
	RuncPath   = "/usr/local/sbin/runc"
	CNIBinDir  = "/opt/cni/bin"
	CNIConfDir = "/etc/cni/net.d"
	// Endpoint is the CRI endpoint the kubelet talks to.
	Endpoint = "unix://" + paths.ContainerdSocket
)

// Binaries are the host paths of the executables installed from the
// containerd artifact.
var Binaries = []string{BinDir + "/containerd", BinDir + "/containerd-shim-runc-v2", BinDir + "/ctr"}

// ConfigParams is everything config.toml depends on.
type ConfigParams struct {
	// Version of containerd, e.g. "1.7.22" or "v2.1.4": 1.x gets config
	// version 2, 2.x version 3.
	Version string
	// Root is containerd's data directory (nodePool.runtime.dataDir).
	Root string
	// SandboxImage is the pause image pods are built on.
	SandboxImage string
	// SystemdCgroup must match the kubelet's cgroupDriver (systemd).
	SystemdCgroup bool
	// RestrictOOMScoreAdj is needed where containerd lacks
	// CAP_SYS_RESOURCE: runc cannot lower oom_score_adj to -998 for
	// sandboxes there and every pod fails (E2E-FACTS.md).
	RestrictOOMScoreAdj bool
}

// ParseVersion returns major and minor of "1.7.22", "v2.1.4" or "2.0".
func ParseVersion(v string) (major, minor int, err error) {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(v), "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("containerd version %q: want MAJOR.MINOR[.PATCH], e.g. 1.7.22 (set nodePool.runtime.version)", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("containerd version %q: want MAJOR.MINOR[.PATCH], e.g. 1.7.22 (set nodePool.runtime.version)", v)
	}
	if major < 1 || major > 2 {
		return 0, 0, fmt.Errorf("containerd version %q is not supported: use 1.6, 1.7 or 2.x", v)
	}
	return major, minor, nil
}

var configTemplates = template.Must(template.New("").Funcs(template.FuncMap{"q": tomlString}).Parse(`
{{- define "v2" -}}
# Rendered by add2tkectl for containerd {{.Version}}; a re-run of install overwrites changes.
version = 2
root = {{q .Root}}
state = {{q .State}}

[grpc]
  address = {{q .Socket}}

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = {{q .SandboxImage}}
    restrict_oom_score_adj = {{.RestrictOOMScoreAdj}}

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = {{q .Runc}}
          SystemdCgroup = {{.SystemdCgroup}}

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = {{q .CNIBinDir}}
      conf_dir = {{q .CNIConfDir}}

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = {{q .CertsDir}}
{{end}}
{{- define "v3" -}}
# Rendered by add2tkectl for containerd {{.Version}}; a re-run of install overwrites changes.
version = 3
root = {{q .Root}}
state = {{q .State}}

[grpc]
  address = {{q .Socket}}

[plugins]
  [plugins."io.containerd.cri.v1.images"]
    [plugins."io.containerd.cri.v1.images".pinned_images]
      sandbox = {{q .SandboxImage}}

    [plugins."io.containerd.cri.v1.images".registry]
      config_path = {{q .CertsDir}}

  [plugins."io.containerd.cri.v1.runtime"]
    restrict_oom_score_adj = {{.RestrictOOMScoreAdj}}

    [plugins."io.containerd.cri.v1.runtime".containerd]
      default_runtime_name = "runc"

      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
          BinaryName = {{q .Runc}}
          SystemdCgroup = {{.SystemdCgroup}}

    [plugins."io.containerd.cri.v1.runtime".cni]
{{- if .BinDirs}}
      bin_dirs = [{{q .CNIBinDir}}]
{{- else}}
      bin_dir = {{q .CNIBinDir}}
{{- end}}
      conf_dir = {{q .CNIConfDir}}
{{end}}`))

// RenderConfig renders /etc/containerd/config.toml.
func RenderConfig(p ConfigParams) ([]byte, error) {
	major, minor, err := ParseVersion(p.Version)
	if err != nil {
		return nil, err
	}
	if p.Root == "" || !strings.HasPrefix(p.Root, "/") {
		return nil, fmt.Errorf("containerd data directory %q must be an absolute path (nodePool.runtime.dataDir)", p.Root)
	}
	if p.SandboxImage == "" {
		return nil, fmt.Errorf("containerd config: no sandbox image (ship an image/pause artifact)")
	}
	data := struct {
		ConfigParams
		State, Socket, Runc, CNIBinDir, CNIConfDir, CertsDir string
		BinDirs                                              bool
	}{p, StateDir, paths.ContainerdSocket, RuncPath, CNIBinDir, CNIConfDir, CertsDir,
		// bin_dir became bin_dirs in 2.1 and was dropped in 2.4.
		major == 2 && minor >= 1}
	name := "v2"
	if major == 2 {
		name = "v3"
	}
	var b bytes.Buffer
	if err := configTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// UnitParams is what containerd.service depends on.
type UnitParams struct {
	// RaiseLimits sets LimitNOFILE, LimitNPROC, LimitCORE and
	// OOMScoreAdjust; without CAP_SYS_RESOURCE systemd cannot raise a hard
	// limit or lower the OOM score, and the unit would fail to start.
	RaiseLimits bool
}

// RenderUnit renders containerd.service. KillMode=process keeps the shims
// (and so the pods) running across a containerd restart; Delegate=yes lets
// it manage the cgroups below its own.
func RenderUnit(p UnitParams) ([]byte, error) {
	svc := []systemd.Directive{
		systemd.D("ExecStartPre", "-/sbin/modprobe overlay"),
		systemd.D("ExecStart", BinDir+"/containerd --config "+ConfigPath),
		systemd.D("Type", "notify"),
		systemd.D("Delegate", "yes"),
		systemd.D("KillMode", "process"),
		systemd.D("Restart", "always"),
		systemd.D("RestartSec", "5"),
		systemd.D("TasksMax", "infinity"),
	}
	if p.RaiseLimits {
		svc = append(svc,
			systemd.D("LimitNPROC", "infinity"),
			systemd.D("LimitCORE", "infinity"),
			systemd.D("LimitNOFILE", "1048576"),
			systemd.D("OOMScoreAdjust", "-999"))
	}
	return systemd.Unit{
		Comment: []string{"Installed by add2tkectl; a re-run of install overwrites changes."},
		Sections: []systemd.Section{
			{Name: "Unit", Directives: []systemd.Directive{
				systemd.D("Description", "containerd container runtime"),
				systemd.D("Documentation", "https://containerd.io"),
				systemd.D("After", "network.target local-fs.target dbus.service"),
			}},
			{Name: "Service", Directives: svc},
			{Name: "Install", Directives: []systemd.Directive{systemd.D("WantedBy", "multi-user.target")}},
		},
	}.Render()
}

package kubelet

import (
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// RenderUnit renders kubelet.service; how it runs (flags, runtime) is in
// the drop-in, so the unit itself never changes.
func RenderUnit() ([]byte, error) {
	return systemd.Unit{
		Comment: []string{"Installed by add2tkectl; a re-run of install overwrites changes."},
		Sections: []systemd.Section{
			{Name: "Unit", Directives: []systemd.Directive{
				systemd.D("Description", "kubelet: The Kubernetes Node Agent"),
				systemd.D("Documentation", "https://kubernetes.io/docs/"),
				systemd.D("Wants", "network-online.target"),
				systemd.D("After", "network-online.target"),
			}},
			{Name: "Service", Directives: []systemd.Directive{
				systemd.D("ExecStart", BinaryPath),
				systemd.D("Restart", "always"),
				systemd.D("StartLimitInterval", "0"),
				systemd.D("RestartSec", "10"),
			}},
			{Name: "Install", Directives: []systemd.Directive{systemd.D("WantedBy", "multi-user.target")}},
		},
	}.Render()
}

// RuntimeUnit is the unit the kubelet talks to for runtime and minor.
func RuntimeUnit(runtime string, minor int) string {
	switch {
	case runtime == config.RuntimeDocker && minor >= minorNoDockershim:
		return "cri-docker.service"
	case runtime == config.RuntimeDocker:
		return "docker.service"
	}
	return "containerd.service"
}

// RenderDropIn renders the drop-in that orders the kubelet after its
// runtime and starts it with the flags of FlagsPath. No secret is on the
// command line: the token lives only in the bootstrap kubeconfig (0600).
func RenderDropIn(runtimeUnit string) ([]byte, error) {
	return systemd.Unit{
		Comment: []string{"Installed by add2tkectl; a re-run of install overwrites changes."},
		Sections: []systemd.Section{
			{Name: "Unit", Directives: []systemd.Directive{
				systemd.D("Wants", runtimeUnit),
				systemd.D("After", runtimeUnit),
			}},
			{Name: "Service", Directives: []systemd.Directive{
				systemd.D("EnvironmentFile", FlagsPath),
				systemd.D("ExecStart", ""),
				systemd.D("ExecStart", BinaryPath+" $"+FlagsVar),
			}},
		},
	}.Render()
}

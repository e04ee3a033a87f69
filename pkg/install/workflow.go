package install

import "github.com/add2tkectl/add2tkectl/pkg/phase"

// Install's phase names, for the packages that record under them (render
// writes what these phases would, under their names).
const (
	PhasePreflight  = "preflight"
	PhaseDownload   = "download"
	PhaseHost       = "host"
	PhaseRuntime    = "runtime"
	PhaseImages     = "images"
	PhaseKubelet    = "kubelet"
	PhaseJoin       = "join"
	PhaseUserscript = "userscript"
)

// Workflow is install's phases in the order they run: the one list of
// them. Phases binds their work to it; --skip-phases, install's help,
// render's phases, status's table of phases and the dry-run plan derive
// from it.
var Workflow = phase.Workflow{
	{Name: PhasePreflight, Description: "check that this host can join the cluster"},
	{Name: PhaseDownload, Description: "download and verify the signed artifacts"},
	{Name: PhaseHost, Description: "load kernel modules, set sysctls, turn swap off"},
	{Name: PhaseRuntime, Description: "install the container runtime"},
	{Name: PhaseImages, Description: "import the offline images (pause, cilium)"},
	{Name: PhaseKubelet, Description: "install and configure kubelet"},
	{Name: PhaseJoin, Description: "register the node with its labels, taints and cordon state"},
	{Name: PhaseUserscript, Description: "run the node pool's user script"},
}

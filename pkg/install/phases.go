// Package install is the install workflow: the ordered list of its phases,
// read top to bottom. The phase runner (pkg/phase) does the rest.
package install

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Deps is what the install phases need, passed in explicitly: no globals,
// no hidden "/".
type Deps struct {
	Config *config.NodePoolJoin
	Root   host.Root
	Log    logrus.FieldLogger

	// IgnorePreflightErrors names checks whose failure is only a warning ("all" for every one).
	IgnorePreflightErrors []string
	// ArtifactsDir, when set, is the offline source of artifacts.
	ArtifactsDir string
	// Timeout bounds each wait (the node to join, a service to come up).
	Timeout time.Duration
}

// Phases returns the install phases in the order they run.
func Phases(d Deps) []phase.Phase {
	return []phase.Phase{
		{
			Name:        "preflight",
			Description: "check that this host can join the cluster",
			Run:         notYet,
		},
		{
			Name:        "download",
			Description: "download and verify the signed artifacts",
			Run:         notYet,
		},
		{
			Name:        "host",
			Description: "load kernel modules, set sysctls, turn swap off",
			Run:         notYet,
		},
		{
			Name:        "runtime",
			Description: "install the container runtime (" + d.runtimeKind() + ")",
			Run:         notYet,
		},
		{
			Name:        "images",
			Description: "import the offline images (pause, cilium)",
			Run:         notYet,
		},
		{
			Name:        "kubelet",
			Description: "install and configure kubelet",
			Run:         notYet,
		},
		{
			Name:        "join",
			Description: "register the node with its labels, taints and cordon state",
			Run:         notYet,
		},
		{
			Name:        "userscript",
			Description: "run the node pool's user script",
			Run:         notYet,
		},
	}
}

// errNotYet is the honest answer of a phase whose capability has not been
// wired in; the runner prefixes the phase name.
var errNotYet = errors.New("not implemented yet")

func notYet(context.Context, phase.Recorder) error { return errNotYet }

func (d Deps) runtimeKind() string {
	if d.Config == nil || d.Config.NodePool.Runtime.Kind == "" {
		return config.RuntimeContainerd
	}
	return d.Config.NodePool.Runtime.Kind
}

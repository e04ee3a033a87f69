package uninstall

import (
	"context"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Names are the uninstall steps in order.
var Names = []string{"node", "pods", "mounts", "network", "host", "files", "state"}

// Steps returns the steps of uninstall in the order they run. Each one
// lists what it would do (its plan; empty means already done, which is
// what makes a second uninstall a no-op and --dry-run a list) and does it.
// Every step works from what is on the host and in the journal, so it also
// cleans up after an install that failed or was killed half-way.
func (u *Uninstall) Steps() []phase.Phase {
	return []phase.Phase{
		u.step("node", "cordon and mark the Node (or delete it with --kubeconfig)", u.planNode, u.runNode),
		u.step("pods", "remove the pods' containers, stop and disable kubelet and the runtime", u.planPods, u.runPods),
		u.step("mounts", "unmount everything under the kubelet and runtime directories, deepest first", u.planMounts, u.runMounts),
		u.step("network", "remove CNI/cilium interfaces and Kubernetes iptables chains", u.planNetwork, u.runNetwork),
		u.step("host", "revert sysctls and swap, remove modules-load and sysctl files", u.planHost, u.runHost),
		u.step("files", "remove the journal's files and directories, and what the services left", u.planFiles, u.runFiles),
		u.step("state", "remove add2tkectl's state and the journal, last", u.planState, u.runState),
	}
}

// step turns a plan and a run into a phase: satisfied means nothing planned.
func (u *Uninstall) step(name, desc string, plan func(context.Context) ([]string, error), run func(context.Context) error) phase.Phase {
	return phase.Phase{
		Name:        name,
		Description: desc,
		Satisfied: func(ctx context.Context) (bool, error) {
			actions, err := plan(ctx)
			u.setPlan(name, actions)
			return len(actions) == 0 && err == nil, err
		},
		Run: func(ctx context.Context, _ phase.Recorder) error { return run(ctx) },
	}
}

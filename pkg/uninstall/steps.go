package uninstall

import (
	"context"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Workflow is uninstall's steps in the order they run, as kubeadm reset
// orders its own: the one list of them; the help and the dry-run plan
// derive from it.
var Workflow = phase.Workflow{
	{Name: "node", Description: "cordon and mark the Node (or delete it with --kubeconfig)"},
	{Name: "pods", Description: "remove the pods' containers, stop and disable kubelet and the runtime"},
	{Name: "mounts", Description: "unmount everything under the kubelet and runtime directories, deepest first"},
	{Name: "network", Description: "remove CNI/cilium interfaces and Kubernetes iptables chains"},
	{Name: "host", Description: "revert sysctls and swap, remove modules-load and sysctl files"},
	{Name: "files", Description: "remove the journal's files and directories, and what the services left"},
	{Name: "state", Description: "remove add2tkectl's state and the journal, last"},
}

// Steps returns the steps of uninstall in the order they run. Each one
// lists what it would do (its plan; empty means already done, which is
// what makes a second uninstall a no-op and --dry-run a list) and does it.
// Every step works from what is on the host and in the journal, so it also
// cleans up after an install that failed or was killed half-way.
func (u *Uninstall) Steps() []phase.Phase {
	return Workflow.Phases(map[string]phase.Work{
		"node":    u.step("node", u.planNode, u.runNode),
		"pods":    u.step("pods", u.planPods, u.runPods),
		"mounts":  u.step("mounts", u.planMounts, u.runMounts),
		"network": u.step("network", u.planNetwork, u.runNetwork),
		"host":    u.step("host", u.planHost, u.runHost),
		"files":   u.step("files", u.planFiles, u.runFiles),
		"state":   u.step("state", u.planState, u.runState),
	})
}

// step turns a plan and a run into a step's work: satisfied means nothing
// planned.
func (u *Uninstall) step(name string, plan func(context.Context) ([]string, error), run func(context.Context) error) phase.Work {
	return phase.Work{
		Satisfied: func(ctx context.Context) (bool, error) {
			actions, err := plan(ctx)
			u.setPlan(name, actions)
			return len(actions) == 0 && err == nil, err
		},
		Run: func(ctx context.Context, _ phase.Recorder) error { return run(ctx) },
	}
}

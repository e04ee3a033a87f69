package phase_test

import (
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/golden"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

func TestFormatTextPlan(t *testing.T) {
	res := &phase.Result{DryRun: true, Phases: []phase.PhaseResult{
		{Name: "preflight", Description: "check that this host can join", Status: phase.StatusPlanned},
		{Name: "download", Description: "download and verify the artifacts", Status: phase.StatusUnchanged},
		{Name: "host", Description: "kernel modules, sysctls, swap", Status: phase.StatusPlanned, Error: "cannot tell whether already satisfied: open /proc/swaps: permission denied"},
		{Name: "userscript", Description: "run the node pool's user script", Status: phase.StatusSkipped},
	}}
	golden.Assert(t, "plan.txt", phase.FormatText(res))
}

func TestFormatTextSummary(t *testing.T) {
	res := &phase.Result{Changed: true, DurationSeconds: 75.25, NotRun: []string{"join", "userscript"}, Phases: []phase.PhaseResult{
		{Name: "preflight", Status: phase.StatusDone, DurationSeconds: 0.0421},
		{Name: "download", Status: phase.StatusUnchanged, DurationSeconds: 0.002},
		{Name: "host", Status: phase.StatusSkipped},
		{Name: "kubelet", Status: phase.StatusFailed, DurationSeconds: 73.18, Error: "boom"},
	}}
	golden.Assert(t, "summary.txt", phase.FormatText(res))
}

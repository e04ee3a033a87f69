package phase_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestFormatTextPlan(t *testing.T) {
	res := &phase.Result{DryRun: true, Phases: []phase.PhaseResult{
		{Name: "preflight", Description: "check that this host can join", Status: phase.StatusPlanned},
		{Name: "download", Description: "download and verify the artifacts", Status: phase.StatusUnchanged},
		{Name: "host", Description: "kernel modules, sysctls, swap", Status: phase.StatusPlanned, Error: "cannot tell whether already satisfied: open /proc/swaps: permission denied"},
		{Name: "userscript", Description: "run the node pool's user script", Status: phase.StatusSkipped},
	}}
	golden(t, "plan.txt", phase.FormatText(res))
}

func TestFormatTextSummary(t *testing.T) {
	res := &phase.Result{Changed: true, DurationSeconds: 75.25, NotRun: []string{"join", "userscript"}, Phases: []phase.PhaseResult{
		{Name: "preflight", Status: phase.StatusDone, DurationSeconds: 0.0421},
		{Name: "download", Status: phase.StatusUnchanged, DurationSeconds: 0.002},
		{Name: "host", Status: phase.StatusSkipped},
		{Name: "kubelet", Status: phase.StatusFailed, DurationSeconds: 73.18, Error: "boom"},
	}}
	golden(t, "summary.txt", phase.FormatText(res))
}

package phase

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testWorkflow = Workflow{{"fetch", "fetch the things"}, {"apply", "apply them"}, {"report", "say so"}}

func TestWorkflowBindsWorkInItsOwnOrder(t *testing.T) {
	ran := false
	ps := testWorkflow.Phases(map[string]Work{
		"report": {Run: func(context.Context, Recorder) error { ran = true; return nil }},
		"fetch":  {Detail: "from COS"},
	})
	var got []string
	for _, p := range ps {
		got = append(got, p.Name+": "+p.Description)
	}
	want := []string{"fetch: fetch the things (from COS)", "apply: apply them", "report: say so"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
	if err := ps[2].Run(context.Background(), nil); err != nil || !ran {
		t.Errorf("report's work was not bound: %v", err)
	}
}

func TestWorkForNoStepIsABug(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("work for an unknown step did not panic")
		}
	}()
	testWorkflow.Phases(map[string]Work{"fecth": {}})
}

func TestWorkflowChecksSkipNames(t *testing.T) {
	if err := testWorkflow.CheckNames([]string{"apply", " report"}); err != nil {
		t.Errorf("valid names: %v", err)
	}
	var ue *UnknownPhaseError
	if err := testWorkflow.CheckNames([]string{"aply"}); !errors.As(err, &ue) || len(ue.Valid) != 3 {
		t.Errorf("misspelt name: %v", err)
	}
}

func TestWorkflowPickKeepsItsOrderAndHelpAligns(t *testing.T) {
	if got := testWorkflow.Pick("report", "fetch").Names(); !cmp.Equal(got, []string{"fetch", "report"}) {
		t.Errorf("Pick = %v", got)
	}
	want := "  fetch   fetch the things\n  apply   apply them\n  report  say so\n"
	if got := testWorkflow.Help(); got != want {
		t.Errorf("Help:\n%s\nwant:\n%s", got, want)
	}
}

package phase

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
)

// TestRunWithoutJournalWritesNoState: a run with NoJournal (uninstall) runs
// its phases and records nothing, so a phase may delete the journal's
// directory without the runner writing it back.
func TestRunWithoutJournalWritesNoState(t *testing.T) {
	root := t.TempDir()
	ran := 0
	phases := []Phase{{
		Name: "a",
		Run: func(_ context.Context, rec Recorder) error {
			ran++
			return rec.File("/etc/x", "00")
		},
	}, {
		Name: "b",
		Run:  func(context.Context, Recorder) error { ran++; return errors.New("boom") },
	}}
	res, err := Run(context.Background(), phases, Options{Root: root, NoJournal: true})
	if err == nil || ran != 2 || res.Phases[0].Status != StatusDone || res.Phases[1].Status != StatusFailed {
		t.Fatalf("run = %+v, %v (ran %d)", res, err, ran)
	}
	if _, err := os.Stat(journalFile(root)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("journal written by a NoJournal run: %v", err)
	}
}

package phase_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// helperJournalLoop rewrites the journal as fast as it can, forever: a
// phase that records many files, then changes a value in a loop.
func helperJournalLoop(dir string) {
	phases := []phase.Phase{{Name: "loop", Description: "rewrite the journal", Run: func(ctx context.Context, rec phase.Recorder) error {
		for i := 0; i < 300; i++ {
			if err := rec.File(fmt.Sprintf("/etc/add2tke-test/file-%03d.conf", i), fmt.Sprintf("%064d", i)); err != nil {
				return err
			}
		}
		fmt.Println("READY")
		for i := 0; ; i++ {
			if err := rec.Set("iteration", strconv.Itoa(i)); err != nil {
				return err
			}
		}
	}}}
	_, err := phase.Run(context.Background(), phases, phase.Options{Root: dir})
	fmt.Fprintln(os.Stderr, "helper: the run returned:", err)
	os.Exit(4)
}

// TestJournalAlwaysParsesAfterAKillAtARandomInstant: a process rewriting
// the journal in a loop is SIGKILLed at random instants; every time, the
// journal on disk is a complete one, private (0600), and the next run goes
// on from it.
func TestJournalAlwaysParsesAfterAKillAtARandomInstant(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, paths.JournalPath)
	const kills = 25
	looped := 0
	for n := 0; n < kills; n++ {
		cmd, _ := startHelper(t, "journal-loop", dir, "READY")
		time.Sleep(time.Duration(rand.IntN(30_000)) * time.Microsecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		j, err := phase.LoadJournal(dir)
		if err != nil {
			t.Fatalf("kill %d: the journal does not load: %v", n, err)
		}
		rec := j.Phase("loop")
		if rec == nil || len(rec.Files) != 300 || rec.Status != phase.StatusRunning {
			t.Fatalf("kill %d: loop record %+v; want all 300 files, running", n, rec)
		}
		if it, ok := rec.Values["iteration"]; ok {
			if _, err := strconv.Atoi(it); err != nil {
				t.Fatalf("kill %d: iteration %q", n, it)
			}
			looped++
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("kill %d: state.json mode %v (%v), want 0600", n, st.Mode().Perm(), err)
		}
	}
	if looped == 0 {
		t.Error("no run got as far as a loop iteration: the kills came too early to test anything")
	}
}

// TestJournalIsPrivateOverAWiderOldFile: a state.json left at 0644 (by an
// older version, or an operator's cp) becomes 0600 at the next write.
func TestJournalIsPrivateOverAWiderOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, paths.JournalPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"schemaVersion":1,"phases":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	phases := []phase.Phase{{Name: "kubelet", Description: "kubelet", Run: func(ctx context.Context, rec phase.Recorder) error {
		return rec.Set("kubelet.version", "v1.35.4")
	}}}
	if _, err := phase.Run(context.Background(), phases, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
}

// TestForgetDropsAFileFromEveryPhase: a file a later run removed (a
// proxy drop-in once the proxy is gone) leaves the journal, whichever phase
// recorded it, and the other records stay.
func TestForgetDropsAFileFromEveryPhase(t *testing.T) {
	dir := t.TempDir()
	record := func(name string, run func(rec phase.Recorder) error) {
		t.Helper()
		ph := []phase.Phase{{Name: name, Description: name, Run: func(_ context.Context, rec phase.Recorder) error { return run(rec) }}}
		if _, err := phase.Run(context.Background(), ph, phase.Options{Root: dir}); err != nil {
			t.Fatal(err)
		}
	}
	record("a", func(rec phase.Recorder) error {
		if err := rec.File("/etc/x.d/proxy.conf", "aa"); err != nil {
			return err
		}
		return rec.File("/etc/kept", "bb")
	})
	record("b", func(rec phase.Recorder) error { return rec.File("/etc/x.d/proxy.conf", "cc") })
	record("b", func(rec phase.Recorder) error {
		f, ok := rec.(phase.Forgetter)
		if !ok {
			t.Fatal("the journal's recorder cannot forget")
		}
		return f.Forget("/etc/x.d/proxy.conf")
	})
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range j.Files() {
		got = append(got, f.Path)
	}
	if len(got) != 1 || got[0] != "/etc/kept" {
		t.Errorf("journal files after Forget: %v, want only /etc/kept", got)
	}
}

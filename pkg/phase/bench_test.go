package phase_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// BenchmarkRecorderFile measures one journaled record (encode, write,
// fsync, rename) with a journal already listing 50 files.
func BenchmarkRecorderFile(b *testing.B) {
	dir := b.TempDir()
	run := phase.Phase{Name: "kubelet", Description: "kubelet", Run: func(ctx context.Context, rec phase.Recorder) error {
		for i := range 50 {
			if err := rec.File(fmt.Sprintf("/etc/kubernetes/f%02d", i), "sum"); err != nil {
				return err
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := rec.File(fmt.Sprintf("/etc/kubernetes/f%02d", i%50), fmt.Sprint(i)); err != nil {
				return err
			}
		}
		return nil
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{run}, phase.Options{Root: dir}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSatisfiedRun measures a second install: eight phases, all
// already satisfied, so only the checks and the journal updates remain.
func BenchmarkSatisfiedRun(b *testing.B) {
	dir := b.TempDir()
	var phases []phase.Phase
	for _, n := range []string{"preflight", "download", "host", "runtime", "images", "kubelet", "join", "userscript"} {
		phases = append(phases, phase.Phase{Name: n, Description: n,
			Satisfied: func(context.Context) (bool, error) { return true, nil },
			Run:       func(context.Context, phase.Recorder) error { return nil }})
	}
	for i := 0; i < b.N; i++ {
		if _, err := phase.Run(context.Background(), phases, phase.Options{Root: dir}); err != nil {
			b.Fatal(err)
		}
	}
}

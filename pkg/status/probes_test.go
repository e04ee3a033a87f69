package status

import (
	"context"
	"os"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// A file a component stamp describes is trusted while its size and mtime
// are the stamp's, and hashed (and reported) once they change.
func TestStampedFileChangeIsDetected(t *testing.T) {
	h := newHost(t)
	const p = "/usr/local/bin/ctr"
	_, err := phase.Run(context.Background(), []phase.Phase{{Name: "runtime", Run: func(_ context.Context, rec phase.Recorder) error {
		if _, err := h.root.WriteFile(rec, p, []byte("binary"), 0o755); err != nil {
			return err
		}
		sum, err := binary.SumFile(h.root.Path(p))
		if err != nil {
			return err
		}
		return binary.SaveStamp(h.root, rec, "containerd", binary.Stamp{Files: map[string]binary.Sum{p: sum}})
	}}}, phase.Options{Root: h.root.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := gather(t, h.deps()); err != nil {
		t.Fatalf("intact stamped file: %v %+v", err, rep.Drift.Files)
	}
	f, err := os.OpenFile(h.root.Path(p), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte("x"))
	_ = f.Close()
	rep, _ := gather(t, h.deps())
	if !contains(rep.Problems, "drift: file /usr/local/bin/ctr modified") {
		t.Errorf("problems %q", rep.Problems)
	}
}

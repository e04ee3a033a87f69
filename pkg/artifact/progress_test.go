package artifact

import (
	"bytes"
	"strings"
	"testing"
)

// writes keeps each Write call apart: mpb writes a frame (the lines it
// took, then the bars) in one call.
type writes struct{ calls []string }

func (w *writes) Write(b []byte) (int, error) {
	w.calls = append(w.calls, string(b))
	return len(b), nil
}

// A line written while a bar is running goes out in one of mpb's frames,
// with the bars drawn again below it, never alone between two frames
// (which on a terminal leaves a stale copy of the bars above the line);
// once the bars are gone the writer goes straight to the output.
func TestProgressWriterPrintsAboveTheBars(t *testing.T) {
	out := &writes{}
	p := NewProgress(out, true)
	bar := p.Begin(Artifact{Name: "kubelet", Size: 100})
	bar.SetCurrent(50)
	const line = "retrying after a dropped connection\n"
	if _, err := p.Writer().Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	bar.Done(Result{})
	p.Wait()
	if _, err := p.Writer().Write([]byte("after the bars\n")); err != nil {
		t.Fatal(err)
	}
	var frames []string
	for _, c := range out.calls {
		if strings.Contains(c, line) {
			frames = append(frames, c)
		}
	}
	if len(frames) != 1 || strings.Count(frames[0], line) != 1 {
		t.Fatalf("the line went out in %d writes, want once:\n%q", len(frames), out.calls)
	}
	if f := frames[0]; !strings.HasPrefix(f, line) || !strings.Contains(f[len(line):], "kubelet") {
		t.Errorf("the line is not followed by the bars in its frame: %q", f)
	}
	if last := out.calls[len(out.calls)-1]; last != "after the bars\n" {
		t.Errorf("a line after Wait does not go straight to the output: last write %q", last)
	}
}

func TestLineProgressWriterIsTheOutput(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, false)
	p.Begin(Artifact{Name: "kubelet", Size: 1024}).Done(Result{CacheHit: true})
	if _, err := p.Writer().Write([]byte("a warning\n")); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.HasPrefix(got, "artifact kubelet  /: fetching 1.0 KiB\nartifact kubelet: ok 1.0 KiB in ") || !strings.HasSuffix(got, " (cache hit)\na warning\n") {
		t.Errorf("output %q, want the artifact's two lines, then the warning", got)
	}
}

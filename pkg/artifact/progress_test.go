package artifact

import (
	"bytes"
	"strings"
	"testing"
)

// A line written while bars are on screen goes through mpb, which clears
// the bars, prints the line and draws them again below it; after Wait the
// writer goes straight to the terminal.
func TestProgressWriterPrintsAboveTheBars(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, true)
	bar := p.Begin(Artifact{Name: "kubelet", Size: 100})
	bar.SetCurrent(50)
	if _, err := p.Writer().Write([]byte("retrying after a dropped connection\n")); err != nil {
		t.Fatal(err)
	}
	bar.Done(Result{})
	p.Wait()
	if _, err := p.Writer().Write([]byte("after the bars\n")); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if n := strings.Count(s, "retrying after a dropped connection\n"); n != 1 {
		t.Fatalf("the line printed %d times, want once:\n%q", n, s)
	}
	// mpb prints intercepted lines after clearing its bars and draws the
	// bars again after the line: a bar must follow it.
	after := s[strings.Index(s, "retrying after a dropped connection\n"):]
	if !strings.Contains(after, "kubelet") {
		t.Errorf("no bar drawn below the line:\n%q", s)
	}
	if !strings.HasSuffix(s, "after the bars\n") {
		t.Errorf("a line after Wait does not go straight to the output:\n%q", s)
	}
}

func TestLineProgressWriterIsTheOutput(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, false)
	p.Begin(Artifact{Name: "kubelet", Size: 1024}).Done(Result{CacheHit: true})
	if _, err := p.Writer().Write([]byte("a warning\n")); err != nil {
		t.Fatal(err)
	}
	want := "artifact kubelet  /: fetching 1.0 KiB\nartifact kubelet: ok 1.0 KiB in 0s (cache hit)\na warning\n"
	if got := out.String(); got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// Package golden compares rendered bytes with files under testdata/, and
// rewrites them when tests run with -update.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/ with the current output")

// Assert compares got with testdata/<name> and fails with a line diff.
func Assert(t *testing.T, name string, got []byte) {
	t.Helper()
	AssertFile(t, filepath.Join("testdata", name), got)
}

// AssertFile compares got with the golden file at p (relative to the
// test's package directory, like testdata/).
func AssertFile(t *testing.T, p string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden file %s (run `go test -run %s -update` to create it): %v", p, t.Name(), err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the rendering (-golden +rendered); run with -update if the change is intended:\n%s",
			p, cmp.Diff(string(want), string(got)))
	}
}

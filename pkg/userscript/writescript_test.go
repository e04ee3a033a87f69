package userscript

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWriteScriptRunsNothing: the script lands 0700 in a 0700 directory,
// both recorded, and nothing runs: no log, no result, no marker.
func TestWriteScriptRunsNothing(t *testing.T) {
	d, j := testDeps(t, "#!/bin/bash\necho ran >> \"$0.ran\"\n")
	changed, err := WriteScript(d.Root, j, d.Config.NodePool.UserScript)
	if err != nil || !changed {
		t.Fatalf("WriteScript = %v, %v", changed, err)
	}
	if got := read(t, d.Root.Path(ScriptPath)); got != d.Config.NodePool.UserScript {
		t.Errorf("script = %q", got)
	}
	if m := mode(t, d.Root.Path(ScriptPath)); m != 0o700 {
		t.Errorf("script mode %v", m)
	}
	if m := mode(t, d.Root.Path(Dir)); m != 0o700 {
		t.Errorf("dir mode %v", m)
	}
	if _, ok := j.files[ScriptPath]; !ok || !slices.Contains(j.dirs, Dir) {
		t.Errorf("journal: files %v dirs %v", j.files, j.dirs)
	}
	ents, err := os.ReadDir(d.Root.Path(Dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, filepath.Join(Dir, e.Name()))
		}
		t.Errorf("files in %s: %v, want the script alone", Dir, names)
	}
	if changed, err := WriteScript(d.Root, j, d.Config.NodePool.UserScript); err != nil || changed {
		t.Errorf("second WriteScript = %v, %v", changed, err)
	}
}
